"""Tag operations and TLP/PAP replacements on real events, through the real server.

These nodes change only MISP's database in MISP: the roaming data must come back untouched (no
``data``) and the answer lists the changes, which the runner's stored-event view applies. The
blueprints' own node configurations are used where they exist ("Attach tlp:clear on
tlp:white", "Normalize TLP & PAP tags").
"""

from __future__ import annotations

import copy
import json

import pytest

from misp_modules.contract.changes import apply_changes
from misp_modules.semantics.convert import to_core_format
from tests.support.data import BLUEPRINTS, EVENTS
from tests.support.nodes import query_node

WHITE_FILTER_ATTR = {"selector": "Event._AttributeFlattened.{n}", "value": "tlp:white", "operator": "in",
                     "path": "Tag.{n}.name"}
WHITE_FILTER_EVENT = {"selector": "", "value": "tlp:white", "operator": "in", "path": "Tag.{n}.name"}


def blueprint_node(name: str, node_id: int) -> dict:
    data = json.loads((BLUEPRINTS / name).read_text())["WorkflowBlueprint"]["data"]
    return next(n["data"] for n in data if n["id"] == node_id)


def raw_event(name: str) -> dict:
    raw = json.loads((EVENTS / name).read_text())
    return raw if "Event" in raw else {"Event": raw}


def with_tags(raw: dict, event_tags: list | None = None, attribute_tags: dict[int, list] | None = None) -> dict:
    """A copy of a raw event with tags added (``{"name": ..., "local": ...}`` or names)."""
    raw = copy.deepcopy(raw)
    as_tag = lambda t: t if isinstance(t, dict) else {"name": t, "local": 0}  # noqa: E731
    if event_tags is not None:
        raw["Event"]["Tag"] = [as_tag(t) for t in event_tags]
    for index, tags in (attribute_tags or {}).items():
        raw["Event"]["Attribute"][index]["Tag"] = [as_tag(t) for t in tags]
    return raw




def ops(answer: dict) -> list[tuple]:
    return [(c["op"], c.get("scope"), c["uuid"], c.get("tag"), c.get("local")) for c in answer["changes"]]


@pytest.fixture(scope="module")
def white_event() -> dict:
    """The CERT event (event tag tlp:white) with tlp:white on two of its attributes."""
    return with_tags(raw_event("57c4445b-c548-4654-af0b-4be3950d210f.json"),
                     attribute_tags={1: ["tlp:white"], 4: ["tlp:white", "ids:ok"]})


def test_blueprint_tlp_clear_on_white_attributes(module_server, white_event) -> None:
    node = blueprint_node("blueprint_attach-tlp_clear-on-tlp_white_1661328256.json", 55)
    data = to_core_format(white_event)
    answer = query_node(module_server, "tag_operation", data, node["indexed_params"], node["saved_filters"])
    assert answer["result"] is True and answer["errors"] == []
    assert "data" not in answer  # MISP changes its database only
    attrs = data["Event"]["Attribute"]
    event_uuid = data["Event"]["uuid"]
    expected = []
    for index in (1, 4):
        expected += [("attach_tag", "attribute", attrs[index]["uuid"], "tlp:clear", True),
                     ("touch", "attribute", attrs[index]["uuid"], None, None)]
    assert ops(answer) == expected
    assert all(c["event_uuid"] == event_uuid for c in answer["changes"] if c["op"] == "touch")
    stored = apply_changes(white_event, answer["changes"], now=1700000000)
    names = [[t["name"] for t in a.get("Tag", [])] for a in stored["Event"]["Attribute"]]
    assert names[1] == ["tlp:white", "tlp:clear"] and names[4] == ["tlp:white", "ids:ok", "tlp:clear"]
    assert names[0] == [] and stored["Event"]["published"] is False


def test_blueprint_tlp_clear_on_white_event(module_server, white_event) -> None:
    node = blueprint_node("blueprint_attach-tlp_clear-on-tlp_white_1661328256.json", 56)
    data = to_core_format(white_event)
    answer = query_node(module_server, "tag_operation", data, node["indexed_params"], node["saved_filters"])
    uuid = data["Event"]["uuid"]
    assert answer["result"] is True
    assert ops(answer) == [("attach_tag", "event", uuid, "tlp:clear", True), ("touch", "event", uuid, None, None)]


