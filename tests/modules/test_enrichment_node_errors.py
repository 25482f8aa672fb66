"""Malformed requests to the enrichment nodes give an error naming what is wrong, through the
real server (found by the robustness review: they were generic "Module 'x' failed: ..." errors)."""

from __future__ import annotations

import pytest

EVENT = {"Event": {"id": "1", "uuid": "e", "Attribute": [], "_AttributeFlattened": [
    {"id": "1", "uuid": "a", "type": "ip-dst", "value": "8.8.8.8", "to_ids": True}]}}


def node(module: str, data, params: dict) -> dict:
    return {"module": module, "data": data, "params": params, "node": {"id": "3", "saved_filters": {}}}


@pytest.mark.parametrize("module,params", [("attach_warninglist", {"warninglists": "ALL"}),
                                           ("attach_enrichment", {"modules": ["hashlookup"]})])
@pytest.mark.parametrize("data,kind", [([1, 2], "an array"), ("text", "a string"), (None, "null")])
def test_data_that_is_not_an_object_is_named(module_server, module, params, data, kind):
    status, answer = module_server.query(node(module, data, params))
    assert status == 200 and answer["result"] is False
    assert answer["error"] == (f"Error while executing module {module}: `data` must be the roaming data "
                               f"(a JSON object), not {kind}")


def test_a_scalar_warninglist_selection_is_a_list_of_one(module_server):
    status, answer = module_server.query(node("attach_warninglist", EVENT, {"warninglists": 7}))
    assert status == 200 and answer["result"] is True and "error" not in answer
    assert answer["data"]["Event"]["warnings"] == []  # no list is named "7"


def test_a_scalar_module_selection_names_the_unknown_module(module_server):
    status, answer = module_server.query(node("attach_enrichment", EVENT, {"modules": 7}))
    assert status == 200 and answer["result"] is False
    assert "failed:" not in answer["error"] and "'7'" in answer["error"]

