"""MISP's "Add Event Blocklist entry" action (``add_eventblocklist_entry``, v0.1).

Adds an event-blocklist entry in MISP (PyMISP ``add_event_blocklist``): the event UUID and info
read with ``Hash::get`` at the two paths, the creator organisation's name (``Event.Orgc.name``;
MISP's "unkwown", sic, when the data does not say), and the comment. Needs a MISP connection,
except in a dry run, which only reports the change. No roaming data change.

Deviation (reporting the truth): MISP always returns true, even when the entry was not saved;
here a missing UUID or a refused entry fails the node with the reason.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import hashpath
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty, loose_eq

UNKNOWN_ORG = "unkwown"  # sic: MISP's spelling

node = declare(
    misp_id="add_eventblocklist_entry", module_type="action", name="Add Event Blocklist entry", version="0.1",
    expect_misp_core_format=True,
    description="Create a new entry in the Event blocklist table",
    params=[
        {"id": "uuid_hash_path", "label": "Event UUID Hash path", "type": "hashpath", "placeholder": "Event.uuid",
         "default": "Event.uuid", "hashpath": {"is_sub_selector": True}},
        {"id": "eventinfo_hash_path", "label": "Event Info Hash path", "type": "hashpath",
         "placeholder": "Event.info", "default": "Event.info", "hashpath": {"is_sub_selector": True}},
        {"id": "block_comment", "label": "Blocklist Comment", "type": "input", "placeholder": "Blocked from workflow",
         "default": "Blocked from workflow"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    p = req.params
    errors = node_params.problems(node.params, p)
    try:
        uuid = hashpath.get(req.data, p["uuid_hash_path"]) if isinstance(req.data, dict) else None
        info = hashpath.get(req.data, p["eventinfo_hash_path"]) if isinstance(req.data, dict) else None
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"add_eventblocklist_entry: {exc}"])
    if is_empty(uuid) or isinstance(uuid, (dict, list)):
        return reply(False, errors=[*errors, f"param `uuid_hash_path`: {p['uuid_hash_path']!r} finds no event "
                                             "UUID in the data; no blocklist entry was made"])
    change = ch.add_eventblocklist_entry(uuid, info, organisation_name(req.data), p["block_comment"])
    changes, failure = write_back([change], dry_run=req.dry_run, action="add_eventblocklist_entry", required=True)
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    return reply(True, errors=errors, changes=changes)


def organisation_name(data: Any) -> str:
    """The name of organisation ``Event.orgc_id``: the event's ``Orgc`` when it is that org."""
    event = event_of(data)
    orgc = event.get("Orgc")
    if isinstance(orgc, dict) and orgc.get("name") and (
            "id" not in orgc or "orgc_id" not in event or loose_eq(orgc.get("id"), event.get("orgc_id"))):
        return str(orgc["name"])
    return UNKNOWN_ORG
