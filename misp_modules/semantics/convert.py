"""The roaming data each trigger builds: MISP core format (``WorkflowFormatConverterTool``).

Workflows are written against this shape -- ``Event._AttributeFlattened`` (attributes then
object attributes), ``_allTags`` (event tags first, ``inherited: true``), objects without
attributes dropped -- so it must come out exactly as MISP builds it (docs/misp-behaviour.md §4.3, §6.2).

Offline differences, documented in docs/semantics.md: for attribute and object scopes MISP
re-fetches the owning event (and object) from its database; here they are read from the
``Event`` (and ``Object``) given beside the attribute/object in the raw data, keeping the event's
columns and tags only. PyMISP's ``MISPEvent.to_dict()`` (an event without its ``Event``
wrapper) is accepted and wrapped first.
"""

from __future__ import annotations

import datetime
import enum
import json
import uuid
from collections.abc import Mapping
from typing import Any

from . import php
from .errors import NormalizationError
from .php import is_array, is_empty, loose_eq

# JSONConverterTool::convert moves these top-level siblings inside Event.
_REARRANGE = ("Org", "Orgc", "SharingGroup", "Attribute", "ShadowAttribute", "RelatedAttribute",
              "RelatedEvent", "Galaxy", "Object", "EventReport", "CryptographicKey", "Note", "Opinion",
              "Relationship")
_ANALYST_DATA = ("Note", "Opinion", "Relationship")
_EVENT_MARKERS = ("info", "threat_level_id", "analysis")


def _values(value: Any) -> list[Any]:
    """The values of a PHP array (``array_values``); non-arrays give ``[]``."""
    if value.__class__ is list:
        return value
    return [v for _, v in php.iter_items(value)] if is_array(value) else []


def _isset(mapping: Any, key: str) -> bool:
    return isinstance(mapping, Mapping) and mapping.get(key) is not None


# ---------------------------------------------------------------------------------------------
# JSONConverterTool


def _clean_attribute(attribute: Any, sightings: Mapping[Any, Any], related: Any) -> Any:
    """Drop value1/value2 and an empty SharingGroup, AttributeTag -> Tag, attach sightings and
    correlations (``JSONConverterTool::__cleanAttributes``)."""
    if not isinstance(attribute, dict):
        return attribute
    out = dict(attribute)  # a fresh copy: the conversion may change it in place from here on
    out.pop("value1", None)
    out.pop("value2", None)
    if is_empty(out.get("SharingGroup")):
        out.pop("SharingGroup", None)
    attribute_id = php.php_key(out.get("id")) if out.get("id") is not None else None
    if attribute_id is not None and attribute_id in sightings:
        out["Sighting"] = sightings[attribute_id]
    if out.get("AttributeTag") is not None:
        out["Tag"] = [_without_org_id(php.lookup(t, "Tag")) for t in _values(out.pop("AttributeTag"))]
    correlations = php.lookup(related, attribute_id) if (attribute_id is not None and is_array(related)) else None
    if is_array(correlations):
        out["RelatedAttribute"] = [
            {"id": php.lookup(c, "attribute_id"), "value": php.lookup(c, "value"),
             "org_id": php.lookup(c, "org_id"), "info": php.lookup(c, "info"), "event_id": php.lookup(c, "id")}
            for c in _values(correlations) if is_array(c)]
    return out


def _without_org_id(tag: Any) -> Any:
    if isinstance(tag, dict) and "org_id" in tag:
        return {k: v for k, v in tag.items() if k != "org_id"}
    return tag


def _clean_attributes(attributes: Any, sightings: Mapping[Any, Any], related: Any) -> Any:
    if not is_array(attributes):
        return attributes
    cleaned = [(k, _clean_attribute(a, sightings, related)) for k, a in php.iter_items(attributes)]
    return _php_array(cleaned)


def _php_array(pairs: list[tuple[Any, Any]]) -> Any:
    """A list when the keys are ``0..n-1`` in order, else a dict (PHP keeps the keys)."""
    if all(k == i for i, (k, _) in enumerate(pairs)):
        return [v for _, v in pairs]
    return dict(pairs)


