"""Change records: what a module did (or, offline, would have done) to MISP's stored event.

MISP's built-in actions change its database without touching the roaming data (tag operations,
publish, blocklist, ...) or change both (attribute edits). Outside MISP nobody stores anything,
so every data-changing module reports its changes as records (docs/contract.md §4), which:

* the runner folds into its stored-event view with :func:`apply_changes`, so its report and
  ``reload-full-event`` show the event as MISP would store it after the run;
* modules, and the automation service, replay on a live MISP through PyMISP
  (``misp_modules.lib.misp_writes``).

Records are plain JSON-able dicts built by the constructors below, never by hand.
"""

from __future__ import annotations

import copy
import time
import uuid as uuidlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from misp_modules.semantics.php import array_values, truthy

TAG_SCOPES = ("event", "attribute")
SET_SCOPES = ("event", "attribute", "object")

# Fields a proposal (ShadowAttribute) carries over to the attribute when accepted.
PROPOSAL_FIELDS = ("type", "category", "value", "to_ids", "comment", "first_seen", "last_seen",
                   "disable_correlation")


class ChangeError(ValueError):
    """A malformed change record (unknown op, missing field, bad scope)."""


# --- constructors (one per op of docs/contract.md §4) -------------------------------------------

def _scope(scope: str, allowed: tuple[str, ...]) -> str:
    if scope not in allowed:
        raise ChangeError(f"scope must be one of {', '.join(allowed)}, not {scope!r}")
    return scope


def attach_tag(scope: str, uuid: str, tag: str, local: bool, relationship_type: str | None = None) -> dict[Any, Any]:
    """Attach ``tag`` (or, if already attached, update its relationship type)."""
    return {"op": "attach_tag", "scope": _scope(scope, TAG_SCOPES), "uuid": uuid, "tag": tag,
            "local": bool(local), "relationship_type": relationship_type or None}


def detach_tag(scope: str, uuid: str, tag: str, local: bool | None = None) -> dict[Any, Any]:
    """Detach ``tag``: ``local`` True only local associations, False only global, None any."""
    return {"op": "detach_tag", "scope": _scope(scope, TAG_SCOPES), "uuid": uuid, "tag": tag,
            "local": None if local is None else bool(local)}


def set_field(scope: str, uuid: str, field: str, value: Any) -> dict[Any, Any]:
    """Set one field (``to_ids``, ``comment``, ``distribution``, ``sharing_group_id``, ...)."""
    return {"op": "set", "scope": _scope(scope, SET_SCOPES), "uuid": uuid, "field": field, "value": value}


def touch(scope: str, uuid: str, event_uuid: str | None = None) -> dict[Any, Any]:
    """MISP's touch: new timestamp, the event is unpublished. ``event_uuid`` (attribute scope,
    optional) spares :func:`apply_to_misp` a lookup of the attribute's event."""
    change = {"op": "touch", "scope": _scope(scope, TAG_SCOPES), "uuid": uuid}
    if event_uuid is not None and scope == "attribute":
        change["event_uuid"] = event_uuid
    return change


def publish(uuid: str) -> dict[Any, Any]:
    return {"op": "publish", "uuid": uuid}


def add_eventblocklist_entry(event_uuid: Any, event_info: Any, event_orgc: str, comment: str) -> dict[Any, Any]:
    return {"op": "add_eventblocklist_entry", "event_uuid": event_uuid, "event_info": event_info,
            "event_orgc": event_orgc, "comment": comment}


def add_to_warninglist(warninglist_id: Any, values: Iterable[Any]) -> dict[Any, Any]:
    return {"op": "add_to_warninglist", "warninglist_id": warninglist_id, "values": list(values)}


def accept_proposal(uuid: str, attribute_uuid: str | None = None) -> dict[Any, Any]:
    """Accept a proposal; ``attribute_uuid`` is the attribute it edits (None: a new attribute)."""
    return {"op": "accept_proposal", "uuid": uuid, "attribute_uuid": attribute_uuid}


def discard_proposal(uuid: str, attribute_uuid: str | None = None) -> dict[Any, Any]:
    return {"op": "discard_proposal", "uuid": uuid, "attribute_uuid": attribute_uuid}


def add_attribute(event_uuid: str, attribute: Mapping[str, Any]) -> dict[Any, Any]:
    return {"op": "add_attribute", "event_uuid": event_uuid, "attribute": dict(attribute)}


