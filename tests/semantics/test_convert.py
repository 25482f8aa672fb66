"""Roaming data conversion (misp-behaviour.md §4.3, §6.2) on the real events in tests/data/events/.

Every event is converted as MISP's REST API gives it, as PyMISP gives it (``to_dict()`` with
its nested MISP objects, ``to_json()``), with numeric instead of string ids, and as MISP's own
fetch lays it out (related data beside ``Event``); the core-format invariants must hold for all.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pymisp import MISPEvent

from misp_modules.semantics import convert, hashpath, php
from misp_modules.semantics.errors import NormalizationError
from tests.support.data import EVENTS

EVENT_FILES = sorted(EVENTS.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def unwrapped(raw: dict) -> dict:
    return raw["Event"] if "Event" in raw else raw


def numeric_ids(value):
    """The same data with ids, distributions and flags as numbers (another driver's output)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if (key == "id" or key.endswith("_id") or key in ("distribution", "timestamp")) and \
                    isinstance(item, str) and item.isdigit():
                item = int(item)
            out[key] = numeric_ids(item)
        return out
    if isinstance(value, list):
        return [numeric_ids(v) for v in value]
    return value


def as_misp_fetch(event: dict) -> dict:
    """MISP's internal fetch layout: related data beside ``Event``, tags as ``EventTag``/``AttributeTag``."""
    def attribute_row(a: dict) -> dict:
        row = {k: v for k, v in a.items() if k != "Tag"}
        row.update(value1=a.get("value"), value2="", SharingGroup=[],
                   AttributeTag=[{"id": "9", "Tag": {**t, "org_id": "0"}} for t in a.get("Tag", [])])
        return row

    row = {k: v for k, v in event.items() if not isinstance(v, (list, dict))}
    raw = {"Event": {**row, "user_id": "3"}}
    for key in ("Orgc", "Org", "RelatedEvent", "Galaxy"):
        if key in event:
            raw[key] = event[key]
    raw["Attribute"] = [attribute_row(a) for a in event.get("Attribute", [])]
    raw["Object"] = [{**o, "Attribute": [attribute_row(a) for a in o.get("Attribute", [])]}
                     for o in event.get("Object", [])]
    raw["EventTag"] = [{"id": "5", "Tag": {**t, "org_id": "0"}} for t in event.get("Tag", [])]
    return raw


def variants(path: Path) -> dict:
    raw = load(path)
    misp_event = MISPEvent()
    misp_event.load(copy.deepcopy(raw))
    return {
        "file": raw,
        "rest": {"Event": unwrapped(raw)},
        "pymisp.to_dict": misp_event.to_dict(),
        "pymisp.to_json": json.loads(misp_event.to_json()),
        "numeric ids": numeric_ids({"Event": unwrapped(raw)}),
        "misp fetch": as_misp_fetch(unwrapped(raw)),
    }


def tag_names(tags) -> list:
    return [t["name"] for _, t in php.iter_items(tags)]


def check_core_format(converted: dict, source_event: dict) -> None:
    event = converted["Event"]
    attributes = list(event.get("Attribute") or [])
    objects = list(event.get("Object") or [])
    # objects without attributes are dropped; the others keep theirs, in order
    expected_objects = [o for o in source_event.get("Object") or [] if o.get("Attribute")]
    assert [o["uuid"] for o in objects] == [o["uuid"] for o in expected_objects]
    # _AttributeFlattened = Event.Attribute ++ object attributes: MISP's copies are the same
    # dicts here (equal, never edited in place), so an event's attributes are held once
    flattened = event["_AttributeFlattened"]
    expected = attributes + [a for o in objects for a in o["Attribute"]]
    assert [a["uuid"] for a in flattened] == [a["uuid"] for a in expected]
    assert flattened == expected
    assert all(f is e for f, e in zip(flattened, expected))
    # _allTags: event tags first (inherited), then the attribute's own
    event_tags = tag_names(event.get("Tag") or [])
    for attribute in expected:
        all_tags = attribute["_allTags"]
        own = tag_names(attribute.get("Tag") or [])
        assert tag_names(all_tags) == event_tags + own
        assert [t["inherited"] for t in all_tags] == [True] * len(event_tags) + [False] * len(own)
        assert "value1" not in attribute and "value2" not in attribute and "AttributeTag" not in attribute
    assert set(converted) <= {"Event", "errors"} | {k for k in converted if k.startswith("_")}


@pytest.mark.parametrize("path", EVENT_FILES, ids=[p.stem for p in EVENT_FILES])
def test_every_shape_of_every_event_converts_to_core_format(path: Path) -> None:
    assert EVENT_FILES, f"no events in {EVENTS}"
    source = unwrapped(load(path))
    results = {}
    for name, raw in variants(path).items():
        before = copy.deepcopy(raw) if name != "pymisp.to_dict" else None
        converted = convert.to_core_format(raw)
        check_core_format(converted, source)
        if before is not None:
            assert raw == before, f"{name}: the input was modified"
        results[name] = converted
    # a bare PyMISP event and the REST API's wrapped one give the same roaming data
    assert php.dumps(results["file"]) == php.dumps(results["rest"])
    fetched = results["misp fetch"]["Event"]
    assert "user_id" not in fetched
    assert tag_names(fetched["Tag"]) == tag_names(source.get("Tag") or [])
    assert all("org_id" not in t for t in fetched["Tag"])


@pytest.mark.parametrize("path", EVENT_FILES, ids=[p.stem for p in EVENT_FILES])
def test_conversion_is_idempotent_and_pymisp_shapes_agree(path: Path) -> None:
    converted = convert.to_core_format(load(path))
    assert php.dumps(convert.to_core_format(converted)) == php.dumps(converted)
    shapes = variants(path)
    assert php.dumps(convert.to_core_format(shapes["pymisp.to_dict"])) == \
        php.dumps(convert.to_core_format(shapes["pymisp.to_json"]))


def test_attribute_less_objects_are_dropped_and_underscore_keys_kept() -> None:
    raw = {"Event": {"id": "1", "Tag": [{"name": "tlp:red"}],
                     "Object": [{"uuid": "o1", "Attribute": []}, {"uuid": "o2"},
                                {"uuid": "o3", "Attribute": [{"uuid": "a1", "type": "ip-src", "Tag": []}]}]},
           "_module": "dns", "_other": [1], "Sighting": [{"attribute_id": "7"}]}
    converted = convert.to_core_format(raw)
    assert [o["uuid"] for o in converted["Event"]["Object"]] == ["o3"]
    assert converted["_module"] == "dns" and converted["_other"] == [1]
    assert "Sighting" not in converted
    assert hashpath.extract(converted, "Event._AttributeFlattened.{n}._allTags.{n}.name") == ["tlp:red"]


def test_sightings_correlations_and_empty_galaxy_meta() -> None:
    raw = {"Event": {"id": "1", "RelatedAttribute": {"7": [{"id": "99", "attribute_id": "70", "value": "x",
                                                             "org_id": "2", "info": "other event"}]}},
           "Attribute": [{"id": "7", "uuid": "a", "SharingGroup": {}}],
           "Sighting": [{"attribute_id": "7", "type": "0"}, {"attribute_id": "8"}],
           "Galaxy": [{"GalaxyCluster": [{"value": "c", "meta": []}]}], "Orgc": {"id": "1"}}
    assert convert.guess_scope(raw) == "event"  # without Orgc/Org/RelatedEvent it is attribute scope
    event = convert.to_core_format(raw)["Event"]
    attribute = event["Attribute"][0]
    assert attribute["Sighting"] == [{"attribute_id": "7", "type": "0"}]
    assert attribute["RelatedAttribute"] == [{"id": "70", "value": "x", "org_id": "2", "info": "other event",
                                              "event_id": "99"}]
    assert "SharingGroup" not in attribute and "RelatedAttribute" not in event
    assert '"meta":{}' in php.dumps(event["Galaxy"])


@pytest.mark.parametrize("raw, scope", [
    ({"Object": {}}, "object"),
    ({"Event": {}}, "event"),
    ({"Attribute": {"id": "1"}}, "attribute"),
    ({"Attribute": [{"id": "1"}], "Event": {}, "Orgc": {"id": "1"}}, "event"),
    ({"Attribute": [{"id": "1"}], "Event": {}}, "attribute"),
    ({"Attribute": [], "Event": {}}, None),
])
def test_scope_guessing_order(raw, scope) -> None:
    assert convert.guess_scope(raw) == scope


def test_no_scope_gives_a_near_empty_event_with_underscore_keys_first() -> None:
    converted = convert.to_core_format({"Attribute": [], "Event": {"id": "1"}, "_module": "x"})
    assert converted == {"_module": "x", "Event": {"_AttributeFlattened": []}}


# -- triggers ------------------------------------------------------------------------------------

EVENT_ROW = {"id": "5", "info": "e", "distribution": "1", "orgc_id": "1", "Orgc": {"id": "1", "name": "ORG"},
             "Tag": [{"id": "1", "name": "tlp:green"}]}
ATTRIBUTE = {"id": "50", "event_id": "5", "object_id": "0", "type": "ip-src", "value": "1.2.3.4",
             "Tag": [{"id": "2", "name": "pap:red"}]}


def test_attribute_after_save_holds_only_this_attribute() -> None:
    full_event = {**EVENT_ROW, "Attribute": [{"id": "51"}, {"id": "52"}]}
    data = convert.normalize_for_trigger("attribute-after-save", {"Attribute": ATTRIBUTE, "Event": full_event})
    assert [a["id"] for a in data["Event"]["Attribute"]] == ["50"]
    assert tag_names(data["Event"]["_AttributeFlattened"][0]["_allTags"]) == ["tlp:green", "pap:red"]
    in_object = {**ATTRIBUTE, "object_id": "9"}
    data = convert.normalize_for_trigger("attribute-after-save", {
        "Attribute": in_object, "Event": EVENT_ROW, "Object": {"id": "9", "name": "domain-ip"}})
    assert hashpath.extract(data, "Event.Object.0.Attribute.0.id") == ["50"]
    assert hashpath.extract(data, "Event._AttributeFlattened.{n}.object_id") == ["9"]
    orphan = convert.normalize_for_trigger("attribute-after-save", {"Attribute": ATTRIBUTE})
    assert orphan == {"Event": {"_AttributeFlattened": []}}  # event not found: near-empty, no failure


def test_object_after_save_drops_an_object_without_attributes() -> None:
    data = convert.normalize_for_trigger("object-after-save", {"Object": {"id": "9", "Attribute": []},
                                                               "Event": EVENT_ROW})
    assert data["Event"]["Object"] == [] or "Object" not in data["Event"]
    data = convert.normalize_for_trigger("object-after-save", {
        "Object": {"id": "9", "Attribute": [ATTRIBUTE]}, "Event": EVENT_ROW})
    assert hashpath.extract(data, "Event._AttributeFlattened.{n}.id") == ["50"]


def test_event_triggers() -> None:
    light = {"Event": {"id": "5", "info": "e"}, "Orgc": {"id": "1"},
             "EventTag": [{"Tag": {"id": "1", "name": "tlp:green", "org_id": "0"}}]}
    data = convert.normalize_for_trigger("event-after-save", light)
    assert data["Event"]["_AttributeFlattened"] == [] and data["Event"]["Orgc"] == {"id": "1"}
    assert data["Event"]["Tag"] == [{"id": "1", "name": "tlp:green"}]
    data = convert.normalize_for_trigger("enrichment-before-query", {
        "Attribute": {**ATTRIBUTE}, "Event": EVENT_ROW, "_module": "dns"})
    assert data["_module"] == "dns" and hashpath.extract(data, "Event.Attribute.{n}.id") == ["50"]
    bare = convert.normalize_for_trigger("event-publish", {"info": "PyMISP event", "Attribute": [ATTRIBUTE]})
    assert hashpath.extract(bare, "Event._AttributeFlattened.{n}.value") == ["1.2.3.4"]


def test_record_triggers_put_the_record_in_the_event() -> None:
    report = {"id": "3", "event_id": "5", "name": "r"}
    data = convert.normalize_for_trigger("event-report-after-save", {"EventReport": report, "Event": EVENT_ROW})
    assert data["Event"]["EventReport"] == [report] and data["Event"]["Tag"] == EVENT_ROW["Tag"]
    proposal = {"id": "4", "old_id": "50", "event_id": "5", "value": "5.6.7.8"}
    data = convert.normalize_for_trigger("shadow-attribute-after-save", {
        "ShadowAttribute": proposal, "Attribute": ATTRIBUTE, "Event": EVENT_ROW})
    assert hashpath.extract(data, "Event._AttributeFlattened.{n}.ShadowAttribute.{n}.value") == ["5.6.7.8"]
    new_proposal = {**proposal, "old_id": "0"}
    data = convert.normalize_for_trigger("shadow-attribute-before-save", {"ShadowAttribute": new_proposal,
                                                                          "Event": EVENT_ROW})
    assert data["Event"]["ShadowAttribute"] == [new_proposal] and data["Event"]["_AttributeFlattened"] == []
    sighting = {"id": "8", "attribute_id": "50", "Event": EVENT_ROW, "Attribute": ATTRIBUTE}
    data = convert.normalize_for_trigger("sighting-after-save", {"Sighting": sighting})
    assert hashpath.extract(data, "Event._AttributeFlattened.{n}.id") == ["50"]
    assert "Sighting" not in json.dumps(data)
    tag = {"id": "2", "name": "pap:red", "event_id": "5", "attribute_id": "50"}
    data = convert.normalize_for_trigger("tag-attached-after-save", {"Tag": tag, "Event": EVENT_ROW,
                                                                     "Attribute": ATTRIBUTE})
    assert hashpath.extract(data, "Event.Attribute.{n}.id") == ["50"] and "Tag" not in data
    data = convert.normalize_for_trigger("tag-attached-after-save", {"Tag": {**tag, "attribute_id": None},
                                                                     "Event": {**EVENT_ROW, "Attribute": [ATTRIBUTE]}})
    assert data["Event"]["_AttributeFlattened"] == []  # the light event has no attributes


def test_post_log_and_user_triggers() -> None:
    post = {"id": "1", "contents": "hi", "thread_id": "2"}
    data = convert.normalize_for_trigger("post-after-save", {"Post": post, "Thread": {"id": "2", "event_id": "5"},
                                                             "Event": EVENT_ROW})
    assert data["Post"] == post and data["Thread"]["id"] == "2"
    assert data["Event"]["_AttributeFlattened"] == [] and data["Event"]["id"] == "5"
    assert convert.normalize_for_trigger("post-after-save", {"Post": post}) == {"Post": post, "Thread": []}
    log = {"Log": {"id": "1", "model": "Event"}}
    assert convert.normalize_for_trigger("log-after-save", log) is log
    user = {"email": "a@b.c", "org_id": "1"}
    assert convert.normalize_for_trigger("user-before-save", user) is user


@pytest.mark.parametrize("trigger_id, raw", [
    ("event-report-after-save", {"Event": EVENT_ROW}),
    ("shadow-attribute-after-save", {}),
    ("sighting-after-save", {"Attribute": ATTRIBUTE}),
    ("tag-attached-after-save", {"Event": EVENT_ROW}),
    ("post-after-save", {"Thread": {}}),
    ("attribute-after-save", {"Event": EVENT_ROW}),
    ("event-publish", "not an event"),
    ("event-publish", {"Event": "not an event"}),
    ("no-such-trigger", {}),
])
def test_normalisation_failures(trigger_id, raw) -> None:
    with pytest.raises(NormalizationError):
        convert.normalize_for_trigger(trigger_id, raw)
