"""MISP's "Attribute IDS Flag operation" action (``attribute_ids_flag_operation``, v0.1).

Sets ``to_ids`` (``add``: true, ``remove``: false) on the matching attributes (the node
filter's matches, else every flattened attribute). As in MISP each edited attribute loses its
``timestamp`` and replaces its copies in the roaming data, which is returned; the database edit
is reported as ``set``/``touch`` changes (written through PyMISP when MISP is configured).
True when at least one attribute was edited: an empty selection is false, with no message.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import EMPTY_SELECTION, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import edit_attributes
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import loose_eq

node = declare(
    misp_id="attribute_ids_flag_operation", module_type="action", name="Attribute IDS Flag operation",
    version="0.1", support_filters=True, expect_misp_core_format=True,
    description="Toggle or remove the IDS flag on selected attributes.",
    params=[
        {"id": "action", "label": "To IDS Flag", "type": "select", "default": "add",
         "options": {"add": "Toggle IDS flag", "remove": "Remove IDS flag"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    errors = node_params.problems(node.params, req.params)
    try:
        items = conditions.matching_attributes(req.data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"Error while executing module attribute_ids_flag_operation: {exc}"])
    if items is False:
        return reply(True, errors=errors)
    to_ids = not loose_eq(req.params["action"], "remove")
    success, data, changes = edit_attributes(req.data, items, lambda a: {**a, "to_ids": to_ids}, ("to_ids",))
    if not success:
        return reply(False, errors=errors, warnings=[EMPTY_SELECTION])
    changes, failure = write_back(changes, dry_run=req.dry_run, action="attribute_ids_flag_operation")
    if failure is not None:
        return reply(False, errors=[*errors, failure], data=data, changes=changes)
    return reply(True, errors=errors, data=data, changes=changes)
