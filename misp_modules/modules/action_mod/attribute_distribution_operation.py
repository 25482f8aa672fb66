"""MISP's "Attribute distribution operation" action (``attribute_distribution_operation``, v0.1,
MISP 2.5.25; docs/misp-behaviour.md §16.7).

Sets the matching attributes' ``distribution`` (and, for distribution 4, ``sharing_group_id``)
with the attribute edition base class: each edited attribute loses ``timestamp`` and replaces
its copies in the returned roaming data; the database edits are ``set``/``touch`` changes,
written through PyMISP when a MISP is configured. The node filter's matches when the node has a
filter, else every flattened attribute; nothing matched is a failure with no message, as in
MISP. The value is kept as the param holds it (the string ``"0"``).

Where MISP crashes or refuses, a clear error instead:

* a filter selector that cannot be extracted: v2.5.1's helper returns ``false`` from a function
  typed ``array``, a PHP ``TypeError`` that ends MISP's run;
* a distribution outside 0..5, or 4 without a sharing group (the picker's default ``[]``): MISP's
  attribute validation refuses every save, so the node fails (MISP: false, no message).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import EMPTY_SELECTION, misp_crash, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import ATTRIBUTE_DISTRIBUTIONS, edit_attributes
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty, loose_eq

MODULE = "attribute_distribution_operation"


node = declare(
    misp_id=MODULE, module_type="action", name="Attribute distribution operation", version="0.1",
    support_filters=True, expect_misp_core_format=True,
    description="Set the Attribute's distribution to the selected level",
    params=[
        {"id": "distribution", "label": "Distribution", "type": "select", "default": "0",
         "options": ATTRIBUTE_DISTRIBUTIONS, "placeholder": "Pick a distribution"},
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
        return misp_crash(f"{MODULE}: MISP's run would end here (PHP error): {exc}", errors=errors)
    if items is False:
        return misp_crash(f"node filter: cannot extract {req.saved_filters.get('selector')!r}; "
                                             "MISP's run would end here (PHP TypeError: "
                                             "getMatchingItemsForAttributes() returns false, not an array)", errors=errors)
    distribution, group = p["distribution"], p["sharing_group_id"]
    sharing = loose_eq(distribution, 4)
    if sharing and isinstance(group, list):
        group = group[0] if len(group) == 1 else None
    if not any(loose_eq(distribution, level) for level in range(6)):
        refusal = f"param `distribution`: MISP refuses to save an attribute with distribution {distribution!r} (expected 0..5)"
    elif sharing and is_empty(group):
        refusal = ("param `sharing_group_id`: distribution 4 (Sharing group) needs a sharing group; "
                   "MISP refuses to save the attributes")
    else:
        refusal = None

    def edit(attribute: dict) -> dict:
        edited = {**attribute, "distribution": distribution}
        if sharing:
            edited["sharing_group_id"] = group
        return edited

    success, data, changes = edit_attributes(req.data, items, edit, ("distribution", "sharing_group_id"))
    if not success:
        return reply(False, errors=errors, warnings=[EMPTY_SELECTION])
    if refusal is not None:
        return reply(False, errors=[*errors, refusal])
    changes, failure = write_back(changes, dry_run=req.dry_run, action=MODULE)
    if failure is not None:
        return reply(False, errors=[*errors, failure], data=data, changes=changes)
    return reply(True, errors=errors, data=data, changes=changes)