def _clean_objects(objects: Any, sightings: Mapping[Any, Any], related: Any) -> list[Any]:
    """Clean each object's attributes; objects without attributes are removed, then re-indexed."""
    out = []
    for obj in _values(objects):
        if isinstance(obj, dict) and not is_empty(obj.get("Attribute")):
            obj = dict(obj)
            obj["Attribute"] = _clean_attributes(obj["Attribute"], sightings, related)
            out.append(obj)
        elif not isinstance(obj, dict) and not is_empty(obj):
            out.append(obj)
    return out


def _json_converter(raw: Mapping[Any, Any]) -> dict[Any, Any]:
    """``JSONConverterTool::convert($event, false, true)``: everything moved inside ``Event``."""
    event = raw.get("Event")
    if event is None:
        event = {}
    elif not isinstance(event, dict):
        raise NormalizationError(f"Invalid input: Event must be an object, not {php.php_type_name(event)}")
    else:
        event = dict(event)
    for key in _REARRANGE:
        if raw.get(key) is not None:
            event[key] = raw[key]
    if is_empty(event.get("SharingGroup")):
        event.pop("SharingGroup", None)
    if not is_empty(event.get("Galaxy")):
        event["Galaxy"] = [_galaxy_with_meta(g) for g in _values(event["Galaxy"])]
    sightings: dict[Any, Any] = {}
    for sighting in _values(raw.get("Sighting")):
        if is_array(sighting):
            sightings.setdefault(php.php_key(php.lookup(sighting, "attribute_id")), []).append(sighting)
    related = event.get("RelatedAttribute")
    if event.get("Attribute") is not None:
        event["Attribute"] = _clean_attributes(event["Attribute"], sightings, related)
    if event.get("Object") is not None:
        event["Object"] = _clean_objects(event["Object"], sightings, related)
    if raw.get("EventTag") is not None:
        tags = dict(php.iter_items(event["Tag"])) if is_array(event.get("Tag")) else {}
        for k, event_tag in php.iter_items(raw["EventTag"]):
            tags[k] = _without_org_id(php.lookup(event_tag, "Tag"))
        event["Tag"] = _php_array(list(tags.items()))
    for key in _ANALYST_DATA:
        if is_array(event.get(key)):
            event[key] = [({k: v for k, v in e.items() if k != "SharingGroup"}
                           if isinstance(e, dict) and "SharingGroup" in e and is_empty(e["SharingGroup"]) else e)
                          for e in _values(event[key])]
    event.pop("RelatedAttribute", None)
    event.pop("user_id", None)
    if is_array(event.get("extensionEvents")):
        event["extensionEvents"] = _php_array([
            (k, {kk: vv for kk, vv in e.items() if kk != "user_id"} if isinstance(e, dict) else e)
            for k, e in php.iter_items(event["extensionEvents"])])
    result = {"Event": event}
    if raw.get("errors") is not None:
        result["errors"] = raw["errors"]
    return result


def _galaxy_with_meta(galaxy: Any) -> Any:
    """Galaxy clusters with an empty ``meta`` get ``meta: {}`` (a PHP ``stdClass``)."""
    if not isinstance(galaxy, dict) or not is_array(galaxy.get("GalaxyCluster")):
        return galaxy
    clusters = []
    for cluster in _values(galaxy["GalaxyCluster"]):
        if isinstance(cluster, dict) and is_empty(cluster.get("meta")):
            cluster = {**cluster, "meta": php.JsonObject()}
        clusters.append(cluster)
    return {**galaxy, "GalaxyCluster": clusters}


# ---------------------------------------------------------------------------------------------
# WorkflowFormatConverterTool


def _add_all_tags(attributes: Any, inherited: list[Any]) -> None:
    """``_allTags`` on each (freshly copied, see ``_clean_attribute``) attribute, in place."""
    for attribute in _values(attributes):
        if isinstance(attribute, dict):
            own = attribute.get("Tag")
            own = [{**t, "inherited": False} if isinstance(t, dict) else t for t in _values(own)] if own else []
            attribute["_allTags"] = inherited + own


