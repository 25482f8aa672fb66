"""MISP's built-in logic nodes through the real server: what ``/modules`` declares, filters,
concurrent-task, and bad params (a clear error naming the param, MISP's decision kept)."""

from __future__ import annotations

import json

import pytest

from misp_modules.semantics import roaming
from misp_modules.semantics.convert import to_core_format
from tests.support.data import EVENTS
from tests.support.nodes import query_node


def event(name: str) -> dict:
    return to_core_format(json.loads((EVENTS / name).read_text()))




@pytest.fixture(scope="module")
def workflow_entries(module_server) -> dict[str, dict]:
    return {e["meta"]["misp_workflow"]["id"]: e for e in module_server.modules() if "misp_workflow" in e["meta"]}


LOGIC_IDS = ["generic-if", "tag-if", "count-if", "published-if", "organisation-if", "threat-level-if",
             "distribution-if", "generic-filter-data", "generic-filter-reset", "concurrent-task",
             "filter-tag", "filter-timestamp", "aggregate_comparator_if"]


def test_logic_nodes_are_runner_only_with_misp_metadata(workflow_entries) -> None:
    for misp_id in LOGIC_IDS:
        entry = workflow_entries[misp_id]
        meta = entry["meta"]
        assert meta["module-type"] == ["workflow"], misp_id  # never listed by MISP as an action
        assert entry["type"] == "logic_mod"
        assert meta["misp_workflow"]["module_type"] == "logic"
    kinds = {m: workflow_entries[m]["meta"]["misp_workflow"] for m in LOGIC_IDS}
    assert kinds["tag-if"]["outputs"] == 2 and kinds["tag-if"]["logic_kind"] == "if"
    assert kinds["generic-filter-data"]["logic_kind"] == "filter" and kinds["generic-filter-data"]["outputs"] == 1
    assert kinds["concurrent-task"]["logic_kind"] == "concurrent"
    assert kinds["concurrent-task"]["multiple_output_connection"] is True
    assert kinds["tag-if"]["version"] == "0.4" and kinds["tag-if"]["expect_misp_core_format"] is True
    # MISP's post-2.5.1 filters are routed by their result (v2.5.1's walker special-cases only its
    # own filter ids), on their single output
    for misp_id in ("filter-tag", "filter-timestamp"):
        assert kinds[misp_id]["logic_kind"] == "if" and kinds[misp_id]["outputs"] == 1, misp_id
    assert kinds["aggregate_comparator_if"]["outputs"] == 2 and kinds["aggregate_comparator_if"]["version"] == "0.4"


def test_params_and_defaults_are_misps(workflow_entries) -> None:
    def params(misp_id: str) -> dict[str, dict]:
        return {p["id"]: p for p in workflow_entries[misp_id]["meta"]["misp_workflow"]["params"]}

    tag_if = params("tag-if")
    assert list(tag_if) == ["scope", "condition", "tags", "clusters"]
    assert tag_if["scope"]["default"] == "event" and tag_if["condition"]["default"] == "in_or"
    assert set(tag_if["scope"]["options"]) == {"event", "attribute", "event_attribute"}
    assert tag_if["tags"]["type"] == "picker" and tag_if["tags"]["multiple"] is True
    assert params("threat-level-if")["threatlevel"]["default"] == 3  # current MISP's; 2.5.1's 'Low' per release
    assert params("organisation-if")["org_id"]["default"] == [1]
    assert params("generic-filter-reset")["filtering-label"]["default"] == "all"
    assert params("generic-filter-data")["hash_path"]["type"] == "hashpath"
    assert params("distribution-if")["distribution"]["default"] == "0"
    assert params("count-if")["operator"]["default"] == "equals"


def test_tag_if_on_a_real_event(module_server) -> None:
    data = event("57c4445b-c548-4654-af0b-4be3950d210f.json")
    yes = query_node(module_server, "tag_if", data, {"scope": "event", "condition": "in_or", "tags": ["tlp:white"]})
    no = query_node(module_server, "tag_if", data, {"scope": "event", "condition": "in_or", "tags": ["tlp:red"]})
    assert (yes["result"], yes["output"], yes["errors"]) == (True, "output_1", [])
    assert (no["result"], no["output"]) == (False, "output_2")
    assert "data" not in yes  # a logic decision does not change the data


def test_unknown_operator_is_named_and_misps_decision_kept(module_server) -> None:
    data = event("57c4445b-c548-4654-af0b-4be3950d210f.json")
    answer = query_node(module_server, "generic_if", data, {"hash_path": "Event.Tag.{n}.name", "operator": "contains",
                                                     "value": "tlp:white"})
    assert answer["result"] is False and answer["output"] == "output_2"  # MISP: unknown operator is false
    assert answer["errors"] == []  # MISP reports nothing; the diagnostics are warnings
    assert "param `operator`" in answer["warnings"][0] and "'contains'" in answer["warnings"][0]
    counted = query_node(module_server, "count_if", data, {"selector": "Event.Tag.{n}", "operator": "bogus", "value": "4"})
    assert counted["result"] is False and "param `operator`" in counted["warnings"][0]


