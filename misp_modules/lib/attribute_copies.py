"""Where an attribute lives in MISP core-format roaming data, and how MISP's actions edit it there.

Every attribute exists twice in the roaming data: in ``Event.Attribute`` (or its object's
``Attribute`` list) and in ``Event._AttributeFlattened``; while a generic filter is active, again
in ``_unfilteredData``. MISP's action base class (``WorkflowBaseActionModule``) indexes those
copies by attribute ``id`` once per node run (``_buildFastLookupForRoamingData``) over
``Event.Attribute``, the objects' ``Attribute`` lists and ``Event._AttributeFlattened`` (docs/misp-behaviour.md
§6.4), and writes through the index. Both writers ported here,
:meth:`AttributeIndex.override` (``_overrideAttribute``: attach-warninglist, IDS-flag and comment
edits, hashlookup curation) and :meth:`AttributeIndex.append_enrichment` (attach-enrichment),
reach only those ``Event`` copies, never the ``_unfilteredData`` snapshot: a later
``generic-filter-reset`` drops every edit and enrichment made under a filter (MISP quirk, §7.7,
kept).

Containers may be JSON lists or PHP-style maps (``{"0": a, "2": c}``) after a filter; keys are
kept as found. Attributes without an ``id`` are indexed by ``uuid`` (offline data); an
attribute that has no copy somewhere is skipped there (MISP would write under a null key).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

Key = Any  # list index or map key, as found


def json_copy(data: Any) -> Any:
    """A deep copy of JSON data (10x faster than ``copy.deepcopy`` on a large event), so a
    handler can edit the roaming data without touching its caller's."""
    return orjson.loads(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))


def entries(container: Any) -> Iterator[tuple[Key, Any]]:
    """``(key, item)`` of a JSON list or a PHP-style map; nothing for anything else."""
    if isinstance(container, list):
        yield from enumerate(container)
    elif isinstance(container, dict):
        yield from container.items()


def identity(attribute: Mapping[str, Any]) -> Any:
    """MISP's index key: the attribute ``id`` (``uuid`` when the data has no ids)."""
    ident = attribute.get("id")
    if ident in (None, ""):
        return ("uuid", attribute.get("uuid"))
    return ("id", str(ident))


def flattened(data: Any) -> list[dict]:
    """``Event._AttributeFlattened`` as a list (MISP's ``Hash::extract(..., '{n}')`` keeps order)."""
    event = data.get("Event") if isinstance(data, Mapping) else None
    if not isinstance(event, Mapping):
        return []
    return [a for _, a in entries(event.get("_AttributeFlattened")) if isinstance(a, dict)]


def target_attributes(data: Any, filtered_items: Any = None) -> list[dict]:
    """The attributes a MISP-facing action works on: those of ``filteredItems`` when MISP sent
    some, else every flattened attribute of the data.

    MISP sends ``filteredItems`` as the items its node filter selected, or the whole data when
    nothing matched (docs/misp-modules-protocol.md §6, misp-behaviour.md §11.2). Items may be attributes,
    events (``{"Event": ...}`` or a bare event dict): each counts with its attributes.
    """
    if filtered_items is None:
        return flattened(data)
    found: list[dict] = []
    items = [filtered_items] if isinstance(filtered_items, Mapping) and _is_event_like(filtered_items) \
        else [item for _, item in entries(filtered_items)]
    for item in items:
        if not isinstance(item, dict):
            continue
        if "type" in item and "value" in item:
            found.append(item)
        elif isinstance(item.get("Event"), Mapping):
            found.extend(flattened(item))
        elif _is_event_like(item):
            found.extend(flattened({"Event": item}))
    seen: set = set()
    unique = []
    for attribute in found:
        ident = identity(attribute)
        if ident not in seen:
            seen.add(ident)
            unique.append(attribute)
    return unique


def _is_event_like(item: Mapping[str, Any]) -> bool:
    return "Event" in item or "_AttributeFlattened" in item or ("Attribute" in item and "info" in item)


class _Locations:
    """Index of one event dict: attribute identity → its place in the nested and flat lists."""

    def __init__(self, event: Any) -> None:
        self.event = event if isinstance(event, dict) else {}
        self.nested: dict[Any, tuple[Key | None, Key]] = {}  # (object key or None, attribute key)
        self.flat: dict[Any, Key] = {}
        for key, attribute in entries(self.event.get("Attribute")):
            if isinstance(attribute, Mapping):
                self.nested[identity(attribute)] = (None, key)
        for okey, obj in entries(self.event.get("Object")):
            if isinstance(obj, Mapping):
                for key, attribute in entries(obj.get("Attribute")):
                    if isinstance(attribute, Mapping):
                        self.nested[identity(attribute)] = (okey, key)
        for key, attribute in entries(self.event.get("_AttributeFlattened")):
            if isinstance(attribute, Mapping):
                self.flat[identity(attribute)] = key

    def nested_container(self, ident: Any) -> tuple[Any, Key] | None:
        place = self.nested.get(ident)
        if place is None:
            return None
        okey, key = place
        if okey is None:
            return self.event["Attribute"], key
        return self.event["Object"][okey]["Attribute"], key

    def flat_container(self, ident: Any) -> tuple[Any, Key] | None:
        key = self.flat.get(ident)
        return None if key is None else (self.event["_AttributeFlattened"], key)


class AttributeIndex:
    """MISP's per-node attribute index over ``data`` (mutated in place by the writers)."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.current = _Locations(data.get("Event"))

    def override(self, old: Mapping[str, Any], new: dict) -> None:
        """Replace both copies of ``old`` in the current view with ``new``."""
        ident = identity(old)
        for place in (self.current.flat_container(ident), self.current.nested_container(ident)):
            if place is not None:
                container, key = place
                container[key] = new

    def append_enrichment(self, attribute: Mapping[str, Any], result: Any) -> None:
        """Append ``result`` to the ``enrichment`` list of both copies in the current view."""
        ident = identity(attribute)
        seen: list[Any] = []
        for place in (self.current.flat_container(ident), self.current.nested_container(ident)):
            if place is None:
                continue
            container, key = place
            target = container[key]
            if any(target is other for other in seen):  # one object in both places (built in Python)
                continue
            seen.append(target)
            enrichment = target.get("enrichment")
            if isinstance(enrichment, list):
                enrichment.append(result)
            elif isinstance(enrichment, dict):  # a PHP map: append under the next integer key
                ints = [int(k) for k in enrichment if str(k).lstrip("-").isdigit()]
                enrichment[str(max(ints) + 1 if ints else 0)] = result
            else:
                target["enrichment"] = [result]
