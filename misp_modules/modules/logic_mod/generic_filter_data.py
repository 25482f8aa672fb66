"""MISP's "Filter :: Generic" logic node (``generic-filter-data``, v0.2).

It filters nothing itself: it records the filter under its label in the roaming data
(``enabledFilters``, plus the ``_unfilteredData`` snapshot on the first filter), and every later
``getData()`` narrows the selected collection -- only that collection, keeping its original
keys. The node always continues on ``output_1`` with the new roaming data (docs/misp-behaviour.md §7.7).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import no_decision, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import crash_reason
from misp_modules.semantics import roaming
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import a_json_type

OPERATORS = {"in": "In", "not_in": "Not in", "equals": "Equals", "not_equals": "Not equals",
             "any_value": "Any value", "in_or": "Any value from"}
LABELS = {label: f"Label {label}" for label in roaming.FILTER_LABELS}

node = declare(
    misp_id="generic-filter-data", module_type="logic", name="Filter :: Generic", version="0.2",
    logic_kind="filter",
    description="Generic data filtering block. The module filters incoming data and forward the "
                "matching data to its output.",
    params=[
        {"id": "filtering-label", "label": "Filtering Label", "type": "select", "default": "A", "options": LABELS},
        {"id": "selector", "label": "Data selector", "type": "hashpath",
         "placeholder": "Event._AttributeFlattened.{n}"},
        {"id": "value", "label": "Value", "type": "input", "placeholder": "tlp:red",
         "display_on": {"operator": ["in", "not_in", "equals", "not_equals"]}},
        {"id": "value_list", "label": "Value list", "type": "picker", "picker_create_new": True,
         "placeholder": "['ip-src', 'ip-dst']", "display_on": {"operator": "in_or"}},
        {"id": "operator", "label": "Operator", "type": "select", "default": "in", "options": OPERATORS},
        {"id": "hash_path", "label": "Hash path", "type": "hashpath", "placeholder": "Tag.name",
         "hashpath": {"is_sub_selector": True}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    p = req.params
    warnings = node_params.problems(node.params, p)
    if isinstance(p["filtering-label"], (list, dict)):
        return no_decision(f"param `filtering-label` is {a_json_type(p['filtering-label'])}: MISP crashes "
                           "here (Illegal offset type)")
    try:
        data = roaming.add_filter(req.data, p["filtering-label"], p["selector"], p["hash_path"],
                                  p["operator"], p["value"], p["value_list"])
    except SemanticsError as exc:
        return no_decision(crash_reason("generic-filter-data", exc))
    return reply(True, data=data, output="output_1", warnings=warnings)