def _convert_event(raw: Mapping[Any, Any]) -> dict[Any, Any]:
    """Event scope: the JSON-converter, then every attribute gets ``_allTags``.

    The inherited event tags are one list of dicts shared by every attribute's ``_allTags``
    (PHP copies them): the roaming data is treated as immutable, never edited in place.
    """
    converted = _json_converter(raw)
    event = converted["Event"]
    inherited = [{**t, "inherited": True} if isinstance(t, dict) else t for t in _values(event.get("Tag"))]
    if not is_empty(event.get("Attribute")):
        _add_all_tags(event["Attribute"], inherited)
    for obj in _values(event.get("Object")):
        if isinstance(obj, dict) and not is_empty(obj.get("Attribute")):
            _add_all_tags(obj["Attribute"], inherited)
    return converted


def _event_row(event: Any) -> dict[Any, Any] | None:
    """What MISP's event fetch returns for the owning event: its columns and its tags only."""
    if not isinstance(event, Mapping):
        return None
    row = {k: v for k, v in event.items() if not is_array(v) or k in ("Tag", "EventTag")}
    return row


def _single_or_many(value: Any) -> list[Any]:
    """``Attribute`` may be one attribute or a list of them (event enrichment)."""
    if isinstance(value, dict) and any(php.php_key(k).__class__ is str for k in value):
        return [value]
    return _values(value)


def _encapsulate(raw: Mapping[Any, Any], attributes: list[Any], objects: list[Any]) -> dict[Any, Any]:
    """Put the entities in their event (``Event.Attribute``/``Event.Object``) and convert it."""
    row = _event_row(raw.get("Event"))
    if row is None:
        return {}
    wrapper: dict[Any, Any] = {"Event": {k: v for k, v in row.items() if k != "EventTag"}}
    if "EventTag" in row:
        wrapper["EventTag"] = row["EventTag"]
    if attributes:
        wrapper["Event"]["Attribute"] = attributes
    if objects:
        wrapper["Event"]["Object"] = objects
    return _convert_event(wrapper)


def _convert_attribute(raw: Mapping[Any, Any]) -> dict[Any, Any]:
    """Attribute scope: each attribute alone in its event (inside its object if it has one)."""
    given_object = raw.get("Object") if isinstance(raw.get("Object"), Mapping) else None
    attributes, objects = [], []
    for attribute in _single_or_many(raw.get("Attribute")):
        attribute = _clean_attribute(attribute, {}, None)
        object_id = php.lookup(attribute, "object_id") if is_array(attribute) else None
        if not is_empty(object_id) and not loose_eq(object_id, 0) and given_object is not None and (
                given_object.get("id") is None or loose_eq(given_object.get("id"), object_id)):
            row = {k: v for k, v in given_object.items() if k != "Attribute"}
            objects.append({**row, "Attribute": [attribute]})
        else:
            attributes.append(attribute)
    return _encapsulate(raw, attributes, objects)


def _convert_object(raw: Mapping[Any, Any]) -> dict[Any, Any]:
    """Object scope: the object (with its attributes) alone in its event."""
    obj = raw.get("Object")
    objects = [obj] if isinstance(obj, Mapping) else _values(obj)
    return _encapsulate(raw, [], [dict(o) if isinstance(o, Mapping) else o for o in objects])


def guess_scope(raw: Mapping[Any, Any]) -> str | None:
    """``__guessScopeFromData``: ``object``, ``event``, ``attribute`` or None (first rule wins)."""
    if _isset(raw, "Object") and not _isset(raw, "Attribute"):
        return "object"
    if not _isset(raw, "Attribute"):
        return "event"
    if not _isset(raw, "Event"):
        return "attribute"
    if _isset(raw, "RelatedEvent") or _isset(raw, "Orgc") or _isset(raw, "Org"):
        return "event"
    if not is_empty(raw.get("Attribute")):
        return "attribute"
    return None


def is_bare_event(raw: Any) -> bool:
    """An event without its ``Event`` wrapper, as PyMISP's ``MISPEvent.to_dict()`` gives it."""
    return isinstance(raw, Mapping) and "Event" not in raw and any(k in raw for k in _EVENT_MARKERS)


