"""Re-running with edits through the HTTP API: an edited input, a node's result scripted, a kept
version of the workflow picked. A real ``misp-workflow serve`` and the real module server."""

from __future__ import annotations

import copy
import json

from tests.service import workflows as wfs
from tests.service.conftest import base_config
from tests.support.data import SMALL_EVENT

EVENT = json.loads(SMALL_EVENT.read_text())


def red(event: dict) -> dict:
    data = copy.deepcopy(event)
    data["Event"]["Attribute"][0]["Tag"] = [{"name": "PAP:RED"}]
    return data


def amber_only() -> dict:
    """The PAP/TLP guard edited to look for tlp:amber only: a PAP:RED event passes."""
    workflow = wfs.pap_tlp()
    workflow["Workflow"]["data"]["53"]["data"]["indexed_params"]["tags"] = ["tlp:amber"]
    return workflow


def test_a_run_with_a_scripted_node_result(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    status, queued = service.request("POST", "/api/runs", {"workflow": "guard", "data": red(EVENT),
                                                           "mocks": {"54": True}})
    assert status == 202
    run = service.run_done(queued["id"])
    assert run["outcome"] == "success" and run["mocks"] == {"54": True}
    tag_if, stop = run["nodes_detail"]
    assert tag_if["output"] == "output_1" and not tag_if.get("mocked")
    assert stop["mocked"] is True and stop["status"] == "success" and "params" not in stop  # never sent


def test_bad_mocks_are_refused_with_the_reason(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    cases = [
        ({"99": True}, "no node `99` in the workflow (its node ids: 1, 53, 54)"),
        ({"54": "yes"}, "a result is true, false or an object"),
        ({"54": {"success": "no"}}, "`success` must be true or false"),
        (["54"], "`mocks` maps node ids to results"),
    ]
    for mocks, text in cases:
        status, answer = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT, "mocks": mocks})
        assert status == 400 and text in answer["error"], (mocks, status, answer)
    assert service.request("GET", "/api/runs?state=queued")[1]["runs"] == []


def test_a_rerun_with_an_edited_event_decides_differently(tmp_path, service_modules, start_service):
    wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    first = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})[1]["id"])
    assert first["outcome"] == "success"
    status, again = service.request("POST", f"/api/runs/{first['id']}/rerun", {"data": red(EVENT)})
    assert status == 202 and again["parent"] == first["id"]
    second = service.run_done(again["id"])
    assert (second["outcome"], second["parent"], second["source"]) == ("blocked", first["id"], "rerun")
    assert [n["output"] for n in second["nodes_detail"] if n["kind"] == "logic"] == ["output_1"]
    for body, text in [({"colour": 1}, "unknown field(s): colour"),
                       ({"data": EVENT, "event_id": "3"}, "not both"),
                       ({"data": {"Attribute": []}}, "no `Event` key")]:
        status, answer = service.request("POST", f"/api/runs/{first['id']}/rerun", body)
        assert status == 400 and text in answer["error"], (body, answer)


def test_an_older_version_can_be_picked(tmp_path, service_modules, start_service):
    folder = tmp_path / "workflows"
    wfs.write(folder, "guard", wfs.pap_tlp())
    service = start_service(base_config(tmp_path, service_modules.url))
    old = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": red(EVENT)})[1]["id"])
    assert old["outcome"] == "blocked"
    wfs.write(folder, "guard", amber_only())
    new = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": red(EVENT)})[1]["id"])
    assert new["outcome"] == "success" and new["version"] != old["version"]
    status, listed = service.request("GET", "/api/workflows/guard/versions")
    assert status == 200 and listed["current"] == new["version"]
    assert [(v["version"], v["current"]) for v in listed["versions"]] == [(new["version"], True),
                                                                         (old["version"], False)]
    status, again = service.request("POST", f"/api/runs/{new['id']}/rerun", {"version": old["version"]})
    assert status == 202
    replayed = service.run_done(again["id"])
    assert (replayed["outcome"], replayed["version"], replayed["picked_version"]) == ("blocked", old["version"],
                                                                                      old["version"])
    status, answer = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT,
                                                           "version": "0123456789abcdef"})
    assert status == 400 and "has no version `0123456789abcdef`" in answer["error"]
    assert new["version"] in answer["error"] and old["version"] in answer["error"]
    assert service.request("GET", "/api/workflows/nope/versions")[0] == 404