def test_event_filter_that_matches_nothing_fails_silently(module_server) -> None:
    data = to_core_format(with_tags(raw_event("HTML_event.json"), event_tags=["tlp:green"]))
    answer = query_node(module_server, "tag_operation", data, {"tags": ["tlp:clear"]}, WHITE_FILTER_EVENT)
    assert (answer["result"], answer["errors"], answer["changes"]) == (False, [], [])


def test_attribute_selection_that_matches_nothing_fails_silently(module_server) -> None:
    data = to_core_format(raw_event("HTML_event.json"))
    answer = query_node(module_server, "tag_operation", data, {"scope": "attribute", "tags": ["tlp:clear"]},
                 WHITE_FILTER_ATTR)
    assert (answer["result"], answer["errors"], answer["changes"]) == (False, [], [])


def test_without_filter_every_attribute_is_tagged_globally(module_server) -> None:
    data = to_core_format(raw_event("misp_event.json"))
    answer = query_node(module_server, "tag_operation", data,
                 {"scope": "attribute", "action": "add", "locality": "global",
                  "tags": ['misp-workflow:analysis="false-positive"'], "relationship_type": ""})
    uuids = [a["uuid"] for a in data["Event"]["_AttributeFlattened"]]
    assert answer["result"] is True and len(uuids) == 2
    attached = [c for c in answer["changes"] if c["op"] == "attach_tag"]
    assert [c["uuid"] for c in attached] == uuids and all(c["local"] is False for c in attached)


def test_a_tag_already_attached_changes_nothing_but_its_relationship(module_server, white_event) -> None:
    data = to_core_format(white_event)
    uuid = data["Event"]["uuid"]
    same = query_node(module_server, "tag_operation", data, {"tags": ["tlp:white"], "relationship_type": ""})
    assert (same["result"], same["changes"]) == (True, [])  # MISP: success, nothing to change, no touch
    related = query_node(module_server, "tag_operation", data, {"tags": ["tlp:white"], "relationship_type": "source"})
    assert related["changes"] == [{"op": "attach_tag", "scope": "event", "uuid": uuid, "tag": "tlp:white",
                                   "local": False, "relationship_type": "source"}]


def test_the_stored_event_knows_what_earlier_nodes_attached(module_server, white_event) -> None:
    data = to_core_format(white_event)
    uuid = data["Event"]["uuid"]
    earlier = [{"op": "attach_tag", "scope": "event", "uuid": uuid, "tag": "tlp:clear", "local": True,
                "relationship_type": None}]
    stored = apply_changes(white_event, earlier)
    fresh = query_node(module_server, "tag_operation", data, {"tags": ["tlp:clear"]})
    again = query_node(module_server, "tag_operation", data, {"tags": ["tlp:clear"]}, stored_event=stored)
    assert len(fresh["changes"]) == 2 and again["changes"] == []


def test_remove_respects_locality(module_server) -> None:
    raw = with_tags(raw_event("HTML_event.json"), event_tags=[{"name": "tlp:white", "local": 0},
                                                             {"name": "workflow:todo", "local": 1}])
    data = to_core_format(raw)
    uuid = data["Event"]["uuid"]
    local_only = query_node(module_server, "tag_operation", data,
                     {"action": "remove", "locality": "local", "tags": ["tlp:white", "workflow:todo"]})
    assert local_only["result"] is True
    assert ops(local_only) == [("detach_tag", "event", uuid, "workflow:todo", True), ("touch", "event", uuid, None, None)]
    nothing = query_node(module_server, "tag_operation", data, {"action": "remove", "locality": "local", "tags": ["tlp:white"]})
    assert (nothing["result"], nothing["changes"]) == (False, [])
    anyone = query_node(module_server, "tag_operation", data, {"action": "remove", "locality": "any", "tags": ["tlp:white"]})
    assert ops(anyone)[0] == ("detach_tag", "event", uuid, "tlp:white", None)
    stored = apply_changes(raw, local_only["changes"] + anyone["changes"])
    assert stored["Event"]["Tag"] == []


def test_missing_tags_param_is_named(module_server) -> None:
    data = to_core_format(raw_event("HTML_event.json"))
    answer = query_node(module_server, "tag_operation", data, {"scope": "event", "action": "add"})
    assert answer["result"] is False and answer["changes"] == []
    assert "param `tags`: required" in answer["error"]
    typed = query_node(module_server, "tag_operation", data, {"scope": "event", "tags": ["tlp:red"], "locality": "everywhere"})
    assert "param `locality`" in typed["error"]


