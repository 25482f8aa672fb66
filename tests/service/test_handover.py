"""MISP handing work over (the ``queue_workflow_run`` action on the real module server, called
as MISP calls it) and schedules (a PyMISP search every period), end to end."""

from __future__ import annotations

import json

from tests.service import workflows as wfs
from tests.service.conftest import SERVICE_MODULES, base_config, misp_section
from tests.support.data import PAP_TLP_BLUEPRINT, SMALL_EVENT
from tests.support.fakes.misp import MispFake
from tests.support.service import TOKEN, wait_until

EVENT = json.loads(SMALL_EVENT.read_text())


def test_the_action_node_queues_a_run_and_answers_at_once(tmp_path, make_server, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, "http://127.0.0.1:1"))  # its runs need no module server here
    modules = make_server(custom_dir=SERVICE_MODULES, config={
        "services": {"automation": f"http://127.0.0.1:{service.port}"},
        "modules": {"queue_workflow_run": {"token": TOKEN}}})
    status, listed = modules.get("/modules")
    assert "queue_workflow_run" in {m["name"] for m in listed}
    data = json.loads(json.dumps(EVENT))
    data["Event"]["id"] = "31"
    status, answer = modules.query({"module": "queue_workflow_run", "data": data,
                                    "params": {"workflow": "guard", "trigger": ""}})  # MISP's request
    assert status == 200 and answer == {"data": True}
    queued = wait_until(lambda: service.request("GET", "/api/runs?state=queued")[1]["runs"]
                        or service.request("GET", "/api/runs?source=action")[1]["runs"], what="the handed-over run")
    assert queued[0]["source"] == "action" and queued[0]["workflow"] == "guard"
    status, answer = modules.query({"module": "queue_workflow_run", "data": data, "params": {"workflow": "nope"}})
    assert "the service has no such workflow" in answer["error"]
    assert TOKEN not in modules.logs()


def test_a_wrong_token_fails_the_node_without_showing_it(tmp_path, make_server, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, "http://127.0.0.1:1"))
    modules = make_server(custom_dir=SERVICE_MODULES, config={
        "services": {"automation": f"http://127.0.0.1:{service.port}"},
        "modules": {"queue_workflow_run": {"token": "not-the-token-0123456789"}}})
    status, answer = modules.query({"module": "queue_workflow_run", "data": EVENT, "params": {"workflow": "guard"}})
    assert "the token was refused" in answer["error"] and "not-the-token" not in json.dumps(answer)
    assert "not-the-token-0123456789" not in modules.logs()


def test_a_schedule_runs_the_workflow_over_the_events_a_search_returns(tmp_path, service_modules, start_service):
    white, red = json.loads(json.dumps(EVENT)), json.loads(json.dumps(EVENT))
    white["Event"].update(id="1", uuid="00000000-0000-4000-8000-000000000001")
    red["Event"].update(id="2", uuid="00000000-0000-4000-8000-000000000002",
                        Tag=[{"name": "tlp:red"}])
    other = json.loads(json.dumps(EVENT))
    other["Event"].update(id="3", uuid="00000000-0000-4000-8000-000000000003", Tag=[{"name": "tlp:amber"}])
    with MispFake(events=[white, red, other]) as misp:
        (tmp_path / "workflows" / "adhoc").mkdir(parents=True)
        (tmp_path / "workflows" / "adhoc" / "guard.json").write_text(PAP_TLP_BLUEPRINT.read_text())
        config = base_config(tmp_path, service_modules.url, misp=misp_section(misp))
        config["schedule"] = [{"name": "white-and-red", "workflow": "guard", "every_minutes": 0.02,
                               "trigger": "event-publish", "search": {"tags": ["tlp:white", "tlp:red"]}}]
        service = start_service(config)
        runs = wait_until(lambda: (lambda r: r if len(r) >= 4 else None)(
            service.request("GET", "/api/runs?source=schedule")[1]["runs"]), what="two ticks", timeout=60)
        per_event = {}
        for run in runs:
            per_event.setdefault(run["event_id"], set()).add(run["outcome"])
        assert per_event == {"1": {"success"}, "2": {"blocked"}}  # event 3 never matched the search
        searches = misp.calls("/events/restSearch")
        assert searches and all(s["tags"] == ["tlp:white", "tlp:red"] for s in searches)
