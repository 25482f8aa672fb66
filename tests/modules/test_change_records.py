"""misp_modules.contract.changes: the stored-event view (``apply_changes``) in every layout MISP hands
out, and the replay on MISP (``apply_to_misp``) with the real PyMISP against the REST fake."""

from __future__ import annotations

import copy
import json

import pytest
from pymisp import PyMISP

from misp_modules.contract import changes as ch
from misp_modules.lib.misp_writes import MispWriteError, apply_to_misp
from misp_modules.semantics.convert import to_core_format
from tests.support.data import EVENTS
from tests.support.fakes.misp import API_KEY, MispFake

RAW = json.loads((EVENTS / "misp_event.json").read_text())
E = RAW["uuid"]
A0, A1 = (a["uuid"] for a in RAW["Attribute"])


def test_constructors_validate_and_normalise() -> None:
    assert ch.attach_tag("event", E, "tlp:red", 1, "") == {"op": "attach_tag", "scope": "event", "uuid": E,
                                                           "tag": "tlp:red", "local": True, "relationship_type": None}
    assert ch.detach_tag("attribute", A0, "x")["local"] is None
    assert ch.touch("event", E, event_uuid="ignored") == {"op": "touch", "scope": "event", "uuid": E}
    with pytest.raises(ch.ChangeError, match="scope must be one of event, attribute"):
        ch.attach_tag("object", E, "x", False)


def test_core_format_view_keeps_every_copy_in_step() -> None:
    event = to_core_format({"Event": copy.deepcopy(RAW)})
    out = ch.apply_changes(event, [ch.attach_tag("attribute", A0, "tlp:clear", False),
                                   ch.set_field("attribute", A0, "to_ids", True),
                                   ch.touch("attribute", A0, E)], now=1700000999)
    for copy_ in (out["Event"]["Attribute"][0], out["Event"]["_AttributeFlattened"][0]):
        assert copy_["to_ids"] is True and copy_["timestamp"] == "1700000999"
        assert copy_["Tag"][-1]["name"] == "tlp:clear"
        assert [t["name"] for t in copy_["_allTags"]][-1] == "tlp:clear"
        assert [t["inherited"] for t in copy_["_allTags"]] == [True] * len(RAW["Tag"]) + [False] * len(copy_["Tag"])
    assert out["Event"]["published"] is False and out["Event"]["timestamp"] == "1700000999"
    assert event["Event"]["Attribute"][0]["to_ids"] is False  # pure


def test_fetch_layout_and_bare_event() -> None:
    fetch = {"Event": {"uuid": E, "published": True}, "EventTag": [{"local": 0, "Tag": {"id": "9", "name": "tlp:white"}}],
             "Attribute": [{"uuid": A0, "AttributeTag": []}]}
    out = ch.apply_changes(fetch, [ch.attach_tag("attribute", A0, "tlp:white", True),
                                   ch.detach_tag("event", E, "tlp:white", False), ch.publish(E)], now=5)
    assert out["EventTag"] == []
    assert out["Attribute"][0]["AttributeTag"][0]["Tag"]["name"] == "tlp:white"
    assert out["Attribute"][0]["AttributeTag"][0]["Tag"]["id"] == "9"  # shaped like the event's other tags
    assert out["Event"]["published"] is True and out["Event"]["publish_timestamp"] == 5
    bare = ch.apply_changes(copy.deepcopy(RAW), [ch.set_field("event", E, "distribution", "0")])
    assert bare["distribution"] == "0" and "Event" not in bare


def test_changes_for_another_event_are_ignored_and_unknown_ops_refused() -> None:
    event = {"Event": copy.deepcopy(RAW)}
    assert ch.apply_changes(event, [ch.publish("other-uuid"), ch.set_field("event", "x", "info", "y")]) == event
    with pytest.raises(ch.ChangeError, match="unknown change op 'delete'"):
        ch.apply_changes(event, [{"op": "delete"}])
    with pytest.raises(ch.ChangeError, match="lacks field 'tag'"):
        ch.apply_changes(event, [{"op": "attach_tag", "scope": "event", "uuid": E, "local": False}])