# --- TLP / PAP replacement ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def messy_event() -> dict:
    """Event and attribute tags written every which way, as in the wild."""
    return with_tags(
        raw_event("misp_event.json"),
        event_tags=[{"name": "TLP:WHITE", "local": 1}, {"name": "pap:red", "local": 0}, {"name": "type:OSINT"}],
        attribute_tags={0: ["tlp:amber+strict", "PAP=amber"], 1: ["tlp:green", "PAP:GREEN"]})


def test_blueprint_normalise_tlp_global_with_removal(module_server, messy_event) -> None:
    node = blueprint_node("blueprint_curation---normalize-tlp-&-pap-tag.json", 46)
    data = to_core_format(messy_event)
    answer = query_node(module_server, "tag_replacement_tlp", data, node["indexed_params"], node["saved_filters"])
    event_uuid = data["Event"]["uuid"]
    a0, a1 = (a["uuid"] for a in data["Event"]["_AttributeFlattened"])
    assert "data" not in answer and answer["result"] is True
    assert ops(answer) == [
        ("detach_tag", "event", event_uuid, "TLP:WHITE", True),  # local association: removed
        ("touch", "event", event_uuid, None, None),  # MISP touches after the detach, then after the attach
        ("attach_tag", "event", event_uuid, "tlp:white", False),  # a normalisation, not white -> clear
        ("touch", "event", event_uuid, None, None),
        ("attach_tag", "attribute", a0, "tlp:amber", False),  # amber+strict -> amber (MISP quirk)
        ("touch", "attribute", a0, None, None),
        # tlp:amber+strict is a global tag: MISP detaches local associations only, so it stays
    ]
    assert ("attach_tag", "attribute", a1, "tlp:green", False) not in ops(answer)  # already there


def test_blueprint_normalise_pap_local_without_removal(module_server, messy_event) -> None:
    node = blueprint_node("blueprint_curation---normalize-tlp-&-pap-tag.json", 48)
    data = to_core_format(messy_event)
    answer = query_node(module_server, "tag_replacement_pap", data, node["indexed_params"], node["saved_filters"])
    event_uuid = data["Event"]["uuid"]
    a0 = data["Event"]["_AttributeFlattened"][0]["uuid"]
    assert answer["result"] is True
    assert ops(answer) == [("attach_tag", "event", event_uuid, "PAP:RED", True),
                           ("touch", "event", event_uuid, None, None),
                           ("attach_tag", "attribute", a0, "PAP:AMBER", True),
                           ("touch", "attribute", a0, None, None)]
    stored = apply_changes(messy_event, answer["changes"])
    assert [t["name"] for t in stored["Event"]["Tag"]] == ["TLP:WHITE", "pap:red", "type:OSINT", "PAP:RED"]


def test_default_remove_substituted_never_removes(module_server, messy_event) -> None:
    data = to_core_format(messy_event)
    answer = query_node(module_server, "tag_replacement_tlp", data, {"scope": "event"})  # remove_substituted "1"
    assert [c["op"] for c in answer["changes"]] == ["attach_tag", "touch"]


def test_replacement_with_nothing_selected_succeeds(module_server, messy_event) -> None:
    data = to_core_format(messy_event)
    answer = query_node(module_server, "tag_replacement_tlp", data, {"scope": "all"},
                 {"selector": "", "value": "tlp:red", "operator": "in", "path": "Tag.{n}.name"})
    assert (answer["result"], answer["changes"]) == (True, [])


def test_generic_replacement_matches_nothing(module_server, messy_event) -> None:
    answer = query_node(module_server, "tag_replacement_generic", to_core_format(messy_event), {"scope": "all"})
    assert (answer["result"], answer["changes"], answer["errors"]) == (True, [], [])


def test_tag_nodes_ask_for_the_stored_event(module_server) -> None:
    """Whether a tag is already attached is a database question: the runner must send its view."""
    flags = {e["name"]: e["meta"]["misp_workflow"]["needs_stored_event"] for e in module_server.modules()
             if "misp_workflow" in e["meta"]}
    assert flags["tag_operation"] and flags["tag_replacement_tlp"] and flags["tag_replacement_pap"]