def add_object(event_uuid: str, obj: Mapping[str, Any]) -> dict[Any, Any]:
    return {"op": "add_object", "event_uuid": event_uuid, "object": dict(obj)}


ANALYST_DATA_TYPES = ("Note", "Opinion", "Relationship")
# What analyst data can be attached to (MISP's add_analyst_data node; PyMISP knows more).
ANALYST_DATA_TARGETS = ("Attribute", "Event", "EventReport", "GalaxyCluster", "Object")


def add_analyst_data(analyst_type: str, object_type: str, object_uuid: str,
                     fields: Mapping[str, Any]) -> dict[Any, Any]:
    """Add a Note, Opinion or Relationship to the ``object_type`` with ``object_uuid``. ``fields``
    are the analyst data's own (``note``/``language``, ``opinion``/``comment``,
    ``relationship_type``/``related_object_*``, ``distribution``, ``authors``...); MISP gives it
    its uuid, owner organisation and timestamps."""
    if analyst_type not in ANALYST_DATA_TYPES:
        raise ChangeError(f"analyst data type must be one of {', '.join(ANALYST_DATA_TYPES)}, not {analyst_type!r}")
    return {"op": "add_analyst_data", "type": analyst_type, "object_type": object_type,
            "object_uuid": object_uuid, "fields": dict(fields)}


OPS = ("attach_tag", "detach_tag", "set", "touch", "publish", "add_eventblocklist_entry",
       "add_to_warninglist", "accept_proposal", "discard_proposal", "add_attribute", "add_object",
       "add_analyst_data")


# --- the stored-event view ----------------------------------------------------------------------

def apply_changes(event: Mapping[Any, Any], changes: Iterable[Mapping[Any, Any]], *, now: int | None = None) -> dict[Any, Any]:
    """The stored event after ``changes`` (pure: ``event`` is not modified).

    ``event`` is ``{"Event": {...}}`` in MISP core format (``_AttributeFlattened``/``_allTags``
    kept in step with ``Attribute``/``Object``) or REST format (PyMISP ``get_event``); a bare
    event dict is accepted too and the same shape is returned. Changes aimed at another event
    and ops without an effect on the event (blocklist, warninglist) are ignored. ``now`` is the
    timestamp used by touch/publish (default: the current time).
    """
    if not isinstance(event, Mapping):
        raise ChangeError("apply_changes: the event must be an object")
    doc = _copy(event)
    ev = doc.get("Event")
    if not isinstance(ev, dict):
        ev = doc
    stamp = int(time.time()) if now is None else int(now)
    view = _EventView(ev, stamp, siblings=doc if ev is not doc else None)
    for change in changes:
        view.apply(change)
    view.finish()
    return doc


def _copy(event: Mapping[Any, Any]) -> dict[Any, Any]:
    """A deep copy; through orjson when the event is plain JSON (10x faster than deepcopy on a
    large event), else ``copy.deepcopy`` (PyMISP dicts may hold dates, UUIDs, ...)."""
    try:
        copied: dict[Any, Any] = orjson.loads(orjson.dumps(event))
        return copied
    except TypeError:
        return copy.deepcopy(dict(event))


def _tag_name(item: Any, row: bool) -> Any:
    if not isinstance(item, dict):
        return None
    return item["Tag"].get("name") if row and isinstance(item.get("Tag"), dict) else item.get("name")


