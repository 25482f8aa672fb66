"""MISP's "Filter :: Timestamp" logic node (``filter-timestamp``, 0.1).

Records a filter on the ``timestamp`` of the event's attributes, objects or event reports
against a time resolved at the run's clock (``now`` in the request: ``30d`` is 30 days before
it). In the MISP code available the filter's operators (``greater``, ``less``) are unknown to the
base class that applies filters, so **every item of the target list is removed** whatever its
timestamp (quirk kept, docs/misp-behaviour.md §16.2; the node's warnings and ``misp-workflow
validate`` say so). ``since`` with a non-numeric value returns false: the node has one output,
so nothing below it runs. A value list that is not a pair is MISP's caught exception.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import misp_exception, no_decision, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import crash_reason
from misp_modules.semantics import filter_nodes, roaming
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.timedelta import InvalidDateSpecification

OPERATORS = {"greater": "Within", "less": "Not within", "since": "Since (timestamp)"}
TARGETS = {"object": "Object", "attribute": "Attribute", "event_report": "Event Report"}
LABELS = {label: f"Label {label}" for label in roaming.FILTER_LABELS}

node = declare(
    misp_id="filter-timestamp", module_type="logic", name="Filter :: Timestamp", version="0.1",
    description="Timestamp filtering block. The module filters incoming data and forward the matching data to "
                "its output.",
    outputs=1,
    params=[  # defaults: misp_modules.semantics.filter_nodes.FILTER_TIMESTAMP_DEFAULTS
        {"id": "filtering-label", "label": "Filtering Label", "type": "select", "default": "A", "options": LABELS},
        {"id": "target", "label": "Target", "type": "select", "default": "attribute", "options": TARGETS},
        {"id": "operator", "label": "Operator", "type": "select", "default": "greater", "options": OPERATORS},
        {"id": "value", "label": "Value", "type": "input", "placeholder": "3d", "default": "30d"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    warnings = node_params.problems(node.params, req.params, check_options=["operator", "target"])
    if isinstance(req.params.get("value"), list):
        warnings = [w for w in warnings if not w.startswith("param `value`")]  # a [from, to] pair is MISP's
    try:
        result, data = filter_nodes.filter_timestamp(req.data, req.params, req.clock(), warnings)
    except InvalidDateSpecification as exc:
        return misp_exception(str(exc))
    except SemanticsError as exc:
        return no_decision(crash_reason("filter-timestamp", exc))
    if result:
        warnings.append(filter_nodes.filter_timestamp_removes_all(req.params))
        return reply(True, data=data, output="output_1", warnings=warnings)
    warnings.append(filter_nodes.filter_timestamp_removes_all(req.params))
    return reply(False, output="output_2", warnings=warnings)