def _flattened(event: Mapping[Any, Any]) -> list[Any]:
    """``Event.Attribute`` then every object's attributes, without the object wrapper. MISP
    copies them (PHP arrays are values); here they are the same dicts, equal by construction and
    never edited in place (the data is immutable by convention): an event's attributes are held
    once, not twice, and encoded from the same objects."""
    out = list(_values(event.get("Attribute")))
    for obj in _values(event.get("Object")):
        if is_array(obj):
            out.extend(_values(php.lookup(obj, "Attribute")))
    return out


def _json_default(value: Any) -> Any:
    """How PyMISP objects travel as JSON (``MISPEvent.to_dict()`` nests MISP objects)."""
    if isinstance(value, Mapping):
        to_dict = getattr(value, "to_dict", None)
        return to_dict() if callable(to_dict) else dict(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise NormalizationError(f"Invalid input: cannot read a {type(value).__name__} value")


def _needs_json(raw: Mapping[Any, Any]) -> bool:
    """Whether ``raw`` holds non-JSON objects (PyMISP's ``to_dict()`` keeps MISP objects nested)."""
    def odd(value: Any) -> bool:
        if value.__class__ in (dict, list, str, int, float, bool) or value is None:
            if value.__class__ is list and value:
                return odd(value[0])
            return False
        return True

    if raw.__class__ is not dict:
        return True
    for value in raw.values():
        if odd(value):
            return True
        if value.__class__ is dict and any(odd(v) for v in value.values()):
            return True
    return False


def plain(raw: Any) -> Any:
    """``raw`` as plain JSON values: PyMISP objects, dates and UUIDs as they serialise."""
    if isinstance(raw, Mapping) and not _needs_json(raw):
        return raw
    try:
        return php.loads(json.dumps(raw, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise NormalizationError(f"Invalid input: {exc}") from None


def to_core_format(raw: Mapping[Any, Any], scope: str | None = None) -> dict[Any, Any]:
    """``WorkflowFormatConverterTool::convert``: MISP core format with ``_AttributeFlattened``,
    ``_allTags`` on every attribute, and the input's ``_``-prefixed top-level keys.

    The input is not modified. A bare PyMISP event dict is wrapped in ``{"Event": ...}`` first.
    """
    if not isinstance(raw, Mapping):
        raise NormalizationError(f"Invalid input: expected an object, not {php.php_type_name(raw)}")
    raw = plain(raw)
    if is_bare_event(raw):
        raw = {"Event": raw}
    scope = scope or guess_scope(raw)
    if scope == "event":
        converted = _convert_event(raw)
    elif scope == "attribute":
        converted = _convert_attribute(raw)
    elif scope == "object":
        converted = _convert_object(raw)
    else:
        converted = {}
    for key, value in raw.items():
        if isinstance(key, str) and key.startswith("_"):
            converted[key] = value
    event = converted.get("Event")
    if not isinstance(event, dict):
        event = {}
    converted["Event"] = {**event, "_AttributeFlattened": _flattened(event)}
    return converted


def reloaded(stored: Any) -> dict[Any, Any]:
    """A stored event as MISP's ``reloadRoamingData`` hands it back (``fetchEvent`` then
    ``WorkflowFormatConverterTool::convert``): MISP core format, ``_AttributeFlattened``/``_allTags``
    recomputed; roaming-only top-level keys (``_module``, ``enabledFilters``, ``_unfilteredData``)
    do not survive."""
    if isinstance(stored, Mapping) and isinstance(stored.get("Event"), Mapping):
        event = {k: v for k, v in stored["Event"].items() if k != "_AttributeFlattened"}
        stored = {**{k: v for k, v in stored.items() if not (isinstance(k, str) and k.startswith("_"))},
                  "Event": event}
    return to_core_format(stored)


# ---------------------------------------------------------------------------------------------
# Triggers (misp-behaviour.md §4.3)

_EVENT_TRIGGERS = {"event-publish", "event-after-save-new", "event-after-save-new-from-pull",
                   "event-after-save", "event-before-save", "enrichment-before-query", "event-before-delete"}
ANALYST_DATA_TYPES = ("Note", "Opinion", "Relationship")
_UNCHANGED_TRIGGERS = {"log-after-save", "user-before-save", "user-after-save"}


def _required(raw: Any, key: str, trigger_id: str) -> Mapping[Any, Any]:
    if not isinstance(raw, Mapping):
        raise NormalizationError(f"{trigger_id}: Invalid input.")
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise NormalizationError(f"{trigger_id}: Invalid input. The data has no `{key}`.")
    return value


def _light_event(raw: Mapping[Any, Any], extra: Mapping[Any, Any] | None = None) -> dict[Any, Any]:
    """MISP's light event fetch -- columns, ``Orgc`` and tags -- from the ``Event`` given beside
    the record (the offline stand-in for MISP's database)."""
    event = raw.get("Event")
    event = event if isinstance(event, Mapping) else {}
    base = {k: v for k, v in event.items() if not is_array(v) or k in ("Orgc", "Tag")}
    wrapped: dict[Any, Any] = {"Event": base}
    if raw.get("Orgc") is not None and "Orgc" not in base:
        wrapped["Orgc"] = raw["Orgc"]
    event_tags = event.get("EventTag") if event.get("EventTag") is not None else raw.get("EventTag")
    if event_tags is not None:
        wrapped["EventTag"] = event_tags
    if extra:
        base.update(extra)
    return wrapped


def _analyst_data_event(raw: Any) -> dict[Any, Any]:
    """``analyst-data-after-save``'s ``normalizeData`` (docs/misp-behaviour.md §16.6): the light
    event the analyst data (``{Note|Opinion|Relationship: {..., object_type, object_uuid}}``) is
    attached to, with ``Event.<Type> = [the analyst data]``. MISP finds that event in its database;
    offline it is the ``Event`` given beside the analyst data, and the analyst data is the first
    other key. What MISP does not find is its "Invalid input."."""
    invalid = "analyst-data-after-save: Invalid input."
    if not isinstance(raw, Mapping):
        raise NormalizationError(invalid)
    kind = next((k for k in raw if k != "Event"), None)
    record = raw.get(kind) if kind is not None else None
    if kind not in ANALYST_DATA_TYPES or not isinstance(record, Mapping):
        raise NormalizationError(f"{invalid} The data's first key is not Note, Opinion or Relationship.")
    object_type, target = record.get("object_type"), record.get("object_uuid")
    event = raw.get("Event") if isinstance(raw.get("Event"), Mapping) else None
    if event is None:
        raise NormalizationError(f"{invalid} No `Event` is given beside the {kind} (MISP reads it from its database).")
    if loose_eq(object_type, "Event"):
        found = loose_eq(event.get("uuid"), target)
    elif loose_eq(object_type, "Attribute"):
        objects = event.get("Object") if isinstance(event.get("Object"), list) else []
        attributes = list(event.get("Attribute") or []) + [a for o in objects if isinstance(o, Mapping)
                                                          for a in (o.get("Attribute") or [])]
        found = any(isinstance(a, Mapping) and loose_eq(a.get("uuid"), target) for a in attributes)
    elif loose_eq(object_type, "Object"):
        raise NormalizationError(
            "analyst-data-after-save: MISP looks the object up with a condition on `Attribute.uuid` in the "
            "objects table (no such column there), so its database query fails for analyst data on an object")
    elif loose_eq(object_type, "EventReport"):
        reports = event.get("EventReport") if isinstance(event.get("EventReport"), list) else []
        found = any(isinstance(r, Mapping) and loose_eq(r.get("uuid"), target) for r in reports)
    else:
        found = False
    if not found:
        raise NormalizationError(f"{invalid} The {object_type} `{target}` the {kind} is attached to is not in the "
                                 "given Event.")
    return _light_event(raw, {kind: [dict(record)]})


def _with_attribute(raw: Mapping[Any, Any], attribute: Mapping[Any, Any]) -> dict[Any, Any]:
    """The light event holding ``attribute`` (in ``Event.Object[0]`` when it has an object)."""
    wrapped = _light_event(raw)
    obj = raw.get("Object")
    object_id = attribute.get("object_id")
    if isinstance(obj, Mapping) and not is_empty(object_id) and not loose_eq(object_id, 0):
        row = {k: v for k, v in obj.items() if k != "Attribute"}
        wrapped["Event"]["Object"] = [{**row, "Attribute": [dict(attribute)]}]
    else:
        wrapped["Event"]["Attribute"] = [dict(attribute)]
    return wrapped


def normalize_for_trigger(trigger_id: str, raw: Any) -> Any:
    """The roaming data trigger ``trigger_id`` builds from ``raw`` (its ``normalizeData``).

    Raises :class:`NormalizationError` where MISP's normalisation fails (a missing key).
    """
    if trigger_id in _UNCHANGED_TRIGGERS:
        return raw
    if isinstance(raw, list):  # a JSON list is a PHP array too: [] is the empty map
        raw = dict(enumerate(raw))
    if isinstance(raw, Mapping):
        raw = plain(raw)
    if trigger_id.startswith("adhoc_"):  # AdHocTrigger: the base trigger's convertData, whatever the data
        if not isinstance(raw, Mapping):
            raise NormalizationError(f"{trigger_id}: Invalid input.")
        return to_core_format(raw)
    if trigger_id in _EVENT_TRIGGERS:
        if not isinstance(raw, Mapping):
            raise NormalizationError(f"{trigger_id}: Invalid input.")
        return to_core_format(raw, "event" if trigger_id == "event-before-save" else None)
    if trigger_id == "attribute-after-save":
        _required(raw, "Attribute", trigger_id)
        return to_core_format(raw, "attribute")
    if trigger_id == "object-after-save":
        _required(raw, "Object", trigger_id)
        return to_core_format(raw, "object")
    if trigger_id == "analyst-data-after-save":
        return to_core_format(_analyst_data_event(raw), "event")
    if trigger_id == "event-report-after-save":
        report = _required(raw, "EventReport", trigger_id)
        return to_core_format(_light_event(raw, {"EventReport": [dict(report)]}), "event")
    if trigger_id in ("shadow-attribute-before-save", "shadow-attribute-after-save"):
        proposal = _required(raw, "ShadowAttribute", trigger_id)
        if not is_empty(proposal.get("old_id")):
            target = raw.get("Attribute") if isinstance(raw.get("Attribute"), Mapping) else {
                "id": proposal.get("old_id"), "event_id": proposal.get("event_id")}
            attribute = {**target, "ShadowAttribute": [dict(proposal)]}
            return to_core_format({**{k: v for k, v in raw.items() if k != "ShadowAttribute"},
                                   "Attribute": attribute}, "attribute")
        return to_core_format(_light_event(raw, {"ShadowAttribute": [dict(proposal)]}), "event")
    if trigger_id == "sighting-after-save":
        sighting = _required(raw, "Sighting", trigger_id)
        context = {"Event": raw.get("Event") if isinstance(raw.get("Event"), Mapping) else sighting.get("Event"),
                   "Object": raw.get("Object")}
        found = raw.get("Attribute") if isinstance(raw.get("Attribute"), Mapping) else sighting.get("Attribute")
        if isinstance(found, Mapping):
            return to_core_format(_with_attribute(context, found), "event")
        return to_core_format(_light_event(context), "event")
    if trigger_id == "tag-attached-after-save":
        tag = _required(raw, "Tag", trigger_id)
        attribute = raw.get("Attribute")
        if not is_empty(tag.get("attribute_id")) and isinstance(attribute, Mapping):
            return to_core_format(_with_attribute(raw, attribute), "event")
        return to_core_format(_light_event(raw), "event")
    if trigger_id == "post-after-save":
        post = _required(raw, "Post", trigger_id)
        thread = raw.get("Thread")
        out: dict[Any, Any] = {"Post": post, "Thread": thread if is_array(thread) else []}
        event = raw.get("Event")
        if isinstance(event, Mapping) and not is_empty(event):
            out["Event"] = to_core_format({"Event": _event_row(event)}, "event")["Event"]
        return out
    raise NormalizationError(f"unknown trigger `{trigger_id}`")
