"""MISP's "IF :: Count" logic node (``count-if``, v0.1).

Counts what ``selector`` extracts (an empty selector counts the data's top-level keys, a simple
path to a map counts its keys) and compares the count with ``value`` the PHP way (an int
against a string: numerically when the string is numeric, else as strings). An unknown
operator is false.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide

OPERATORS = {"equals": "Equals", "not_equals": "Not equals", "greater": "Greater",
             "greater_equals": "Greater or equals", "less": "Less", "less_equals": "Less or equals"}

node = declare(
    misp_id="count-if", module_type="logic", name="IF :: Count", version="0.1",
    description="Count IF / ELSE condition block. It counts the amount of entry selected by the "
                "provided hashpath. The `then` output will be used if the encoded conditions is "
                "satisfied, otherwise the `else` output will be used.",
    params=[  # defaults: the rule's (misp_modules.semantics.decisions.DEFAULTS)
        {"id": "selector", "label": "Data selector to count", "type": "hashpath",
         "placeholder": "Event.Tag.{n}.name"},
        {"id": "operator", "label": "Condition", "type": "select", "options": OPERATORS},
        {"id": "value", "label": "Value", "type": "input", "placeholder": "50"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide(node, req)
