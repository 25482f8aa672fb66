"""MISP's "Add to warninglist" action (``add_to_warninglist``, v0.1).

Appends the ``value`` of each matching attribute (the node filter's matches, else every
flattened attribute) that the selected custom warninglist does not hold yet, then saves the
list in MISP (PyMISP: read it, append, ``warninglists/edit``). Needs a MISP connection, except
in a dry run, which only reports the change. MISP's option list (its enabled custom lists) is
not known here: the param takes a warninglist id. No roaming data change.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import attributes_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty

node = declare(
    misp_id="add_to_warninglist", module_type="action", name="Add to warninglist", version="0.1",
    support_filters=True, expect_misp_core_format=True,
    description="Add attributes to a custom warninglist",
    params=[
        {"id": "warninglist", "label": "Warninglist", "type": "picker", "multiple": False, "options": {},
         "placeholder": "Pick a warninglist"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    selected = req.params["warninglist"]
    if isinstance(selected, list) and len(selected) == 1:
        selected = selected[0]
    if is_empty(selected):
        return reply(False, errors=["No warninglist selected (param `warninglist`)"])
    errors = node_params.problems(node.params, req.params)
    if isinstance(selected, (list, dict, bool, float)):
        return reply(False, errors=errors or [f"param `warninglist`: expected one warninglist id, got {selected!r}"])
    try:
        items = conditions.matching_attributes(req.data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"Error while executing module add_to_warninglist: {exc}"])
    if items is False:
        return reply(True, errors=errors)
    values: list[Any] = []
    for attribute in attributes_of(items):
        value = attribute.get("value")
        if value is not None and value not in values:
            values.append(value)
    change = ch.add_to_warninglist(selected, values)
    changes, failure = write_back([change], dry_run=req.dry_run, action="add_to_warninglist", required=True)
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    return reply(True, errors=errors, changes=changes)
