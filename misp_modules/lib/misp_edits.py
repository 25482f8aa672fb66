"""MISP's tag and attribute edits, computed offline as change records.

MISP's built-in actions edit its database through a few model methods: ``Event`` /
``MispAttribute`` ``attachTagsTo…AndTouch`` and ``detachTagsFrom…AndTouch`` (tag operations and
replacements) and the attribute edition base class (``__saveAttributes``: IDS flag, comment).
Their results depend on what the database holds -- is the tag already attached? -- so
:class:`TagBook` keeps the associations the request shows: the runner's stored-event view when
it sent one (it holds the changes of earlier nodes), else the roaming data, updated with this
node's own changes as they are made.

Offline assumption (documented in the README): every tag name counts as known to MISP, so
detaching a tag that is not attached fails as it does in MISP for an existing tag (MISP
counts a tag name it has never seen as a successful detach).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.attribute_copies import AttributeIndex, entries, json_copy
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions, convert
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import loose_eq, truthy

# MispAttribute::$shortDist (leading space included) as MISP's {name, value} select options: the
# distribution param of the attribute and analyst-data nodes
ATTRIBUTE_DISTRIBUTIONS = [{"name": "Organisation", "value": 0}, {"name": "Community", "value": 1},
                           {"name": "Connected", "value": 2}, {"name": "All", "value": 3},
                           {"name": " Sharing Group", "value": 4}, {"name": "Inherit", "value": 5}]


def node_items(req: NodeRequest) -> Any:
    """What a tag operation works on: the node filter's matches when the node has a filter,
    else the whole roaming data. ``False`` when the selector cannot be extracted."""
    if conditions.filters_enabled(req.saved_filters):
        return conditions.matching_items(req.data, req.saved_filters)
    return req.data


def attributes_of(items: Any) -> list[dict]:
    """The dict items of a list or of a PHP-style map, in order."""
    return [item for _, item in entries(items) if isinstance(item, dict)]


def event_of(data: Any) -> dict:
    event = data.get("Event") if isinstance(data, Mapping) else None
    return event if isinstance(event, dict) else {}


def tag_names(tags: Any) -> list[Any]:
    """The tag names of a ``Tag`` list (``Hash::extract($tags, '{n}.name')``)."""
    return [t.get("name") for _, t in entries(tags) if isinstance(t, Mapping) and t.get("name") is not None]


class TagBook:
    """The tag associations of the event and its attributes, as MISP's database holds them."""

    def __init__(self, data: Any, stored_event: Any = None) -> None:
        self._data_event = event_of(data)
        self._stored: dict | None = None
        if isinstance(stored_event, Mapping) and stored_event:
            try:
                self._stored = event_of(convert.to_core_format(stored_event))
            except SemanticsError:
                self._stored = None
        self._book: dict[tuple[str, Any], list[dict]] = {}

    def associations(self, scope: str, target: Mapping[str, Any]) -> list[dict]:
        uuid = target.get("uuid")
        key = (scope, uuid)
        if key not in self._book:
            tags = target.get("Tag")
            stored = self._stored_target(scope, uuid)
            if stored is not None:
                tags = stored.get("Tag")
            self._book[key] = [
                {"name": t.get("name"), "local": truthy(t.get("local")), "relationship_type": t.get("relationship_type")}
                for _, t in entries(tags) if isinstance(t, Mapping)]
        return self._book[key]

    def _stored_target(self, scope: str, uuid: Any) -> Mapping | None:
        if self._stored is None:
            return None
        if scope == "event":
            return self._stored
        for _, attribute in entries(self._stored.get("_AttributeFlattened")):
            if isinstance(attribute, Mapping) and attribute.get("uuid") == uuid:
                return attribute
        return None

    def attach(self, scope: str, target: Mapping[str, Any], tags: Iterable[Any], local: bool | None,
               relationship_type: Any, event_uuid: Any = None) -> tuple[bool, list[dict]]:
        """``attachTagsTo{Event,Attribute}AndTouch``: attach what is missing, update the relationship
        type of what is there (when it differs), touch when something was attached. True when
        at least one tag was attached or already there."""
        uuid = target.get("uuid")
        held = self.associations(scope, target)
        success = touched = False
        changes: list[dict] = []
        for name in tags:
            if not isinstance(name, str) or not name:
                continue
            found = next((a for a in held if a["name"] == name), None)
            if found is None:
                held.append({"name": name, "local": bool(local), "relationship_type": relationship_type or None})
                changes.append(ch.attach_tag(scope, uuid, name, bool(local), relationship_type))
                touched = True
            elif relationship_type is not None and not loose_eq(found["relationship_type"], relationship_type):
                found["relationship_type"] = relationship_type
                changes.append(ch.attach_tag(scope, uuid, name, found["local"], relationship_type))
            success = True
        if touched:
            changes.append(self._touch(scope, uuid, event_uuid))
        return success or touched, changes

    def detach(self, scope: str, target: Mapping[str, Any], tags: Iterable[Any], local: bool | None,
               event_uuid: Any = None) -> tuple[bool, list[dict]]:
        """``detachTagsFrom{Event,Attribute}AndTouch``: detach one association per name (``local``
        True: local ones only, False: global ones only, None: any); touch when something went."""
        uuid = target.get("uuid")
        held = self.associations(scope, target)
        detached = False
        changes: list[dict] = []
        for name in tags:
            if not isinstance(name, str) or not name:
                continue
            found = next((a for a in held if a["name"] == name and (local is None or a["local"] == local)), None)
            if found is not None:
                held.remove(found)
                changes.append(ch.detach_tag(scope, uuid, name, local))
                detached = True
        if detached:
            changes.append(self._touch(scope, uuid, event_uuid))
        return detached, changes

    @staticmethod
    def _touch(scope: str, uuid: Any, event_uuid: Any) -> dict:
        return ch.touch(scope, uuid, event_uuid=event_uuid if scope == "attribute" else None)


