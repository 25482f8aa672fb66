"""MISP's ``run-workflow`` action and ad-hoc workflows, end to end: the real ``misp-workflow``
CLI (``--workflows``) against the real module server, and the MISP fake for the REST searches."""

from __future__ import annotations

import json

import pytest

from tests.support import graphs as G
from tests.support.cli import misp_workflow, run_json
from tests.support.data import SMALL_EVENT

EVENT_ID = "42"
EVENT_UUID = "57c4445b-c548-4654-af0b-4be3950d210f"
TAG = "sub:ran"


def _event() -> dict:
    doc = json.loads(SMALL_EVENT.read_text())
    doc["Event"]["id"] = EVENT_ID
    return doc


def _write(folder, doc, name):
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


def adhoc(trigger_id: str, name: str, nodes: list[dict], scope: str | None = "passed_roaming_data",
          filters: str | None = None, wid: int = 10, enabled: bool | None = True) -> dict:
    """An ad-hoc workflow export: its trigger node (1) leads to node 2."""
    params: dict = {}
    if scope is not None:
        params["scope"] = scope
    if filters is not None:
        params["filters"] = filters
    trigger = G.node(1, trigger_id, "trigger", params, {"output_1": [2]}, blocking=True, misp_core_format=True,
                     name=f"Ad-Hoc Trigger {trigger_id}")
    trigger["inputs"] = []
    doc = G.workflow([trigger, *nodes], trigger_id=trigger_id, wid=wid, name=name)
    if enabled is not None:
        doc["Workflow"]["enabled"] = enabled
    return doc


def tagger(nid: int = 2, tag: str = TAG) -> dict:
    return G.node(nid, "tag_operation", params={"scope": "event", "action": "add", "locality": "local",
                                                "tags": [tag]})


def runner_wf(labels, input_data: str | None = "roaming_data", filters: dict | None = None, then=(3,)) -> dict:
    params: dict = {"workflows": labels}
    if input_data is not None:
        params["input_data"] = input_data
    return G.workflow([G.trigger(1, "event-publish", [2]),
                       G.node(2, "run-workflow", params=params, outputs={"output_1": list(then)}, filters=filters),
                       G.node(3, "push-zmq")])


LABEL_A = "adhoc_tagger :: Tag it"


@pytest.fixture
def folder(tmp_path):
    sets = tmp_path / "workflows"
    _write(sets, adhoc("adhoc_tagger", "Tag it", [tagger()]), "tagger.json")
    return sets


def test_a_sub_workflow_runs_on_the_roaming_data_and_the_data_is_reloaded(module_server, tmp_path, folder):
    wf = _write(tmp_path, runner_wf([LABEL_A]), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", folder, "--mock", "3=true")
    node = doc["nodes"][0]
    assert node["module"] == "run-workflow" and node["result"] is True and node["status"] == "success"
    [sub] = node["subworkflows"]
    assert sub["label"] == LABEL_A and sub["trigger"] == "adhoc_tagger" and sub["scope"] == "passed_roaming_data"
    assert sub["outcome"] == "success" and [n["module"] for n in sub["nodes"]] == ["tag_operation"]
    assert sub["input"] == "roaming_data" and sub["items"] == 1
    # the sub-run tagged the stored event; run-workflow reloaded it into the roaming data
    assert any(t["name"] == TAG for t in doc["data"]["Event"]["Tag"])
    assert "enabledFilters" not in doc["data"] and doc["data"]["Event"]["_AttributeFlattened"]
    assert {c["node"] for c in doc["changes"]} == {"2"}  # the sub-workflow's node 2 (tag_operation)
    text = misp_workflow("run", wf, "--data", tmp_path / "event.json", "--modules-url", module_server.url,
                         "--workflows", folder, "--mock", "3=true")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "2 run-workflow: ok" in line)
    assert lines[at + 1].startswith("    ↳ sub-workflow `Tag it`") and ": success" in lines[at + 1]
    assert lines[at + 2] == "      1 adhoc_tagger (trigger)"
    assert lines[at + 3].startswith("        2 tag_operation: ok")