class _EventView:
    """Mutates one event dict in place; knows where MISP keeps copies of each attribute.

    Layouts: core/REST (everything inside ``Event``, tags in ``Tag``) and MISP's fetch layout
    (``Attribute``/``Object`` beside ``Event``, tags as ``EventTag``/``AttributeTag`` rows whose
    ``Tag`` is the tag), which the runner keeps when the trigger received it that way.
    """

    def __init__(self, event: dict[Any, Any], now: int, siblings: dict[Any, Any] | None = None) -> None:
        self.event = event
        self.siblings = siblings or {}
        self.now = now
        self.tags_changed = False
        # Built on first use, dropped when attributes or tags are added: a change is applied
        # in time independent of the event's size (the runner folds every node's changes).
        self._copies: dict[Any, list[dict[Any, Any]]] | None = None
        self._holders: dict[Any, list[dict[Any, Any]]] | None = None
        self._tags: dict[Any, dict[Any, Any]] | None = None

    # where things live
    def _build_index(self) -> None:
        self._copies, self._holders = {}, {}
        for attr in self.all_attributes():
            self._copies.setdefault(attr.get("uuid"), []).append(attr)
        for obj in self.all_objects():
            for attr in array_values(obj.get("Attribute")):
                if isinstance(attr, dict):
                    holders = self._holders.setdefault(attr.get("uuid"), [])
                    if not any(o is obj for o in holders):
                        holders.append(obj)

    def _forget(self) -> None:
        self._copies = self._holders = self._tags = None

    def attribute_copies(self, attr_uuid: str) -> Iterator[dict[Any, Any]]:
        if self._copies is None:
            self._build_index()
        assert self._copies is not None  # built above
        yield from list(self._copies.get(attr_uuid, ()))

    def all_attributes(self) -> Iterator[dict[Any, Any]]:
        for holder in (self.event, self.siblings):
            for attr in array_values(holder.get("Attribute")):
                if isinstance(attr, dict):
                    yield attr
        for obj in self.all_objects():
            for attr in array_values(obj.get("Attribute")):
                if isinstance(attr, dict):
                    yield attr
        for attr in array_values(self.event.get("_AttributeFlattened")):
            if isinstance(attr, dict):
                yield attr

    def all_objects(self) -> Iterator[dict[Any, Any]]:
        for holder in (self.event, self.siblings):
            for obj in array_values(holder.get("Object")):
                if isinstance(obj, dict):
                    yield obj

    def objects_of(self, attr_uuid: str) -> Iterator[dict[Any, Any]]:
        if self._holders is None:
            self._build_index()
        assert self._holders is not None  # built above
        yield from list(self._holders.get(attr_uuid, ()))

    def is_this_event(self, uuid: Any) -> bool:
        return uuid is None or "uuid" not in self.event or self.event.get("uuid") == uuid

    def targets(self, scope: str, uuid: str) -> list[dict[Any, Any]]:
        if scope == "event":
            return [self.event] if self.is_this_event(uuid) else []
        if scope == "attribute":
            return list(self.attribute_copies(uuid))
        return [o for o in self.all_objects() if o.get("uuid") == uuid]

    # ops
    def apply(self, change: Mapping[Any, Any]) -> None:
        if not isinstance(change, Mapping):
            raise ChangeError("a change must be an object")
        op = change.get("op")
        handler = getattr(self, f"op_{op}", None) if op in OPS else None
        if handler is None:
            raise ChangeError(f"unknown change op {op!r} (expected one of: {', '.join(OPS)})")
        try:
            handler(change)
        except KeyError as exc:
            raise ChangeError(f"change {op!r} lacks field {exc.args[0]!r}") from None

    def tag_lists(self, scope: str, target: dict[Any, Any]) -> list[tuple[dict[Any, Any], str, bool]]:
        """``(holder, key, rows)``: where ``target``'s tags are listed; rows are
        ``EventTag``/``AttributeTag`` association rows holding the tag under ``Tag``."""
        row_key = "EventTag" if scope == "event" else "AttributeTag"
        holder = self.siblings if scope == "event" and row_key in self.siblings else target
        places = [(target, "Tag", False)] if "Tag" in target or row_key not in holder else []
        if row_key in holder:
            places.append((holder, row_key, True))
        return places

    def op_attach_tag(self, change: Mapping[Any, Any]) -> None:
        name, rel = change["tag"], change.get("relationship_type")
        for target in self.targets(change["scope"], change["uuid"]):
            for holder, key, rows in self.tag_lists(change["scope"], target):
                items = array_values(holder.get(key))
                holder[key] = items
                existing = [t for t in items if _tag_name(t, rows) == name]
                for item in existing:
                    item["relationship_type"] = rel
                    if rows and isinstance(item.get("Tag"), dict):
                        item["Tag"]["relationship_type"] = rel
                if not existing:
                    tag = self.new_tag(name, change["local"], rel)
                    items.append({"local": tag["local"], "relationship_type": rel, "Tag": tag} if rows else tag)
            self.tags_changed = True

    def op_detach_tag(self, change: Mapping[Any, Any]) -> None:
        name, local = change["tag"], change.get("local")
        for target in self.targets(change["scope"], change["uuid"]):
            for holder, key, rows in self.tag_lists(change["scope"], target):
                items = array_values(holder.get(key))
                kept = [t for t in items if not (_tag_name(t, rows) == name
                                                 and (local is None or truthy(t.get("local")) == local))]
                if len(kept) != len(items):
                    holder[key] = kept
                    self.tags_changed = True

    def op_set(self, change: Mapping[Any, Any]) -> None:
        for target in self.targets(change["scope"], change["uuid"]):
            target[change["field"]] = change["value"]

    def op_touch(self, change: Mapping[Any, Any]) -> None:
        if change["scope"] == "attribute":
            found = False
            for attr in self.attribute_copies(change["uuid"]):
                attr["timestamp"] = self.stamp_like(attr.get("timestamp"))
                found = True
            for obj in self.objects_of(change["uuid"]):
                obj["timestamp"] = self.stamp_like(obj.get("timestamp"))
            if not found:
                return
        elif not self.is_this_event(change["uuid"]):
            return
        self.event["published"] = False
        self.event["timestamp"] = self.stamp_like(self.event.get("timestamp"))

    def op_publish(self, change: Mapping[Any, Any]) -> None:
        if self.is_this_event(change["uuid"]):
            self.event["published"] = True
            self.event["publish_timestamp"] = self.stamp_like(self.event.get("publish_timestamp"))

    def op_add_eventblocklist_entry(self, change: Mapping[Any, Any]) -> None:
        pass  # MISP's blocklist table, not the event

    def op_add_to_warninglist(self, change: Mapping[Any, Any]) -> None:
        pass  # a warninglist, not the event

    def op_accept_proposal(self, change: Mapping[Any, Any]) -> None:
        proposal = self.take_proposal(change["uuid"])
        if proposal is None:
            return
        target_uuid = change.get("attribute_uuid")
        if target_uuid:
            for attr in self.attribute_copies(target_uuid):
                if truthy(proposal.get("proposal_to_delete")):
                    attr["deleted"] = True
                else:
                    for key in PROPOSAL_FIELDS:
                        if key in proposal:
                            attr[key] = proposal[key]
            self.op_touch({"scope": "attribute", "uuid": target_uuid})
        else:
            attribute = {k: proposal[k] for k in PROPOSAL_FIELDS if k in proposal}
            attribute.update(uuid=str(uuidlib.uuid4()), event_id=self.event.get("id"),
                             timestamp=self.stamp_like(self.event.get("timestamp")), Tag=[])
            self.op_add_attribute({"attribute": attribute})
            self.op_touch({"scope": "event", "uuid": None})

    def op_discard_proposal(self, change: Mapping[Any, Any]) -> None:
        self.take_proposal(change["uuid"])

    def op_add_attribute(self, change: Mapping[Any, Any]) -> None:
        if not self.is_this_event(change.get("event_uuid")):
            return
        self._forget()
        attribute = copy.deepcopy(dict(change["attribute"]))
        self.event["Attribute"] = array_values(self.event.get("Attribute")) + [attribute]
        if "_AttributeFlattened" in self.event:
            self.event["_AttributeFlattened"] = array_values(self.event["_AttributeFlattened"]) + [copy.deepcopy(attribute)]
        self.tags_changed = True  # refreshes _allTags on the new copies

    def op_add_object(self, change: Mapping[Any, Any]) -> None:
        if not self.is_this_event(change.get("event_uuid")):
            return
        self._forget()
        obj = copy.deepcopy(dict(change["object"]))
        self.event["Object"] = array_values(self.event.get("Object")) + [obj]
        if "_AttributeFlattened" in self.event:
            self.event["_AttributeFlattened"] = (array_values(self.event["_AttributeFlattened"])
                                                 + copy.deepcopy(array_values(obj.get("Attribute"))))
        self.tags_changed = True

    def op_add_analyst_data(self, change: Mapping[Any, Any]) -> None:
        """MISP's REST event lists analyst data as ``Note``/``Opinion``/``Relationship`` lists on
        what it is attached to (the event, an attribute, an object, a report, a cluster)."""
        kind = change["type"]
        if kind not in ANALYST_DATA_TYPES:
            raise ChangeError(f"add_analyst_data: unknown analyst data type {kind!r}")
        record = {**dict(change["fields"]), "object_type": change["object_type"],
                  "object_uuid": change["object_uuid"]}
        for target in self.analyst_data_targets(change["object_type"], change["object_uuid"]):
            target[kind] = array_values(target.get(kind)) + [copy.deepcopy(record)]

    def analyst_data_targets(self, object_type: Any, uuid: Any) -> list[dict[Any, Any]]:
        if object_type == "Event":
            return [self.event] if self.event.get("uuid") == uuid else []
        if object_type == "Attribute":
            return list(self.attribute_copies(uuid))
        if object_type == "Object":
            return [o for o in self.all_objects() if o.get("uuid") == uuid]
        if object_type == "EventReport":
            return [r for r in array_values(self.event.get("EventReport")) if isinstance(r, dict) and r.get("uuid") == uuid]
        if object_type == "GalaxyCluster":
            clusters = [c for c in array_values(self.event.get("GalaxyCluster")) if isinstance(c, dict)]
            for galaxy in array_values(self.event.get("Galaxy")):
                if isinstance(galaxy, dict):
                    clusters += [c for c in array_values(galaxy.get("GalaxyCluster")) if isinstance(c, dict)]
            return [c for c in clusters if c.get("uuid") == uuid]
        return []

    # helpers
    def take_proposal(self, proposal_uuid: str) -> dict[Any, Any] | None:
        """Remove a proposal (by uuid, or id) from every place it is listed; return it (None when unknown)."""
        found = None
        holders = [self.event, self.siblings] + list(self.all_attributes())
        for holder in holders:
            proposals = holder.get("ShadowAttribute")
            if proposals is None:
                continue
            items = array_values(proposals)
            named = [p for p in items if isinstance(p, dict)
                     and proposal_uuid in (p.get("uuid"), None if p.get("id") is None else str(p.get("id")))]
            if named:
                found = found or named[0]
                holder["ShadowAttribute"] = [p for p in items if not any(p is n for n in named)]
        return found

    def new_tag(self, name: str, local: bool, relationship_type: str | None) -> dict[Any, Any]:
        """A tag record shaped like the event's others (id, colour, ... copied when known)."""
        if self._tags is None:
            self._tags = {}
            for known in self.all_tags():
                self._tags.setdefault(known.get("name"), known)
        template = self._tags.get(name)
        tag = {k: v for k, v in (template or {}).items() if k not in ("inherited", "local", "relationship_type")}
        tag.setdefault("name", name)
        tag["local"] = 1 if local else 0
        tag["relationship_type"] = relationship_type
        tag = copy.deepcopy(tag)
        self._tags.setdefault(name, tag)
        return tag

    def all_tags(self) -> Iterator[dict[Any, Any]]:
        holders = [self.event, self.siblings] + list(self.all_attributes())
        for holder in holders:
            for tag in array_values(holder.get("Tag")):
                if isinstance(tag, dict):
                    yield tag
            for row in array_values(holder.get("EventTag")) + array_values(holder.get("AttributeTag")):
                if isinstance(row, dict) and isinstance(row.get("Tag"), dict):
                    yield row["Tag"]

    def stamp_like(self, previous: Any) -> Any:
        """MISP core format keeps timestamps as strings, REST as strings or ints: keep the type."""
        return str(self.now) if isinstance(previous, str) else self.now

    def finish(self) -> None:
        """Recompute ``_allTags`` (event tags first) where the view carries it."""
        if not self.tags_changed:
            return
        event_tags = [t for t in array_values(self.event.get("Tag")) if isinstance(t, dict)]
        has_all_tags = any("_allTags" in a for a in self.all_attributes())
        for attr in self.all_attributes():
            if "_allTags" in attr or (has_all_tags and "_allTags" not in attr):
                own = [t for t in array_values(attr.get("Tag")) if isinstance(t, dict)]
                attr["_allTags"] = ([{**t, "inherited": True} for t in event_tags]
                                    + [{**t, "inherited": False} for t in own])


def describe(change: Mapping[Any, Any]) -> str:
    """A short human description of a change, for errors and logs (no secrets in records)."""
    op = change.get("op")
    if op in ("attach_tag", "detach_tag"):
        return f"{op} {change.get('tag')!r} on {change.get('scope')} {change.get('uuid')}"
    if op == "set":
        return f"set {change.get('field')} on {change.get('scope')} {change.get('uuid')}"
    if op == "add_to_warninglist":
        return f"add_to_warninglist {change.get('warninglist_id')}"
    if op == "add_analyst_data":
        return f"add_analyst_data {change.get('type')} on {change.get('object_type')} {change.get('object_uuid')}"
    target = change.get("uuid") or change.get("event_uuid")
    return f"{op} {target}"
