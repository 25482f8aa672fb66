"""The service's HTTP API end to end: a real ``misp-workflow serve`` (embedded queue and
history in a temp folder), the real module server, requests over HTTP on 127.0.0.1."""

from __future__ import annotations

import copy
import json

from tests.service import workflows as wfs
from tests.service.conftest import base_config
from tests.support.data import PAP_TLP_BLUEPRINT, SMALL_EVENT
from tests.support.service import TOKEN, wait_until

EVENT = json.loads(SMALL_EVENT.read_text())


def red(event: dict, eid: str = "77") -> dict:
    data = copy.deepcopy(event)
    data["Event"]["id"] = eid
    data["Event"]["Attribute"][0]["Tag"] = [{"name": "PAP:RED"}]
    return data


def test_api_refuses_requests_without_a_valid_token(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    for token in (None, "wrong-token-0123456789", ""):
        status, body = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT}, token=token)
        assert status == 401 and "Bearer" in body["error"], (token, status, body)
        status, _ = service.request("GET", "/api/runs", token=token)
        assert status == 401
    status, body = service.request("GET", "/api/runs", token=TOKEN)
    assert status == 200 and body["runs"] == []
    status, health = service.request("GET", "/healthz", token=None)  # probes need no token
    assert status == 200 and health["status"] == "ok" and health["queue"]["queued"] == 0
    assert TOKEN not in service.logs()