def test_wrong_type_is_named(module_server) -> None:
    data = event("57c4445b-c548-4654-af0b-4be3950d210f.json")
    answer = query_node(module_server, "tag_if", data, {"scope": "event", "condition": "in_or", "tags": 5})
    assert "result" not in answer and "`tags`" in answer["error"]  # MISP: array_merge TypeError, no decision
    answer = query_node(module_server, "generic_if", data, {"hash_path": ["Event", "info"], "operator": "equals",
                                                              "value": "x"})  # Hash::get takes a list
    assert answer["output"] == "output_2" and "param `hash_path`: expected a string" in answer["warnings"][0]
    answer = query_node(module_server, "generic_if", data, {"hash_path": ["Event", "info"], "operator": "in", "value": "x"})
    assert "result" not in answer and "preg_match" in answer["error"]  # Hash::extract: PHP's TypeError


def test_invalid_regex_in_a_hash_path_is_named(module_server) -> None:
    data = event("57c4445b-c548-4654-af0b-4be3950d210f.json")
    answer = query_node(module_server, "generic_if", data, {"hash_path": "Event.Tag.{n}[name=/tlp:(white/].name",
                                                     "operator": "any_value"})
    assert answer["result"] is False  # PHP's preg_match fails: nothing matches
    assert "param `hash_path`" in answer["warnings"][0] and "Compilation failed" in answer["warnings"][0]
    filtered = query_node(module_server, "generic_filter_data", data, {"selector": "Event._AttributeFlattened.{n}",
                                                                "hash_path": "Tag.{n}[name=/(/].name"})
    assert filtered["result"] is True and filtered["output"] == "output_1"  # a filter always continues
    assert "param `hash_path`" in filtered["warnings"][0]


def test_params_must_be_an_object(module_server) -> None:
    answer = query_node(module_server, "tag_if", {"Event": {}}, ["in_or"])
    assert "result" not in answer and "`params` must be an object" in answer["error"]


def test_legacy_and_default_values_are_not_errors(module_server) -> None:
    data = event("57c4445b-c548-4654-af0b-4be3950d210f.json")
    org = query_node(module_server, "organisation_if", {"Event": {**data["Event"], "orgc_id": "1"}},
              {"org_type": "orgc", "condition": "equals", "org_id": "1"})  # version 0.1 graph
    assert org["result"] is True and org["errors"] == []
    level = query_node(module_server, "threat_level_if", data, {}, misp_release="2.5.1")  # 'Low': string quirk
    assert level["errors"] == [] and level.get("warnings") is None and level["output"] == "output_2"
    level = query_node(module_server, "threat_level_if", data, {})  # newest MISP: key 3 (the event's level)
    assert level["errors"] == [] and level["output"] == "output_1"


def test_distribution_if_where_misp_crashes(module_server) -> None:
    answer = query_node(module_server, "distribution_if", {"Event": {"distribution": "1", "Attribute": []}},
                 {"scope": "attribute", "condition": "equals", "distribution": "1"})
    assert "result" not in answer and "output" not in answer  # MISP crashes: no decision
    assert "Event.Attribute[0]" in answer["error"]


def test_filter_then_reset_on_a_real_event(module_server) -> None:
    data = event("57c4445b-c548-4654-af0b-4be3950d210f.json")
    types = {a["type"] for a in data["Event"]["_AttributeFlattened"]}
    assert len(types) > 1
    wanted = sorted(types)[0]
    answer = query_node(module_server, "generic_filter_data", data, {
        "filtering-label": "B", "selector": "Event._AttributeFlattened.{n}", "hash_path": "type",
        "operator": "equals", "value": wanted})
    assert answer["result"] is True and answer["output"] == "output_1"
    stored = answer["data"]
    assert stored["enabledFilters"] == {"B": {"selector": "Event._AttributeFlattened.{n}", "path": "type",
                                              "operator": "equals", "value": wanted}}
    assert stored["_unfilteredData"] == data
    view = roaming.get_data(stored)  # what the next node sees
    flat = view["Event"]["_AttributeFlattened"]
    flat = list(flat.values()) if isinstance(flat, dict) else flat
    assert flat and {a["type"] for a in flat} == {wanted}
    assert len(view["Event"]["Attribute"]) == len(data["Event"]["Attribute"])  # only the selector shrinks
    reset = query_node(module_server, "generic_filter_reset", view, {"filtering-label": "A"})
    assert reset["output"] == "output_1"
    assert reset["data"] == data  # any label restores the first snapshot: every filter goes


def test_in_or_filter_uses_the_value_list(module_server) -> None:
    data = event("57c4445b-c548-4654-af0b-4be3950d210f.json")
    answer = query_node(module_server, "generic_filter_data", data, {
        "filtering-label": "A", "selector": "Event._AttributeFlattened.{n}", "hash_path": "type",
        "operator": "in_or", "value": "ignored", "value_list": ["md5", "sha256"]})
    assert answer["data"]["enabledFilters"]["A"]["value"] == ["md5", "sha256"]


def test_reset_without_a_filter_wipes_or_gives_no_decision(module_server) -> None:
    """§15.1: MISP wipes the data with ``all`` (faithful) and crashes with a label (no decision)."""
    data = event("HTML_event.json")
    wiped = query_node(module_server, "generic_filter_reset", data, {"filtering-label": "all"})
    assert wiped["result"] is True and wiped["data"] == {"enabledFilters": []}
    crashed = query_node(module_server, "generic_filter_reset", data, {"filtering-label": "C"})
    assert "result" not in crashed and "no filter to remove" in crashed["error"]


def test_concurrent_task_removes_the_target_and_follows_nothing(module_server) -> None:
    data = {**event("HTML_event.json"), "__node_id_to_exec": 7}
    answer = query_node(module_server, "concurrent_task", data)
    assert answer["result"] is True and answer["output"] is None
    assert "__node_id_to_exec" not in answer["data"]
    assert answer["data"]["Event"] == data["Event"]
