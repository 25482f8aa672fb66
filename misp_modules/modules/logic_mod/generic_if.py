"""MISP's "IF :: Generic" logic node (``generic-if``, v0.2).

The value at ``hash_path`` is tested with ``operator`` against ``value`` (``value_list`` for
``in_or``): ``equals``/``not_equals`` read a simple path with ``Hash::get``, every other operator
extracts with ``Hash::extract`` (an empty path is the whole data); ``any_value`` is true when the
extraction is not empty. True follows ``output_1`` (then), false ``output_2`` (else).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide

OPERATORS = {"in": "In", "not_in": "Not in", "equals": "Equals", "not_equals": "Not equals",
             "any_value": "Any value", "in_or": "Any value from"}

node = declare(
    misp_id="generic-if", module_type="logic", name="IF :: Generic", version="0.2",
    description="Generic IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
    params=[  # defaults: the rule's (misp_modules.semantics.decisions.DEFAULTS)
        {"id": "value", "label": "Value", "type": "input", "placeholder": "tlp:red",
         "display_on": {"operator": ["in", "not_in", "equals", "not_equals"]}},
        {"id": "value_list", "label": "Value list", "type": "picker", "multiple": True,
         "picker_create_new": True, "placeholder": "['ip-src', 'ip-dst']", "display_on": {"operator": "in_or"}},
        {"id": "operator", "label": "Operator", "type": "select", "options": OPERATORS},
        {"id": "hash_path", "label": "Hash path", "type": "hashpath", "placeholder": "Attribute.{n}.Tag"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide(node, req)