def test_a_posted_run_is_queued_run_and_kept(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    status, queued = service.request("POST", "/api/runs", {"workflow": "guard", "data": red(EVENT)})
    assert status == 202 and queued["status"] == "queued" and queued["trigger"] == "event-after-save"
    run = service.run_done(queued["id"])
    assert run["outcome"] == "blocked" and run["source"] == "api" and run["event_id"] == "77"
    assert run["workflow"] == "guard" and len(run["version"]) == 16
    tag_if, stop = run["nodes_detail"]
    assert (tag_if["module"], tag_if["output"], tag_if["params"]["tags"]) == ("tag-if", "output_1", ["PAP:RED", "tlp:red"])
    assert tag_if["input"]["Event"]["id"] == "77"  # the node's input, as the module received it
    assert stop["module"] == "stop-execution" and stop["errors"] == ["Execution stopped"]
    assert run["input"]["Event"]["id"] == "77"
    status, page = service.request("GET", "/api/runs?outcome=blocked&workflow=guard")
    assert status == 200 and [r["id"] for r in page["runs"]] == [queued["id"]]
    status, page = service.request("GET", "/api/runs?outcome=success")
    assert page["runs"] == []


def test_bad_requests_get_a_clear_error_and_queue_nothing(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    cases = [
        (b"not json", 400, "not JSON"),
        ({"workflow": "nope", "data": EVENT}, 404, "no workflow named `nope`"),
        ({"workflow": "guard", "data": {"Attribute": {}}}, 400, "no `Event` key"),
        ({"workflow": "guard"}, 400, "give either `data`"),
        ({"workflow": "guard", "data": EVENT, "colour": "red"}, 400, "unknown field(s): colour"),
        ({"workflow": "guard", "data": EVENT, "trigger": "event-publish"}, 400, "belongs to trigger"),
        ({"workflow": "guard", "event_id": "12"}, 400, "needs a MISP connection"),
    ]
    for body, status, text in cases:
        got, answer = service.request("POST", "/api/runs", body)
        assert (got, text in answer.get("error", "")) == (status, True), (body, got, answer)
    status, health = service.request("GET", "/healthz", token=None)
    assert health["queue"] == {"queued": 0, "delayed": 0, "running": 0, "dead": 0}


def test_queued_runs_are_listed_cancelled_and_rerun(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    config = base_config(tmp_path, service_modules.url)
    intake = start_service(config, "--role", "intake")  # no workers: runs stay queued
    ids = [intake.request("POST", "/api/runs", {"workflow": "guard", "data": red(EVENT, str(i))})[1]["id"]
           for i in range(3)]
    status, queued = intake.request("GET", "/api/runs?state=queued")
    assert [r["id"] for r in queued["runs"]] == ids and all(r["state"] == "queued" for r in queued["runs"])
    assert intake.request("POST", f"/api/runs/{ids[1]}/cancel")[0] == 200
    assert intake.request("POST", f"/api/runs/{ids[1]}/cancel")[0] == 404
    status, shown = intake.request("GET", f"/api/runs/{ids[0]}")
    assert status == 200 and shown["state"] == "queued"
    worker = start_service(config, "--role", "worker", "--workers", "1")
    done = [intake.run_done(i) for i in (ids[0], ids[2])]
    assert [d["outcome"] for d in done] == ["blocked", "blocked"]
    assert intake.request("POST", f"/api/runs/{ids[0]}/cancel")[0] == 409
    status, again = intake.request("POST", f"/api/runs/{ids[0]}/rerun")
    assert status == 202 and again["parent"] == ids[0]
    rerun = intake.run_done(again["id"])
    assert rerun["parent"] == ids[0] and rerun["source"] == "rerun" and rerun["outcome"] == "blocked"
    assert intake.request("GET", f"/api/runs/{ids[1]}")[0] == 404
    assert worker.proc.poll() is None


def test_changes_feed_lists_runs_written_after_a_cursor(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    status, first = service.request("GET", "/api/runs/changes?since=0")
    assert status == 200 and first == {"runs": [], "seq": 0}
    queued = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})[1]
    status, changed = service.request("GET", "/api/runs/changes?since=0&wait=30")  # long poll: returns on the write
    assert [r["id"] for r in changed["runs"]] == [queued["id"]] and changed["seq"] >= 1
    status, later = service.request("GET", f"/api/runs/changes?since={changed['seq']}")
    assert later["runs"] == []


def test_the_api_binds_loopback_and_serves_metrics(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    assert "API on http://127.0.0.1:" in service.logs()
    run = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})[1]
    service.run_done(run["id"])
    status, text = service.request("GET", "/metrics", token=None)
    assert status == 200
    assert 'misp_workflow_runs_total{outcome="success",workflow="guard"} 1.0' in text
    assert 'misp_workflow_queue_depth{state="queued"} 0.0' in text
    assert "misp_workflow_intake_to_done_seconds_bucket" in text


def test_workflows_are_listed_with_their_version_and_reloaded_on_change(tmp_path, service_modules, start_service):
    folder = tmp_path / "workflows"
    wfs.write(folder, "guard", wfs.pap_tlp())
    (folder / "adhoc").mkdir()
    (folder / "adhoc" / "blue.json").write_text(PAP_TLP_BLUEPRINT.read_text())
    wfs.write(folder, "guard-two", wfs.pap_tlp())  # a second workflow for the same trigger: not bound
    service = start_service(base_config(tmp_path, service_modules.url))
    status, listed = service.request("GET", "/api/workflows")
    by_name = {w["name"]: w for w in listed["workflows"]}
    assert by_name["guard"]["bound"] and by_name["guard"]["trigger"] == "event-after-save"
    assert not by_name["guard-two"]["bound"] and "already served by workflow `guard`" in by_name["guard-two"]["problem"]
    assert not by_name["blue"]["bound"] and by_name["blue"]["trigger"] is None
    first = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})[1]["id"])
    changed = wfs.pap_tlp()
    changed["Workflow"]["name"] = "PAP/TLP guard, edited"
    wfs.write(folder, "guard", changed)
    second = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})[1]["id"])
    assert first["version"] != second["version"]
    adhoc = service.run_done(service.request("POST", "/api/runs", {"workflow": "blue", "trigger": "event-publish",
                                                                   "data": red(EVENT)})[1]["id"])
    assert adhoc["trigger"] == "event-publish" and adhoc["outcome"] == "blocked"
    wait_until(lambda: service.request("GET", "/api/runs?workflow=guard")[1]["runs"], what="guard runs listed")


def test_a_module_server_down_is_retried_then_dead_lettered(tmp_path, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, "http://127.0.0.1:9", queue={"max_attempts": 3, "backoff": 0.05}))
    run_id = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})[1]["id"]
    run = service.run_done(run_id)
    assert (run["outcome"], run["state"], run["attempts"]) == ("error", "dead", 3)
    assert run["message"].startswith("gave up after 3 attempts: module server: ")
    dead = service.request("GET", "/api/dead-letters")[1]["dead_letters"]
    assert [d["id"] for d in dead] == [run_id] and dead[0]["task"]["workflow"] == "guard"
    status, text = service.request("GET", "/metrics", token=None)
    assert 'misp_workflow_retries_total{workflow="guard"} 2.0' in text
    assert service.logs().count("retry in") == 2
