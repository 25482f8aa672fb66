"""MISP's "Proposal Action" action (``proposal-action``, v0.2).

Accepts or discards the proposals (shadow attributes) of the selected items -- the node
filter's matches (none: true, nothing done) or the whole data: ``new`` takes
``Event.ShadowAttribute`` (proposals for new attributes), ``edit`` the proposals on the
flattened attributes, ``any`` both. MISP's default ``all`` is not one of these, so a node left
at its default does nothing (quirk kept, docs/misp-behaviour.md §15.12). Always true, as in MISP.

Proposals are handled in MISP through PyMISP (needs a MISP connection, except in a dry run,
which only reports the changes). When at least one proposal was handled the roaming data is
replaced by the reloaded event, converted (misp-behaviour.md §6.4): from MISP, or in a dry run / offline
from the runner's stored-event view with these changes applied.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.attribute_copies import entries
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import event_of, node_items, reload_event
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty, loose_eq

node = declare(
    misp_id="proposal-action", module_type="action", name="Proposal Action", version="0.2", support_filters=True,
    expect_misp_core_format=True, needs_stored_event=True,
    description="Accept or remove any proposals being passed",
    params=[
        {"id": "action", "label": "Action", "type": "select", "default": "accept",
         "options": {"accept": "Accept Proposals", "remove": "Remove Proposals"}},
        {"id": "proposal_type", "label": "Proposal Type", "type": "select", "default": "all",
         "options": {"new": "Proposals to create new Attributes", "edit": "Proposals on existing Attributes",
                     "any": "Any type of Proposals"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    p = req.params
    errors = node_params.problems(node.params, p)
    try:
        items = node_items(req)
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"Error while executing module proposal-action: {exc}"])
    if items is False:
        return reply(False, errors=[*errors, f"node filter: cannot extract {req.saved_filters['selector']!r}"])
    if conditions.filters_enabled(req.saved_filters) and is_empty(items):
        return reply(True, errors=errors)
    found = proposals(items, p["proposal_type"])
    if not found:
        return reply(True, errors=errors, changes=[])
    make = ch.discard_proposal if loose_eq(p["action"], "remove") else ch.accept_proposal
    changes = [make(proposal_key(proposal), attribute_uuid) for proposal, attribute_uuid in found]
    changes, failure = write_back(changes, dry_run=req.dry_run, action="proposal-action", required=True)
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    try:
        data = reload_event(req, changes)
    except (LookupError, SemanticsError) as exc:
        return reply(True, errors=[*errors, f"proposal-action: the roaming data was not reloaded: {exc}"],
                     changes=changes)
    return reply(True, errors=errors, data=data, changes=changes)


def proposals(items: Any, proposal_type: Any) -> list[tuple[dict, Any]]:
    """``(proposal, uuid of the attribute it edits or None)``, in MISP's order."""
    event = event_of(items)
    found: list[tuple[dict, Any]] = []
    if loose_eq(proposal_type, "new") or loose_eq(proposal_type, "any"):
        found += [(p, None) for _, p in entries(event.get("ShadowAttribute")) if isinstance(p, dict)]
    if loose_eq(proposal_type, "edit") or loose_eq(proposal_type, "any"):
        for _, attribute in entries(event.get("_AttributeFlattened")):
            if isinstance(attribute, dict):
                found += [(p, attribute.get("uuid")) for _, p in entries(attribute.get("ShadowAttribute"))
                          if isinstance(p, dict)]
    return found


def proposal_key(proposal: dict) -> str:
    """How MISP's REST API names a proposal: its uuid, else its id."""
    return str(proposal.get("uuid") or proposal.get("id"))
