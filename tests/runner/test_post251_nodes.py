"""The logic nodes MISP added after v2.5.1, the run's clock, and the two newer triggers, end to
end: the real ``misp-workflow`` CLI against the real module server."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import graphs as G
from tests.support.cli import misp_workflow, run_json
from tests.support.data import SMALL_EVENT

NOW = 1767225600  # 2026-01-01T00:00:00Z


def _write(tmp_path, doc, name="wf.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _event() -> dict:
    return json.loads(SMALL_EVENT.read_text())


def timestamp_workflow(value="2d") -> dict:
    return G.workflow([G.trigger(1, "event-publish", [2]),
                       G.node(2, "filter-timestamp", "logic", {"filtering-label": "A", "value": value},
                              {"output_1": [3]}),
                       G.logic_if(3, "count-if", [4], [5], {"selector": "Event._AttributeFlattened", "value": "0"}),
                       G.node(4, "webhook"), G.node(5, "push-zmq")])


def test_now_resolves_relative_times_and_is_recorded(module_server, tmp_path):
    wf = _write(tmp_path, timestamp_workflow())
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--now", "2026-01-01T00:00:00Z",
                   "--mock", "4=true", "--mock", "5=true")
    assert doc["now"] == {"epoch": NOW, "iso": "2026-01-01T00:00:00Z", "source": "--now"}
    assert doc["data"]["enabledFilters"]["A"] == {"selector": "Event._AttributeFlattened", "path": "timestamp",
                                                  "operator": "greater", "value": NOW - 2 * 86400}
    # MISP's filter helper does not know `greater`: every attribute is filtered out, count-if sees 0
    assert [(n["node"], n.get("output")) for n in doc["nodes"]] == [("2", "output_1"), ("3", "output_1"), ("4", None)]
    assert any("removes every item" in w for w in doc["nodes"][0]["warnings"])
    epoch = run_json(wf, _event(), tmp_path, module_server.url, "--now", str(NOW), "--mock", "4=true")
    assert epoch["now"]["epoch"] == NOW and epoch["data"] == doc["data"]
    done = misp_workflow("run", wf, "--data", SMALL_EVENT, "--modules-url", module_server.url, "--now", "1767225600.9",
                         "--mock", "4=true")
    assert done.returncode == 0 and "Clock: 2026-01-01T00:00:00Z (--now 1767225600)" in done.stdout


def test_the_wall_clock_is_recorded_when_no_time_is_given(module_server, tmp_path):
    wf = _write(tmp_path, timestamp_workflow("1h"))
    before = int(time.time())
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--mock", "4=true")
    after = int(time.time())
    assert doc["now"]["source"] == "clock" and before <= doc["now"]["epoch"] <= after
    assert doc["data"]["enabledFilters"]["A"]["value"] == doc["now"]["epoch"] - 3600  # the same clock


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "nan"])
def test_a_bad_now_is_refused(module_server, tmp_path, bad):
    wf = _write(tmp_path, timestamp_workflow())
    done = misp_workflow("run", wf, "--data", SMALL_EVENT, "--modules-url", module_server.url, "--now", bad)
    assert done.returncode == 2 and "--now" in done.stderr


def test_since_with_a_relative_value_ends_the_path(module_server, tmp_path):
    wf = G.workflow([G.trigger(1, "event-publish", [2]),
                     G.node(2, "filter-timestamp", "logic", {"operator": "since", "value": "7d"}, {"output_1": [3]}),
                     G.node(3, "webhook")])
    doc = run_json(_write(tmp_path, wf), _event(), tmp_path, module_server.url, "--now", str(NOW))
    assert doc["executed"] == [] and doc["outcome"] == "success"
    assert doc["nodes"][0]["result"] is False and doc["nodes"][0]["output"] == "output_2"


def test_a_value_list_that_is_not_a_pair_is_miscs_caught_exception(module_server, tmp_path):
    wf = _write(tmp_path, timestamp_workflow(["1d", "2d", "3d"]))
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--now", str(NOW))
    node = doc["nodes"][0]
    assert node["status"] == "error" and node["output"] == "output_2" and doc["outcome"] == "success"
    assert node["errors"] == ["Error while executing module filter-timestamp. Error: Invalid date specification, "
                              "must be string or array with two elements"]


def test_threat_level_default_by_release(module_server, tmp_path):
    wf = _write(tmp_path, G.workflow([G.trigger(1, "event-publish", [2]),
                                      G.logic_if(2, "threat-level-if", [3], [4], {}),
                                      G.node(3, "webhook"), G.node(4, "push-zmq")]))
    event = _event()  # threat_level_id "3"
    newest = run_json(wf, event, tmp_path, module_server.url, "--mock", "3=true", "--mock", "4=true")
    old = run_json(wf, event, tmp_path, module_server.url, "--mock", "3=true", "--mock", "4=true",
                   "--misp-release", "2.5.1")
    assert newest["executed"] == ["3"] and old["executed"] == ["4"]  # 3 == "3"; "Low" != "3"
    assert newest["misp_release"] is None and old["misp_release"] == "2.5.1"  # the document says which ran


def test_filter_tag_follows_the_saved_version(module_server, tmp_path):
    def wf(version):
        return G.workflow([G.trigger(1, "event-publish", [2]),
                           G.node(2, "filter-tag", "logic", {"scope": "attribute", "tags": ["nope"]},
                                  {"output_1": [3]}, module_version=version),
                           G.logic_if(3, "count-if", [4], [5], {"selector": "Event.Attribute", "value": "0"}),
                           G.node(4, "webhook"), G.node(5, "push-zmq")])
    mocks = ("--mock", "4=true", "--mock", "5=true")
    new = run_json(_write(tmp_path, wf("0.3")), _event(), tmp_path, module_server.url, *mocks)
    old = run_json(_write(tmp_path, wf("0.2")), _event(), tmp_path, module_server.url, *mocks)
    assert new["executed"] == ["4"]  # 0.3 filters Event.Attribute too: nothing is tagged `nope`
    assert old["executed"] == ["5"]  # 0.2 leaves Event.Attribute alone
    assert list(old["data"]["enabledFilters"]) == ["A"] and list(new["data"]["enabledFilters"]) == ["A", "A_2"]


def test_validate_says_where_misp_makes_a_node_useless(module_server, tmp_path):
    wf = _write(tmp_path, G.workflow([
        G.trigger(1, "event-publish", [2]),
        G.node(2, "filter-timestamp", "logic", {"value": "30d"}, {"output_1": [3]}),
        G.node(3, "filter-tag", "logic", {}, {"output_1": [4]}, module_version="0.2"),
        G.logic_if(4, "aggregate_comparator_if", [5], [], {"aggregation_path": "Event.Attribute.{n}.id",
                                                           "operator": "greater", "value": "1"}),
        G.logic_if(5, "aggregate_comparator_if", [], [], {"operator": "equals", "value": "1"})]))
    done = misp_workflow("validate", wf, "--modules-url", module_server.url, "--json")
    assert done.returncode == 0, done.stderr
    quirks = {f["node"]: f["message"] for f in json.loads(done.stdout)["findings"] if f["code"] == "misp-quirk"}
    assert set(quirks) == {"2", "3", "4"}
    assert "removes every item" in quirks["2"] and "filters nothing" in quirks["3"] and "never passes" in quirks["4"]
    offline = misp_workflow("validate", wf, "--offline")
    assert offline.returncode == 0 and offline.stdout.count("misp-quirk") == 0  # plain words, no codes
    assert "node 4 (aggregate_comparator_if): operator `greater`" in offline.stdout


def test_event_before_delete_blocks(module_server, tmp_path):
    wf = _write(tmp_path, G.workflow([G.trigger(1, "event-before-delete", [2]),
                                      G.node(2, "stop-execution", params={"message": "keep it"})],
                                     trigger_id="event-before-delete"))
    doc = run_json(wf, _event(), tmp_path, module_server.url, codes=(1,))
    assert doc["trigger"] == {"id": "event-before-delete", "blocking": True, "for_path": "blocking"}
    assert doc["outcome"] == "blocked" and doc["caller_log"]["title"] == "Error while executing workflow."


def _analyst_workflow() -> dict:
    return G.workflow([G.trigger(1, "analyst-data-after-save", [2]),
                       G.logic_if(2, "count-if", [3], [], {"selector": "Event.Note", "value": "1"}),
                       G.node(3, "webhook")], trigger_id="analyst-data-after-save")


def test_analyst_data_after_save_builds_the_event(module_server, tmp_path):
    event = _event()["Event"]
    attribute = event["Attribute"][0]
    note = {"uuid": "0f0e0d0c-0000-4000-8000-000000000001", "note": "seen", "object_type": "Attribute",
            "object_uuid": attribute["uuid"]}
    wf = _write(tmp_path, _analyst_workflow())
    doc = run_json(wf, {"Note": note, "Event": event}, tmp_path, module_server.url, "--mock", "3=true")
    assert doc["trigger"]["blocking"] is False and doc["executed"] == ["3"]
    assert doc["data"]["Event"]["Note"] == [note]
    assert "Attribute" not in doc["data"]["Event"]  # MISP's light event: columns, Orgc, tags
    missing = run_json(wf, {"Note": {**note, "object_uuid": "nope"}, "Event": event}, tmp_path,
                       module_server.url, codes=(3,))
    assert missing["outcome_text"] == "failure Error while normalizing data for trigger. Invalid input."
    on_object = run_json(wf, {"Opinion": {**note, "object_type": "Object"}, "Event": event}, tmp_path,
                         module_server.url, codes=(3,))
    assert "Attribute.uuid" in on_object["outcome_text"] and "Error:" in on_object["outcome_text"]


def test_distribution_then_analyst_data_in_one_run(module_server, tmp_path):
    """Two of the actions added after v2.5.1 in one workflow: the distribution edit changes the
    roaming data the next node sees, the analyst data is rendered per run (Jinja, by the runner)
    and both land in the stored-event view the report shows."""
    event = _event()
    wf = _write(tmp_path, G.workflow([
        G.trigger(1, "event-publish", [2]),
        G.node(2, "attribute_distribution_operation", params={"distribution": "1"}, outputs={"output_1": [3]}),
        G.node(3, "add_analyst_data", params={"target": "Attribute", "note": "Checked: {{ Event.info }}",
                                              "language": "en"}),
        G.node(4, "add_analyst_data", params={"target": "GalaxyCluster"}),  # not connected: never runs
    ]))
    doc = run_json(wf, event, tmp_path, module_server.url)
    assert doc["executed"] == ["2", "3"] and doc["outcome"] == "success"
    attributes = event["Event"]["Attribute"]
    assert all(a["distribution"] == "1" for a in doc["data"]["Event"]["_AttributeFlattened"])
    notes = [c for c in doc["changes"] if c["op"] == "add_analyst_data"]
    assert [c["object_uuid"] for c in notes] == [a["uuid"] for a in attributes]
    info = event["Event"]["info"]
    assert {c["fields"]["note"] for c in notes} == {f"Checked: {info}"} and {c["node"] for c in notes} == {"3"}
    stored = {a["uuid"]: a for a in doc["event"]["Event"]["Attribute"]}
    assert all(stored[a["uuid"]]["distribution"] == "1" for a in attributes)
    assert all(stored[a["uuid"]]["Note"][0]["note"] == f"Checked: {info}" for a in attributes)


def test_a_misp_crash_in_a_new_action_ends_the_run_there(module_server, tmp_path):
    wf = _write(tmp_path, G.workflow([G.trigger(1, "event-publish", [2]),
                                      G.node(2, "add_analyst_data", params={"target": "GalaxyCluster"},
                                             outputs={"output_1": [3]}),
                                      G.node(3, "attribute_distribution_operation", params={"distribution": "2"})]))
    doc = run_json(wf, _event(), tmp_path, module_server.url, codes=(3,))
    node = doc["nodes"][0]
    assert node["node"] == "2" and node["result"] is False and node["status"] == "error"
    assert any("GalaxyCluster" in e and "TypeError" in e for e in node["errors"])
    # MISP's PHP TypeError ends its run: node 3 never runs (a failed node would not stop a blocking walk)
    assert doc["executed"] == ["2"] and doc["changes"] == [] and doc["outcome"] == "failure"
    assert any("GalaxyCluster" in e for e in doc["errors"])
