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


def _payload(doc) -> object:
    return doc["nodes"][0]["subworkflows"][0]["payload"]


ATTRIBUTES = {"selector": "Event._AttributeFlattened", "value": "ip-src", "operator": "equals", "path": "type"}


@pytest.mark.parametrize(("input_data", "filters", "expected"), [
    ("nothing", None, []),
    (None, None, []),                       # MISP's default 'yes' is not an option: no data
    ("event_ids", None, {"eventid": [EVENT_UUID]}),
    ("event_ids", {**ATTRIBUTES, "value": "no-such-type"}, {"eventid": True}),
])
def test_the_payload_follows_input_data(module_server, tmp_path, folder, input_data, filters, expected):
    wf = _write(tmp_path, runner_wf([LABEL_A], input_data, filters), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", folder, "--mock", "3=true")
    assert _payload(doc) == expected
    assert doc["nodes"][0]["subworkflows"][0]["outcome"] == "success"
    if input_data is None:
        assert any("'yes'" in w for w in doc["nodes"][0]["warnings"])


def test_event_ids_of_matching_filters_are_the_matches_uuids(module_server, tmp_path, folder):
    event = _event()
    matches = [a["uuid"] for a in event["Event"]["Attribute"] if a["type"] == event["Event"]["Attribute"][0]["type"]]
    filters = {**ATTRIBUTES, "value": event["Event"]["Attribute"][0]["type"]}
    wf = _write(tmp_path, runner_wf([LABEL_A], "event_ids", filters), "main.json")
    doc = run_json(wf, event, tmp_path, module_server.url, "--workflows", folder, "--mock", "3=true")
    assert _payload(doc) == {"eventid": matches}  # attribute uuids: whatever the selector selected


def test_no_workflow_selected_fails_the_node(module_server, tmp_path, folder):
    wf = _write(tmp_path, runner_wf([]), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", folder)
    node = doc["nodes"][0]
    assert node["result"] is False and node["errors"] == ["No workflow selected"] and "subworkflows" not in node


def test_event_ids_without_uuid_fail_without_error(module_server, tmp_path, folder):
    event = _event()
    del event["Event"]["uuid"]
    wf = _write(tmp_path, runner_wf([LABEL_A], "event_ids"), "main.json")
    doc = run_json(wf, event, tmp_path, module_server.url, "--workflows", folder)
    node = doc["nodes"][0]
    assert node["result"] is False and node["errors"] == [] and node["status"] == "partial-success"


def test_an_unknown_label_is_invalid_workflow_after_the_labels_before_it(module_server, tmp_path, folder):
    wf = _write(tmp_path, runner_wf([LABEL_A, "adhoc_nope :: Nope"]), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", folder)
    node = doc["nodes"][0]
    assert node["status"] == "error" and node["errors"] == ["Error while executing module run-workflow. "
                                                            "Error: Invalid workflow"]
    assert [s["label"] for s in node["subworkflows"]] == [LABEL_A]
    assert any('Undefined array key "adhoc_nope :: Nope"' in w for w in node["warnings"])
    assert doc["executed"] == ["2", "3"]  # a failed non-blocking node on a blocking path skips nothing


def test_a_disabled_adhoc_workflow_is_a_clear_error(module_server, tmp_path):
    sets = tmp_path / "workflows"
    _write(sets, adhoc("adhoc_tagger", "Tag it", [tagger()], enabled=False), "tagger.json")
    wf = _write(tmp_path, runner_wf([LABEL_A]), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", sets, codes=(3,))
    node = doc["nodes"][0]
    assert node["status"] == "error" and "is disabled" in node["errors"][0] and "TypeError" in node["errors"][0]
    assert doc["changes"] == [] and doc["outcome"] == "failure" and doc["executed"] == ["2"]  # MISP's run ends


def test_a_workflow_running_itself_stops_at_the_depth_bound(module_server, tmp_path):
    sets = tmp_path / "workflows"
    loop = G.node(2, "run-workflow", params={"workflows": ["adhoc_loop :: Loop"], "input_data": "roaming_data"})
    _write(sets, adhoc("adhoc_loop", "Loop", [loop]), "loop.json")
    wf = _write(tmp_path, runner_wf(["adhoc_loop :: Loop"]), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", sets, "--max-subworkflow-depth", "3",
                   "--mock", "3=true", codes=(3,))
    depth, node = 0, doc["nodes"][0]
    while node.get("subworkflows"):
        depth += 1
        node = node["subworkflows"][0]["nodes"][0]
    assert depth == 3
    assert node["status"] == "error" and "--max-subworkflow-depth bound (3)" in node["errors"][0]
    # MISP's recursion never ends and takes the whole request with it: every level stops, the run fails
    assert doc["outcome"] == "failure" and doc["nodes"][0]["result"] is False
    assert "--max-subworkflow-depth bound (3)" in doc["errors"][0] and "ended MISP's run" in doc["errors"][0]


def test_an_event_search_needs_a_misp(module_server, tmp_path):
    sets = tmp_path / "workflows"
    _write(sets, adhoc("adhoc_search", "Search", [tagger()], scope="events", filters='{"tags": ["tlp:red"]}'),
           "search.json")
    wf = _write(tmp_path, runner_wf(["adhoc_search :: Search"]), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", sets)
    node = doc["nodes"][0]
    assert node["status"] == "error" and "needs a MISP" in node["errors"][0]


def test_passed_event_ids_with_an_event_payload_run_nothing(module_server, tmp_path):
    sets = tmp_path / "workflows"
    _write(sets, adhoc("adhoc_ids", "Ids", [tagger()], scope="passed_event_ids"), "ids.json")
    wf = _write(tmp_path, runner_wf(["adhoc_ids :: Ids"]), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", sets, "--mock", "3=true")
    [sub] = doc["nodes"][0]["subworkflows"]
    assert sub["outcome"] is None and sub["items"] == 0 and doc["changes"] == []


def _misp_event(uuid: str, eid: str, tag: str | None = None) -> dict:
    doc = _event()
    doc["Event"].update({"uuid": uuid, "id": eid, "Tag": [{"name": tag}] if tag else []})
    return doc


OTHER_UUID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def misp(tmp_path):
    from tests.support.fakes.misp import API_KEY, MispFake

    events = [_misp_event(EVENT_UUID, EVENT_ID, "tlp:red"), _misp_event(OTHER_UUID, "77", "tlp:red"),
              _misp_event("22222222-2222-4333-8444-555555555555", "78")]
    with MispFake(events=events) as fake:
        config = tmp_path / "settings.toml"
        config.write_text(f'[misp]\nurl = "{fake.url}"\nkey = "{API_KEY}"\nverify_tls = false\n')
        yield fake, config


def test_the_events_scope_runs_once_per_event_of_the_rest_search(module_server, tmp_path, misp):
    fake, config = misp
    sets = tmp_path / "workflows"
    _write(sets, adhoc("adhoc_search", "Search", [G.node(2, "push-zmq")], scope="events",
                       filters='{"tags": ["tlp:red"]}'), "search.json")
    wf = _write(tmp_path, runner_wf(["adhoc_search :: Search"], "nothing"), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", sets, "--config", config,
                   "--mock", "3=true")
    subs = doc["nodes"][0]["subworkflows"]
    assert [(s["item"], s["items"], s["payload"]["Event"]["uuid"]) for s in subs] == [(0, 2, EVENT_UUID),
                                                                                     (1, 2, OTHER_UUID)]
    assert all(s["outcome"] == "success" and s["nodes"][0]["module"] == "push-zmq" for s in subs)
    assert fake.calls("/events/restSearch")[0]["tags"] == ["tlp:red"]
    assert f"GET /events/view/{EVENT_ID}" in fake.paths()  # the reload reads MISP
    assert doc["data"]["Event"]["Tag"][0]["name"] == "tlp:red"


def test_passed_event_ids_search_the_payload(module_server, tmp_path, misp):
    fake, config = misp
    sets = tmp_path / "workflows"
    _write(sets, adhoc("adhoc_ids", "Ids", [G.node(2, "push-zmq")], scope="passed_event_ids"), "ids.json")
    wf = _write(tmp_path, runner_wf(["adhoc_ids :: Ids"], "event_ids"), "main.json")
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--workflows", sets, "--config", config,
                   "--mock", "3=true")
    [sub] = doc["nodes"][0]["subworkflows"]
    assert sub["payload"]["Event"]["uuid"] == EVENT_UUID and sub["outcome"] == "success"
    assert fake.calls("/events/restSearch")[0]["eventid"] == [EVENT_UUID]
