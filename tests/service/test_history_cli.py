"""``misp-workflow history list|show|diff|replay`` on the history a real service wrote."""

from __future__ import annotations

import json

from tests.service import workflows as wfs
from tests.service.conftest import base_config
from tests.support.cli import misp_workflow
from tests.support.data import SMALL_EVENT

EVENT = json.loads(SMALL_EVENT.read_text())


def red() -> dict:
    data = json.loads(json.dumps(EVENT))
    data["Event"]["id"] = "9"
    data["Event"]["Attribute"][0]["Tag"] = [{"name": "PAP:RED"}]
    return data


def test_list_show_diff_and_replay_on_a_newer_version(tmp_path, service_modules, start_service):
    folder = tmp_path / "workflows"
    wfs.write(folder, "guard", wfs.pap_tlp())
    config = base_config(tmp_path, service_modules.url)
    service = start_service(config)
    blocked = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": red()})[1]["id"])
    clean = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})[1]["id"])
    path = tmp_path / "automation.toml"

    listed = misp_workflow("history", "list", "--config", path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith(clean["id"][:8]) and "success" in lines[0]
    assert lines[1].startswith(blocked["id"][:8]) and "blocked: Node `stop-execution` (54)" in lines[1]
    only = json.loads(misp_workflow("history", "list", "--config", path, "--outcome", "blocked", "--json").stdout)
    assert [r["id"] for r in only] == [blocked["id"]]

    shown = misp_workflow("history", "show", blocked["id"][:8], "--config", path)
    assert shown.returncode == 0, shown.stderr
    assert "53 tag-if: success → output_1" in shown.stdout and '"tags":["PAP:RED","tlp:red"]' in shown.stdout
    assert "54 stop-execution: partial-success" in shown.stdout and "errors: Execution stopped" in shown.stdout
    detail = json.loads(misp_workflow("history", "show", blocked["id"], "--config", path, "--json", "--data").stdout)
    assert detail["nodes"][0]["input"]["Event"]["id"] == "9"

    diff = misp_workflow("history", "diff", clean["id"], blocked["id"], "--config", path)
    assert diff.returncode == 1
    assert "outcome: 'success' → 'blocked'" in diff.stdout and "+54 stop-execution: partial-success" in diff.stdout
    same = misp_workflow("history", "diff", blocked["id"], blocked["id"], "--config", path)
    assert same.returncode == 0 and "No difference" in same.stdout

    replay = misp_workflow("history", "replay", blocked["id"], "--config", path)
    assert replay.returncode == 0 and "No difference" in replay.stdout, replay.stdout + replay.stderr
    # A newer version: the guard stops only on tlp:red, so the PAP:RED event now goes through.
    newer = wfs.pap_tlp()
    for node in newer["Workflow"]["data"].values():
        if node["data"]["id"] == "tag-if":
            params = node["data"]["indexed_params"]
            params["tags"] = ["tlp:red"] if isinstance(params, dict) else params
    wfs.write(folder, "guard", newer)
    replay = misp_workflow("history", "replay", blocked["id"], "--config", path, "--version", "current")
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "outcome: 'blocked' → 'success'" in replay.stdout and "-54 stop-execution" in replay.stdout
    stored = misp_workflow("history", "replay", blocked["id"], "--config", path, "--version", "stored")
    assert stored.returncode == 0

    unknown = misp_workflow("history", "show", "ffffffff", "--config", path)
    assert unknown.returncode == 2 and "no run ffffffff" in unknown.stderr


def test_a_bad_configuration_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "automation.toml"
    for text, expected in [
        ("[service]\nworkflow = 'x'\n[api]\ntokens = ['0123456789abcdef0']\n",
         "[service] workflow: unknown key (did you mean 'workflows'?)"),
        ("[api]\ntokens = []\n", "[api] tokens: the API needs at least one token"),
        ("[api]\ntokens = ['short']\n", "[api] tokens: every token must be at least 16 characters long"),
        ("[queue]\nbackend = 'kafka'\n[api]\nenabled = false\n", "[queue] backend: must be one of sqlite, redis"),
        ("[misp]\nurl = 'https://misp.example.org'\n[api]\nenabled = false\n", "both [misp] url and key are needed"),
        ("[feed]\nusername = 'u'\n[api]\nenabled = false\n", "[feed] password: a username needs a password"),
        ("[service\n", "invalid TOML"),
    ]:
        path.write_text(text)
        done = misp_workflow("serve", "--config", path, timeout=60)
        assert done.returncode == 2 and expected in done.stderr and done.stderr.count("\n") == 1, (text, done.stderr)
