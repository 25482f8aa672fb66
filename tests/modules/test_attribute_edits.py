"""Attribute and event edits on real events, through the real server: the IDS flag, comment and
distribution operations change the roaming data (returned as ``data``) the way MISP's
``_overrideAttribute``/``setData`` do, and report the database edits as changes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from misp_modules.semantics import roaming
from misp_modules.semantics.convert import to_core_format
from tests.support.data import BLUEPRINTS, EVENTS
from tests.support.nodes import query_node


def blueprint_node(name: str, node_id: int) -> dict:
    data = json.loads((BLUEPRINTS / name).read_text())["WorkflowBlueprint"]["data"]
    return next(n["data"] for n in data if n["id"] == node_id)


def core_event(name: str) -> dict:
    raw = json.loads((EVENTS / name).read_text())
    return to_core_format(raw if "Event" in raw else {"Event": raw})




def values(container: Any) -> list:
    return list(container.values()) if isinstance(container, dict) else list(container)


def every_copy(data: dict) -> list[dict]:
    event = data["Event"]
    copies = list(event.get("Attribute") or [])
    for obj in event.get("Object") or []:
        copies += obj.get("Attribute") or []
    return copies + values(event["_AttributeFlattened"])


@pytest.fixture(scope="module")
def objects_event() -> dict:
    """Attributes and object attributes (image_event: 19 attributes, 20 objects)."""
    return core_event("image_event.json")


def test_ids_flag_remove_edits_every_copy(module_server, objects_event) -> None:
    answer = query_node(module_server, "attribute_ids_flag_operation", objects_event, {"action": "remove"})
    assert answer["result"] is True and answer["errors"] == []
    data = answer["data"]
    copies = every_copy(data)
    assert len(copies) == 2 * len(objects_event["Event"]["_AttributeFlattened"])
    assert all(a["to_ids"] is False and "timestamp" not in a for a in copies)  # MISP drops timestamp
    was_ids = [a["uuid"] for a in objects_event["Event"]["_AttributeFlattened"] if a["to_ids"]]
    sets = [c for c in answer["changes"] if c["op"] == "set"]
    assert [c["uuid"] for c in sets] == was_ids and was_ids  # only what changed
    assert all(c == {"op": "set", "scope": "attribute", "uuid": c["uuid"], "field": "to_ids", "value": False}
               for c in sets)
    assert sum(c["op"] == "touch" for c in answer["changes"]) == len(was_ids)
    untouched = {k: v for k, v in data["Event"].items() if k not in ("Attribute", "Object", "_AttributeFlattened")}
    assert untouched == {k: v for k, v in objects_event["Event"].items()
                         if k not in ("Attribute", "Object", "_AttributeFlattened")}


def test_ids_flag_add_on_nothing_selected_fails_silently(module_server, objects_event) -> None:
    answer = query_node(module_server, "attribute_ids_flag_operation", objects_event, {"action": "add"},
                 {"selector": "Event._AttributeFlattened.{n}", "value": "no-such-type", "operator": "equals",
                  "path": "type"})
    assert (answer["result"], answer["errors"], answer.get("data")) == (False, [], None)


def test_feed_blueprint_filter_flag_reset(module_server) -> None:
    """Blueprint "remove automation flag from data correlating with a feed": filter A keeps the
    attributes seen in the Tor feed, the IDS flag goes on those only, and the filter reset
    restores the first snapshot -- dropping the edit, as MISP does (misp-behaviour.md §7.7)."""
    name = "blueprint_curation---remove-automation-flag-from-data-having-correlation-with-predefined-feed.json"
    raw = json.loads((EVENTS / "HTML_event.json").read_text())
    raw = copy.deepcopy(raw)
    raw["Event"]["Attribute"][2]["Feed"] = [{"id": "3", "name": "Tor exit nodes"}]
    for attribute in raw["Event"]["Attribute"]:
        attribute["to_ids"] = True
    data = to_core_format(raw)
    target = data["Event"]["Attribute"][2]["uuid"]
    filtered = query_node(module_server, "generic_filter_data", data, blueprint_node(name, 39)["indexed_params"])["data"]
    flagged = query_node(module_server, "attribute_ids_flag_operation", roaming.get_data(filtered),
                  blueprint_node(name, 40)["indexed_params"])
    assert flagged["result"] is True
    assert [c["uuid"] for c in flagged["changes"] if c["op"] == "set"] == [target]
    after = flagged["data"]
    assert [a["to_ids"] for a in after["Event"]["Attribute"]].count(False) == 1
    assert all(a["to_ids"] for a in after["_unfilteredData"]["Event"]["Attribute"])  # snapshot untouched
    view = roaming.get_data(after)
    assert [a["uuid"] for a in values(view["Event"]["_AttributeFlattened"])] == [target]
    reset = query_node(module_server, "generic_filter_reset", view, blueprint_node(name, 42)["indexed_params"])["data"]
    assert all(a["to_ids"] for a in reset["Event"]["Attribute"])  # the edit is lost on reset (faithful)


def test_comment_faithful_rendering(module_server) -> None:
    """The runner renders the template once against the whole data, where ``__currentAttribute``
    is undefined: every attribute gets the same comment (MISP's behaviour, misp-behaviour.md §15.9)."""
    data = core_event("misp_event.json")
    answer = query_node(module_server, "attribute_comment_operation", data, {"comment": "[curation] "},
                 node={"indexed_params": {"comment": "[curation] {{ __currentAttribute.value }}"}})
    assert answer["result"] is True
    assert {a["comment"] for a in every_copy(answer["data"])} == {"[curation] "}
    assert [c["field"] for c in answer["changes"] if c["op"] == "set"] == ["comment", "comment"]


def test_comment_per_attribute_rendering_is_opt_in(make_server) -> None:
    server = make_server(config={"modules": {"attribute_comment_operation": {"render_per_attribute": True}}})
    data = core_event("misp_event.json")
    template = "seen: {{ __currentAttribute.value }} in {{ Event.info }}"
    answer = query_node(server, "attribute_comment_operation", data, {"comment": "seen:  in x"},
                 node={"indexed_params": {"comment": template}})
    info = data["Event"]["info"]
    assert [a["comment"] for a in answer["data"]["Event"]["Attribute"]] == \
        [f"seen: {a['value']} in {info}" for a in data["Event"]["Attribute"]]


def test_event_distribution(module_server) -> None:
    data = core_event("misp_event.json")
    uuid = data["Event"]["uuid"]
    answer = query_node(module_server, "event_distribution_operation", data, {"distribution": "2"})
    assert answer["result"] is True and answer["data"]["Event"]["distribution"] == "2"
    assert answer["data"]["Event"]["Attribute"] == data["Event"]["Attribute"]
    assert answer["changes"] == [{"op": "set", "scope": "event", "uuid": uuid, "field": "distribution", "value": "2"},
                                 {"op": "touch", "scope": "event", "uuid": uuid}]
    frozen = query_node(module_server, "event_distribution_operation", data, {"distribution": "1", "freeze": "freeze"})
    assert [c["op"] for c in frozen["changes"]] == ["set"]
    group = query_node(module_server, "event_distribution_operation", data, {"distribution": "4", "sharing_group_id": "3"})
    assert group["data"]["Event"]["sharing_group_id"] == "3"


def test_event_distribution_quirks_and_refusals(module_server) -> None:
    bare = core_event("misp_event.json")
    bare["Event"]["Attribute"], bare["Event"]["_AttributeFlattened"] = [], []
    nothing = query_node(module_server, "event_distribution_operation", bare, {"distribution": "3"})
    assert (nothing["result"], nothing.get("data"), nothing.get("changes")) == (True, None, None)  # MISP quirk
    data = core_event("misp_event.json")
    no_group = query_node(module_server, "event_distribution_operation", data, {"distribution": "4"})
    assert no_group["result"] is False and "param `sharing_group_id`" in no_group["error"]
    bad = query_node(module_server, "event_distribution_operation", data, {"distribution": "7"})
    assert bad["result"] is False and "param `distribution`" in bad["error"]


def test_attribute_edition_operation_is_a_no_op(module_server) -> None:
    answer = query_node(module_server, "attribute_edition_operation", core_event("misp_event.json"))
    assert (answer["result"], answer.get("data"), answer["changes"]) == (True, None, [])


def test_stop_execution(module_server) -> None:
    entry = next(e for e in module_server.modules() if e["name"] == "stop_execution")
    workflow = entry["meta"]["misp_workflow"]
    assert (workflow["id"], workflow["blocking"], workflow["outputs"]) == ("stop-execution", True, 0)
    assert workflow["params"][0]["jinja_supported"] is True
    default = query_node(module_server, "stop_execution", {"Event": {}}, {"message": ""})
    assert (default["result"], default["errors"]) == (False, ["Execution stopped"])
    custom = query_node(module_server, "stop_execution", {"Event": {}}, {"message": "Tagged RED"})
    assert custom["error"] == "Tagged RED" and "data" not in custom
