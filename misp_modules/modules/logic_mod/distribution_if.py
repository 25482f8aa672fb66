"""MISP's "IF :: Distribution" logic node (``distribution-if``, v0.3).

The final distribution (the most restrictive of the event's, and in attribute scope of
``Event.Attribute[0]``'s and its object's) against the selected level, or, for Sharing Group,
the final sharing groups against the selected ones. Where MISP crashes -- no
``Event.Attribute[0]`` in attribute scope or for a Sharing Group check (docs/misp-behaviour.md §15.5) -- the node
takes the else branch with an error saying so.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide

CONDITIONS = {"equals": "Is", "not_equals": "Is not",
              "more_restrictive_or_equal_than": "More restrictive or equal than",
              "more_permisive_or_equal_than": "More permisive or equal than"}
DISTRIBUTIONS = [{"name": "Organisation", "value": 0}, {"name": "Community", "value": 1},
                 {"name": "Connected", "value": 2}, {"name": "All", "value": 3},
                 {"name": "Sharing Group", "value": 4}]

node = declare(
    misp_id="distribution-if", module_type="logic", name="IF :: Distribution", version="0.3",
    expect_misp_core_format=True,
    description="Distribution IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
    params=[  # defaults: the rule's (misp_modules.semantics.decisions.DEFAULTS)
        {"id": "scope", "label": "Scope", "type": "select",
         "options": {"attribute": "Final distribution of the Attribute", "event": "Event distribution"}},
        {"id": "condition", "label": "Condition", "type": "select", "options": CONDITIONS},
        {"id": "distribution", "label": "Distribution", "type": "select", "options": DISTRIBUTIONS,
         "placeholder": "Pick a distribution"},
        {"id": "sharing_group_id", "label": "Sharing Groups", "type": "picker", "multiple": True, "options": {},
         "placeholder": "Pick a sharing group", "display_on": {"distribution": "4"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide(node, req)
