"""MISP's "Tag operation" action (``tag_operation``, v0.2).

Adds or removes tags on the event or on the attributes: the node filter's matches when the node
has a filter (event scope needs the filter's selector ``""``, which keeps ``{"Event": ...}``),
else the whole event or every flattened attribute. MISP changes only its database, so the
roaming data is untouched and the node reports ``changes`` (attach/detach, then a touch when
something changed), applied to MISP through PyMISP when one is configured and the run is not a
dry run. Adding a tag that is already attached (any locality) changes nothing but its
relationship type; "attached" is read from the runner's stored-event view (``stored_event``,
which holds earlier nodes' changes), else from the roaming data. Results as MISP's: event scope true when a tag was attached or already
there (remove: when one was detached); attribute scope the OR over attributes, so an empty
selection is false -- with no message, as in MISP.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import EMPTY_SELECTION, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import TagBook, attributes_of, event_of, node_items
from misp_modules.lib.misp_writes import write_back
from misp_modules.lib.node_params import as_list
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import loose_eq

node = declare(
    misp_id="tag_operation", module_type="action", name="Tag operation", version="0.2", support_filters=True,
    expect_misp_core_format=True, needs_stored_event=True,
    description="Add or remove tags on Event or Attributes.",
    features="Tag changes are reported as change records and written to MISP through PyMISP when configured.",
    params=[
        {"id": "scope", "label": "Scope", "type": "select", "default": "event",
         "options": {"event": "Event", "attribute": "Attributes"}},
        {"id": "action", "label": "Action", "type": "select", "default": "add",
         "options": {"add": "Add Tags", "remove": "Remove Tags"}},
        {"id": "locality", "label": "Tag Locality", "type": "select", "default": "local",
         "options": {"local": "Local", "global": "Global", "any": "Any"}},
        {"id": "tags", "label": "Tags", "type": "picker", "multiple": True, "options": [],
         "placeholder": "Pick a tag"},
        {"id": "relationship_type", "label": "Relationship Type", "type": "input",
         "display_on": {"action": "add"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    p = req.params
    errors = node_params.problems(node.params, p, required=("tags",))
    by_event = loose_eq(p["scope"], "event")
    try:
        items = node_items(req) if by_event else conditions.matching_attributes(req.data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"node filter: {exc}"])
    if items is False:
        return reply(False, errors=[*errors, f"node filter: cannot extract {req.saved_filters['selector']!r}"])
    tags = as_list(p["tags"], "tags") if isinstance(p["tags"], (list, dict, str)) else []
    local = None if loose_eq(p["locality"], "any") else loose_eq(p["locality"], "local")
    remove = loose_eq(p["action"], "remove")
    book = TagBook(req.data, req.stored_event)
    result, changes = False, []
    if by_event:
        event = event_of(items)
        if event.get("uuid") is not None:
            if remove:
                result, changes = book.detach("event", event, tags, local)
            else:
                result, changes = book.attach("event", event, tags, local, p["relationship_type"])
        elif items not in ([], {}, None):
            errors.append("scope `event`: the selected items hold no event (a node filter for the "
                          "event scope needs the selector \"\")")
    else:
        event_uuid = event_of(req.data).get("uuid")
        for attribute in attributes_of(items):
            if remove:
                done, more = book.detach("attribute", attribute, tags, local, event_uuid)
            else:
                done, more = book.attach("attribute", attribute, tags, local, p["relationship_type"], event_uuid)
            result = result or done
            changes += more
    changes, failure = write_back(changes, dry_run=req.dry_run, action="tag_operation")
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    warnings = []
    if not result and not errors:
        warnings = [EMPTY_SELECTION] if not by_event and not attributes_of(items) else [
            "no tag was attached or detached (already there, or not there): MISP counts the node as failed "
            "(partial-success), without an error"]
    return reply(result, errors=errors, changes=changes, warnings=warnings)