def test_proposals_in_the_view() -> None:
    event = {"Event": copy.deepcopy(RAW)}
    event["Event"]["ShadowAttribute"] = [{"uuid": "p1", "type": "domain", "category": "Network activity",
                                          "value": "new.example"}]
    event["Event"]["Attribute"][1]["ShadowAttribute"] = [{"id": "77", "value": "edited", "to_ids": True}]
    out = ch.apply_changes(event, [ch.accept_proposal("p1"), ch.accept_proposal("77", A1)], now=9)
    assert out["Event"]["ShadowAttribute"] == [] and out["Event"]["Attribute"][-1]["value"] == "new.example"
    assert out["Event"]["Attribute"][1]["value"] == "edited" and out["Event"]["Attribute"][1]["ShadowAttribute"] == []
    gone = ch.apply_changes(event, [ch.discard_proposal("p1")])
    assert gone["Event"]["ShadowAttribute"] == [] and len(gone["Event"]["Attribute"]) == 2


@pytest.fixture
def misp():
    with MispFake(events=[{"Event": copy.deepcopy(RAW)}]) as fake:
        yield fake, PyMISP(fake.url, API_KEY, timeout=5)


def test_apply_to_misp_groups_sets_and_unpublishes_once(misp) -> None:
    fake, client = misp
    fake.requests.clear()
    applied = apply_to_misp(client, [
        ch.set_field("attribute", A0, "to_ids", True), ch.set_field("attribute", A0, "comment", "c"),
        ch.touch("attribute", A0),  # no event_uuid: looked up once
        ch.attach_tag("event", E, "tlp:clear", False, "source"), ch.touch("event", E),
        ch.add_attribute(E, {"type": "domain", "value": "x.example"}),
    ])
    assert all(c["applied"] for c in applied) and len(applied) == 6
    assert fake.paths() == [f"POST /attributes/edit/{A0}", f"GET /attributes/view/{A0}",
                            f"POST /events/unpublish/{RAW['id']}", "POST /tags/attachTagToObject",
                            f"POST /events/unpublish/{E}", f"POST /attributes/add/{E}"]
    assert fake.calls("/attributes/edit/") == [{"to_ids": True, "comment": "c"}]
    assert fake.calls("/tags/attachTagToObject") == [{"uuid": E, "tag": "tlp:clear", "local": False,
                                                      "relationship_type": "source"}]


def test_apply_to_misp_stops_at_the_first_refusal(misp) -> None:
    fake, client = misp
    with pytest.raises(MispWriteError) as failure:
        apply_to_misp(client, [ch.publish(E), ch.detach_tag("event", E, "never-attached"), ch.publish(E)])
    assert "detach_tag 'never-attached' on event" in str(failure.value) and "HTTP 404" in str(failure.value)
    assert failure.value.applied == [{"op": "publish", "uuid": E, "applied": True}]
    assert sum(p.startswith("POST /events/publish/") for p in fake.paths()) == 1


def test_attributes_added_mid_batch_are_found_by_later_changes() -> None:
    """The view indexes attributes once per call; adding some must not hide them from later ops."""
    event = {"Event": {"uuid": "E", "timestamp": "1", "Tag": [],
                       "Attribute": [{"uuid": "a1", "type": "md5", "value": "x", "to_ids": True, "Tag": []}],
                       "Object": [], "_AttributeFlattened": [{"uuid": "a1", "type": "md5", "value": "x",
                                                              "to_ids": True, "Tag": []}]}}
    new = {"uuid": "a2", "type": "sha1", "value": "y", "to_ids": True, "Tag": []}
    obj = {"uuid": "o1", "name": "file", "timestamp": "1", "Attribute": [
        {"uuid": "a3", "type": "md5", "value": "z", "to_ids": True, "timestamp": "1", "Tag": []}]}
    out = ch.apply_changes(event, [ch.set_field("attribute", "a1", "to_ids", False),
                                   ch.add_attribute("E", new), ch.add_object("E", obj),
                                   ch.set_field("attribute", "a2", "to_ids", False),
                                   ch.attach_tag("attribute", "a2", "known", True),
                                   ch.touch("attribute", "a3", event_uuid="E")], now=7)["Event"]
    flat = {a["uuid"]: a for a in out["_AttributeFlattened"]}
    assert [flat[u]["to_ids"] for u in ("a1", "a2", "a3")] == [False, False, True]
    assert out["Attribute"][1]["to_ids"] is False and [t["name"] for t in flat["a2"]["Tag"]] == ["known"]
    assert out["Object"][0]["timestamp"] == "7" and out["Object"][0]["Attribute"][0]["timestamp"] == "7"
    assert event["Event"]["Attribute"][0]["to_ids"] is True  # the input is not modified