def edit_attributes(data: Any, items: Any, edit: Callable[[dict], dict],
                    fields: tuple[str, ...]) -> tuple[bool, Any, list[dict]]:
    """The attribute edition base class (``__saveAttributes`` + ``_overrideAttribute``).

    Each item is edited, loses its ``timestamp`` (MISP assigns a new one) and replaces its
    copies in ``Event.Attribute``/``Event.Object[*].Attribute`` and ``Event._AttributeFlattened``
    of the returned data. ``_unfilteredData`` is left alone, so a later filter reset drops the
    edit, as in MISP (docs/misp-behaviour.md §7.7). Changes: ``set`` per field that changed, then a touch.
    Returns ``(at least one attribute saved, new data, changes)``; every save succeeds offline.
    """
    new_data = dict(data) if isinstance(data, Mapping) else {}
    event = json_copy(event_of(data))  # only Event is edited; _unfilteredData is shared, untouched
    new_data["Event"] = event
    index = AttributeIndex({"Event": event})
    event_uuid = event.get("uuid")
    success = False
    changes: list[dict] = []
    for item in attributes_of(items):
        edited = edit(dict(item))  # edits replace top-level fields: a shallow copy is enough
        edited.pop("timestamp", None)
        uuid = item.get("uuid")
        changed = [field for field in fields if field in edited and edited[field] != item.get(field)]
        if uuid is not None and changed:
            changes += [ch.set_field("attribute", uuid, field, edited[field]) for field in changed]
            changes.append(ch.touch("attribute", uuid, event_uuid=event_uuid))
        index.override(item, edited)
        success = True
    return success, new_data, changes


# --- tag replacement (Module_tag_replacement_generic and its TLP/PAP subclasses) -------------

REPLACEMENT_PARAMS = [
    {"id": "scope", "label": "Scope", "type": "select", "default": "event",
     "options": {"event": "Event", "attribute": "Attributes", "all": "All"}},
    {"id": "remove_substituted", "label": "Removed substituted tag", "type": "select", "default": "1",
     "options": {"no": "No", "yes": "Yes"}},
    {"id": "locality", "label": "Tag Locality", "type": "select", "default": "local",
     "options": {"local": "Local", "global": "Global"}},
    {"id": "relationship_type", "label": "Relationship Type", "type": "input",
     "display_on": {"action": "add"}},
]


