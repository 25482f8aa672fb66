"""Malformed input never crashes a built-in node: every combination of odd roaming data, odd
params and odd node filters gets a node answer (``result`` and a clear ``errors`` list) or, for
a logic node where MISP itself would crash, a clear error without a decision (the runner then
fails closed), in process and through the server, which keeps serving."""

from __future__ import annotations

import importlib
import itertools
import warnings

import pytest

from misp_modules.settings import Settings, get_settings, set_settings

LOGIC = ["generic_if", "tag_if", "count_if", "published_if", "organisation_if", "threat_level_if",
         "distribution_if", "generic_filter_data", "generic_filter_reset", "concurrent_task"]
ACTIONS = ["tag_operation", "tag_replacement_tlp", "tag_replacement_pap", "tag_replacement_generic",
           "attribute_ids_flag_operation", "attribute_comment_operation", "attribute_edition_operation",
           "event_distribution_operation", "stop_execution", "push_zmq", "publish_event", "reload_full_event",
           "add_eventblocklist_entry", "add_to_warninglist", "proposal_action", "attach_decay_score"]
MODULES = [f"logic_mod.{n}" for n in LOGIC] + [f"action_mod.{n}" for n in ACTIONS]

DATA = [None, "x", [], 5, {"Event": "x"}, {"Event": {"Attribute": "x", "_AttributeFlattened": {"0": 5}, "Tag": "t"}},
        {"Event": {"uuid": "e", "Attribute": [{"uuid": "a"}],
                   "_AttributeFlattened": [{"uuid": "a", "Tag": [{"name": "tlp:red"}], "ShadowAttribute": [{"uuid": "p"}]}]},
         "_unfilteredData": 3, "enabledFilters": {"A": 5}}]
PARAMS = [{}, None, {"scope": [], "action": {}, "tags": {"a": 1}, "condition": 5, "operator": None, "hash_path": 5,
                     "selector": [1], "value": [], "comment": [], "distribution": "4", "sharing_group_id": [[1]],
                     "data_extraction_path": [], "warninglist": [1, 2], "decayingmodels": "1",
                     "proposal_type": "any", "message": 5, "uuid_hash_path": [], "filtering-label": []}]
FILTERS = [None, {"selector": "Event.Tag", "value": "x", "operator": "in", "path": "name"},
           {"selector": 5, "value": [], "operator": "any_value", "path": "[x=/(/]"}]


@pytest.fixture(autouse=True)
def no_deployment_settings():
    """No MISP, no ZeroMQ endpoint: whatever the environment says, nothing leaves the process."""
    previous = get_settings()
    set_settings(Settings())
    yield
    set_settings(previous)


@pytest.mark.parametrize("dotted", MODULES)
def test_every_odd_input_gets_a_node_answer(dotted: str) -> None:
    module = importlib.import_module(f"misp_modules.modules.{dotted}")
    for data, params, filters in itertools.product(DATA, PARAMS, FILTERS):
        request = {"data": data, "params": params, "node": {"saved_filters": filters} if filters else {},
                   "trigger": {"misp_core_format": True}, "dry_run": True}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = module.dict_handler(request)
        assert isinstance(answer, dict), (dotted, request)
        if dotted.startswith("logic_mod.") and "result" not in answer:  # no decision: only the reason
            assert set(answer) == {"error"} and isinstance(answer["error"], str) and answer["error"], (dotted, request)
            continue
        assert isinstance(answer["result"], bool), (dotted, request)
        assert all(isinstance(e, str) and e for e in answer["errors"])
        assert bool(answer["errors"]) == ("error" in answer)


def test_the_server_keeps_serving_after_odd_requests(module_server) -> None:
    for module in ("tag_operation", "generic_filter_data", "distribution_if"):
        status, answer = module_server.query({"module": module, "data": "x", "params": [1, 2],
                                              "node": "not an object"})
        assert status == 200 and answer["error"]
        # an action fails; a logic node gives no decision (a malformed request is not MISP's)
        assert answer["result"] is False if module == "tag_operation" else "result" not in answer
    status, answer = module_server.query({"module": "tag_if", "data": {"Event": {"Tag": [{"name": "a"}]}},
                                          "params": {"tags": ["a"]}})
    assert (status, answer["result"]) == (200, True)
