"""MISP's "IF :: Aggregate Comparator" logic node (``aggregate_comparator_if``, 0.3 and 0.4).

An aggregate (count, sum, avg, min, max, unique_count, median) of what ``aggregation_path``
extracts, compared with ``value``. The two versions run the same ``exec()`` (0.3 only declares
``isFiltering``, which MISP v2.5.1's walker ignores). As in MISP, ``greater``, ``greater_equals``,
``less`` and ``less_equals`` -- ``greater`` is the default -- never pass: MISP's condition helper
does not know them (quirk kept, docs/misp-behaviour.md §16.4; the node's warnings and
``misp-workflow validate`` say so).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide
from misp_modules.semantics import aggregate

OPERATORS = {"equals": "Equals", "not_equals": "Not equals", "greater": "Greater than",
             "greater_equals": "Greater or equal than", "less": "Less than", "less_equals": "Less or equal than",
             "in": "In", "not_in": "Not in"}
TYPES = {"count": "Count", "sum": "Sum", "avg": "Average", "min": "Minimum", "max": "Maximum",
         "unique_count": "Unique count", "median": "Median"}

node = declare(
    misp_id="aggregate_comparator_if", module_type="logic", name="IF :: Aggregate Comparator", version="0.4",
    description="Computes an aggregate over a field, then evaluates rhe result.",
    params=[  # defaults: the rule's (misp_modules.semantics.aggregate.DEFAULTS)
        {"id": "aggregation_path", "label": "Aggregation Field Path", "type": "hashpath",
         "placeholder": "Attribute.{n}.Tag"},
        {"id": "aggregation_type", "label": "Aggregation type", "type": "select", "options": TYPES},
        {"id": "operator", "label": "Operator", "type": "select", "options": OPERATORS},
        {"id": "value", "label": "Value", "type": "input", "placeholder": "42"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    answer = decide(node, req)
    quirk = aggregate.never_passes(req.params)
    if quirk and "result" in answer:
        answer.setdefault("warnings", []).append(quirk)
    return answer