def replace_tags(req: NodeRequest, substitute: Callable[[str], str | None], action: str) -> dict[str, Any]:
    """``Module_tag_replacement_generic::exec``: the node's answer, its changes written back
    (``action`` names the node in a write error).

    Tags are matched on the names the *roaming data* shows (``Event.Tag`` and each flattened
    attribute's ``Tag``); ``substitute`` gives a tag's replacement, or None when it does not
    match. With ``remove_substituted == "yes"`` (only that value: the default ``"1"`` never
    removes) the matched tags are detached -- local associations only, as MISP passes
    ``local=[0, 1]`` -- then the substitutions are attached. The result is the last operation's
    (true when there was nothing to do); empty items are true.
    """
    p = req.params
    errors = problems_of_replacement(p)
    try:
        items = node_items(req)
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"node filter: {exc}"], changes=[])
    if items is False:
        return reply(False, errors=[*errors, f"node filter: cannot extract {req.saved_filters['selector']!r}"],
                     changes=[])
    scope = p["scope"]
    on_event = loose_eq(scope, "event") or loose_eq(scope, "all")
    on_attributes = loose_eq(scope, "attribute") or loose_eq(scope, "all")
    if items in ([], {}, None, "", False):
        return reply(True, errors=errors, changes=[])
    remove = loose_eq(p["remove_substituted"], "yes")
    local = loose_eq(p["locality"], "local")
    relationship = p["relationship_type"]
    book = TagBook(req.data, req.stored_event)
    event_uuid = event_of(req.data).get("uuid")
    result = False
    changes: list[dict] = []

    def replace(scope_name: str, target: Mapping[str, Any]) -> bool:
        pairs = [(name, substitute(name)) for name in tag_names(target.get("Tag")) if isinstance(name, str)]
        pairs = [(name, new) for name, new in pairs if new is not None]
        done = True
        if remove and pairs:
            done, more = book.detach(scope_name, target, [name for name, _ in pairs], True, event_uuid)
            changes.extend(more)
        if pairs:
            done, more = book.attach(scope_name, target, [new for _, new in pairs], local, relationship, event_uuid)
            changes.extend(more)
        return done

    if on_event:
        event = event_of(items)
        if event.get("uuid") is None:
            errors.append("scope `event`: the selected items hold no event (a node filter for the "
                          "event scope needs the selector \"\")")
            result = False
        else:
            result = replace("event", event)
    if on_attributes:
        result = True
        for attribute in attributes_of(event_of(items).get("_AttributeFlattened")):
            result = replace("attribute", attribute)
    changes, failure = write_back(changes, dry_run=req.dry_run, action=action)
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    return reply(result, errors=errors, changes=changes)


def problems_of_replacement(params: Mapping[str, Any]) -> list[str]:
    from misp_modules.lib import node_params

    return node_params.problems(REPLACEMENT_PARAMS, params)


# --- reloading the stored event (WorkflowBaseModule::reloadRoamingData) ------------------------

def reload_event(req: NodeRequest, pending: Iterable[Mapping] = ()) -> dict:
    """The event as MISP stores it now, converted to core format (the new roaming data).

    Read from the configured MISP, unless this is a dry run and the runner sent its
    stored-event view (MISP then lacks the run's changes); else from that view. ``pending``
    are this node's changes: those not yet ``applied`` to MISP are folded in first. Raises
    :class:`LookupError` (a message for the node) when there is no source.
    """
    from misp_modules.lib.misp import MispUnreachable, get_misp, misp_configured

    unapplied = [c for c in pending if not c.get("applied")]
    has_view = isinstance(req.stored_event, dict) and bool(req.stored_event)
    if misp_configured() and not (req.dry_run and has_view):
        event = event_of(req.data)
        target = event.get("id") or event.get("uuid")
        if target in (None, ""):
            raise LookupError("the roaming data holds no Event.id or Event.uuid to reload")
        try:
            stored = get_misp("reloading the event").get_event(target, pythonify=False)
        except MispUnreachable as exc:
            raise LookupError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - PyMISP and requests errors
            raise LookupError(f"reading event {target} from MISP failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(stored, dict) or "Event" not in stored:
            said = stored.get("errors") if isinstance(stored, dict) else stored
            raise LookupError(f"MISP did not return event {target}: {said}")
    elif has_view:
        stored = req.stored_event
    else:
        raise LookupError("reloading the event needs it as stored: configure a MISP connection ([misp] url "
                          "and key) or run the workflow through the runner, which sends its stored-event view")
    if unapplied:
        stored = ch.apply_changes(stored, unapplied)
    return core_format(stored)


def core_format(stored: Any) -> dict:
    """A stored event in MISP core format, as MISP reloads it (``semantics.convert.reloaded``)."""
    return convert.reloaded(stored)
