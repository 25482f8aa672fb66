"""The seed's example workflows, in MISP's format (tests/data/workflows/), run by the real CLI
against the real module server.

(a) block publishing when the event or any attribute is tlp:red or PAP:RED;
(b) on tlp:red, e-mail the administrators about a potential leak and block the publication,
    otherwise announce the event on Mattermost, Teams and Telegram.
"""

from __future__ import annotations

import json

import pytest

from tests.support.cli import misp_workflow
from tests.support.data import (
    SMALL_EVENT,
    WORKFLOWS,  # noqa: E402
)

SEED_A = WORKFLOWS / "seed-a-block-red-publishing.json"
SEED_B = WORKFLOWS / "seed-b-leak-guard-notify.json"
EVENT = json.loads(SMALL_EVENT.read_text())
UUID = EVENT["Event"]["uuid"]


def tagged(event_tags=(), attribute_tags=()) -> dict:
    data = json.loads(json.dumps(EVENT))
    data["Event"]["Tag"] += [{"name": t, "colour": "#cc0033", "exportable": True} for t in event_tags]
    data["Event"]["Attribute"][6]["Tag"] = [{"name": t, "colour": "#cc0033", "exportable": True} for t in attribute_tags]
    return data


def run(server, tmp_path, workflow, data, *args):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(data))
    done = misp_workflow("run", workflow, "--data", path, "--modules-url", server.url, "--json", *args)
    assert done.returncode in (0, 1, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_seed_workflows_validate_clean(module_server):
    for workflow in (SEED_A, SEED_B):
        done = misp_workflow("validate", workflow, "--modules-url", module_server.url, "--json")
        report = json.loads(done.stdout)
        unknown = [f for f in report["findings"] if f["code"] == "unknown-module"]
        assert [f for f in report["findings"] if f not in unknown] == [], report
        if workflow == SEED_A:
            assert done.returncode == 0 and report["valid"]


@pytest.mark.parametrize("event_tags, attribute_tags, node", [
    (["tlp:red"], [], "3"), (["PAP:RED"], [], "3"), ([], ["PAP:RED"], "5"), ([], ["tlp:red"], "5"),
    (["tlp:red"], ["PAP:RED"], "3"),
])
def test_seed_a_blocks_red_publishing(module_server, tmp_path, event_tags, attribute_tags, node):
    code, doc = run(module_server, tmp_path, SEED_A, tagged(event_tags, attribute_tags))
    assert code == 1 and doc["outcome"] == "blocked" and doc["executed"] == [node]
    where = "the event is" if node == "3" else "an attribute is"
    assert doc["message"] == (f"Node `stop-execution` ({node}) from Workflow `Block publishing of tlp:red / PAP:RED data` "
                              f"(11) returned the following error: Publishing of event {UUID} blocked: {where} "
                              f"tagged tlp:red or PAP:RED")
    assert doc["caller_log"]["title"] == "Publishing stopped by a blocking workflow."


def test_seed_a_lets_other_events_publish(module_server, tmp_path):
    code, doc = run(module_server, tmp_path, SEED_A, tagged(["tlp:amber", "PAP:GREEN"], ["tlp:green"]))
    assert code == 0 and doc["outcome"] == "success" and doc["executed"] == []
    assert [(n["node"], n["output"]) for n in doc["nodes"]] == [("2", "output_2"), ("4", "output_2")]


# Seed (b). Its notification nodes (send-mail, mattermost, ms-teams-webhook, telegram-send-alert)
# are scripted with --mock: the run must not e-mail or post anywhere, and what is checked here is
# the workflow's own logic (which branch runs, what blocks). A node whose module the server does
# not offer fails to load instead, which on this blocking path never stops the walk either.
NOTIFY = ["--mock", "4=true", "--mock", "6=true", "--mock", "7=true", "--mock", "8=true"]


@pytest.mark.parametrize("event_tags, attribute_tags", [(["tlp:red"], []), ([], ["tlp:red"])])
def test_seed_b_mails_the_admins_and_blocks_tlp_red(module_server, tmp_path, event_tags, attribute_tags):
    code, doc = run(module_server, tmp_path, SEED_B, tagged(event_tags, attribute_tags), *NOTIFY)
    assert code == 1 and doc["outcome"] == "blocked" and doc["executed"] == ["4", "5"]
    assert doc["nodes"][-2]["module"] == "send-mail" and doc["nodes"][-2]["status"] in ("success", "loading_error")
    assert doc["errors"][-1] == ("Node `stop-execution` (5) from Workflow `tlp:red leak guard, else notify` (12) "
                                 f"returned the following error: Publishing blocked: tlp:red data in {UUID}; "
                                 "the administrators were notified")
    decisions = [(n["node"], n["output"]) for n in doc["nodes"] if n["kind"] == "logic"]
    assert decisions == ([("2", "output_1")] if event_tags else [("2", "output_2"), ("3", "output_1")])


def test_seed_b_announces_other_events_on_three_channels(module_server, tmp_path):
    code, doc = run(module_server, tmp_path, SEED_B, tagged(["tlp:amber"], ["PAP:RED"]), *NOTIFY)
    assert code == 0 and doc["outcome"] == "success"
    assert doc["executed"] == ["6", "7", "8"]  # each non-blocking on a blocking path: all three run
    assert [n["module"] for n in doc["nodes"] if n["kind"] == "action"] == [
        "mattermost", "ms-teams-webhook", "telegram-send-alert"]
    assert all(n["status"] in ("success", "loading_error") for n in doc["nodes"] if n["kind"] == "action")
