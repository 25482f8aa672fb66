"""MISP's "Filter :: Remove filter" logic node (``generic-filter-reset``, v0.1).

Restores the snapshot taken when the first filter was added, whatever the label: every filter
goes, and so does every change made to the roaming data since (faithful, docs/misp-behaviour.md §7.7 and §15.2).
Deviation (misp-behaviour.md §15.1): without a prior filter MISP wipes the data (``all``) or crashes (a
label); here the data is returned unchanged.
"""

from __future__ import annotations

from typing import Any

from misp_modules.lib import node_params
from misp_modules.lib.workflow import NodeRequest, declare, module_functions, node_handler, reply
from misp_modules.semantics import roaming
from misp_modules.semantics.errors import SemanticsError

LABELS = {"all": "All filters", **{label: f"Label {label}" for label in roaming.FILTER_LABELS}}
PARAMS = [
    {"id": "filtering-label", "label": "Filtering Label to remove", "type": "select", "default": "all",
     "options": LABELS},
]

moduleinfo, moduleconfig = declare(
    misp_id="generic-filter-reset", module_type="logic", name="Filter :: Remove filter", version="0.1",
    params=PARAMS, logic_kind="filter",
    description="Reset filtering",
)
introspection, version = module_functions(moduleinfo, moduleconfig)


@node_handler(PARAMS)
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    errors = node_params.problems(PARAMS, req.params)
    try:
        data = roaming.reset_filter(req.data, req.params["filtering-label"])
    except SemanticsError as exc:
        return reply(False, errors=[f"Error while executing module generic-filter-reset: {exc}", *errors],
                     output="output_1")
    return reply(True, errors=errors, data=data, output="output_1")
