"""MISP's "Event distribution operation" action (``Module_event_distribution_operation``, v0.1).

Sets ``Event.distribution`` (and ``Event.sharing_group_id`` for distribution 4) and saves the
event; unless ``freeze``, the event is touched (new timestamp, unpublished). The changed roaming
data is returned, with the value as the param holds it. MISP's quirks stay: the node reads the
node filter although it does not declare filter support, and it changes nothing (and succeeds)
when there is no matching attribute -- an event without attributes is never changed.

Where MISP's event validation would refuse the save (a distribution outside 0..4, or 4 without
a sharing group) the node fails, as in MISP, and says why.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.attribute_copies import json_copy
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty, loose_eq

DISTRIBUTIONS = [{"name": "Organisation", "value": 0}, {"name": "Community", "value": 1},
                 {"name": "Connected", "value": 2}, {"name": "All", "value": 3},
                 {"name": " Sharing Group", "value": 4}]

node = declare(
    misp_id="Module_event_distribution_operation", module_type="action", name="Event distribution operation",
    version="0.1", expect_misp_core_format=True,
    description="Set the Event's distribution to the selected level",
    params=[
        {"id": "freeze", "label": "Preserve timestamp and published state", "type": "select", "default": "modify",
         "options": {"modify": "Modify timestamp and unpublish",
                     "freeze": "Freeze timestamp and keep published state"}},
        {"id": "distribution", "label": "Distribution", "type": "select", "default": "0",
         "options": DISTRIBUTIONS, "placeholder": "Pick a distribution"},
        {"id": "sharing_group_id", "label": "Sharing Groups", "type": "picker", "multiple": False,
         "options": {}, "default": [], "placeholder": "Pick a sharing group", "display_on": {"distribution": "4"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    p = req.params
    errors = node_params.problems(node.params, p)
    try:
        items = conditions.matching_attributes(req.data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"Error while executing module Module_event_distribution_operation: {exc}"])
    if items is False or is_empty(items):
        return reply(True, errors=errors)
    distribution, group = p["distribution"], p["sharing_group_id"]
    if not any(loose_eq(distribution, level) for level in range(5)):
        return reply(False, errors=[*errors, f"param `distribution`: MISP refuses to save the event with "
                                             f"distribution {distribution!r} (expected 0..4)"])
    data = json_copy(req.data)
    event = event_of(data)
    if "Event" not in data:
        data["Event"] = event
    event["distribution"] = distribution
    changes = [ch.set_field("event", event.get("uuid"), "distribution", distribution)]
    if loose_eq(distribution, 4):
        if isinstance(group, list):
            group = group[0] if len(group) == 1 else None
        if is_empty(group):
            return reply(False, errors=[*errors, "param `sharing_group_id`: distribution 4 (Sharing Group) "
                                                 "needs a sharing group; MISP refuses to save the event"])
        event["sharing_group_id"] = group
        changes.append(ch.set_field("event", event.get("uuid"), "sharing_group_id", group))
    if not loose_eq(p["freeze"], "freeze"):
        changes.append(ch.touch("event", event.get("uuid")))
    changes, failure = write_back(changes, dry_run=req.dry_run, action="Module_event_distribution_operation")
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    return reply(True, errors=errors, data=data, changes=changes)
