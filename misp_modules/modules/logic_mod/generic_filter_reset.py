"""MISP's "Filter :: Remove filter" logic node (``generic-filter-reset``, v0.1).

Restores the snapshot taken when the first filter was added, whatever the label: every filter
goes, and so does every change made to the roaming data since (faithful, misp-behaviour.md §7.7
and §15.2). Without a prior filter MISP wipes the data with ``all`` (``{"enabledFilters": []}``,
faithful) and crashes with a label: that is an answer without a decision (a clear error), so the
runner fails the node and the path it guards (§15.1).
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

LABELS = {"all": "All filters", **{label: f"Label {label}" for label in roaming.FILTER_LABELS}}

node = declare(
    misp_id="generic-filter-reset", module_type="logic", name="Filter :: Remove filter", version="0.1",
    logic_kind="filter",
    description="Reset filtering",
    params=[
        {"id": "filtering-label", "label": "Filtering Label to remove", "type": "select", "default": "all",
         "options": LABELS},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    warnings = node_params.problems(node.params, req.params)
    try:
        data = roaming.reset_filter(req.data, req.params["filtering-label"])
    except SemanticsError as exc:
        return no_decision(crash_reason("generic-filter-reset", exc))
    return reply(True, data=data, output="output_1", warnings=warnings)
