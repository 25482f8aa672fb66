"""MISP's "Filter :: Tag" logic node (``filter-tag``, 0.2 and 0.3).

Records a tag filter in the roaming data, as ``generic-filter-data`` does, on the event's
attributes (scope ``attribute``: their own tags; ``event_attribute``: inherited + own) or event
reports (``event_report``/``inherited_report``). The saved ``module_version`` chooses the
behaviour (docs/misp-behaviour.md §16.1): 0.3 also filters ``Event.Attribute`` (``<label>_2``) and
defaults to ``event_attribute``; 0.2 defaults to ``event``, which records no filter. The node
always returns true, on its single output; tags given as a string crash MISP's module (a clear
error here, no decision).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import no_decision, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import crash_reason
from misp_modules.semantics import filter_nodes, roaming
from misp_modules.semantics.errors import SemanticsError

CONDITIONS = {"in_or": "Is tagged with any (OR)", "in_and": "Is tagged with all (AND)",
              "not_in_or": "Is not tagged with any (OR)", "not_in_and": "Is not tagged with all (AND)"}
SCOPES = {"attribute": "Attributes", "event_attribute": "Inherited Attributes", "event_report": "Event Report",
          "inherited_report": "Inherited Event Report"}
LABELS = {label: f"Label {label}" for label in roaming.FILTER_LABELS}

node = declare(
    misp_id="filter-tag", module_type="logic", name="Filter :: Tag", version="0.3",
    description="Tag filtering block. The module filters incoming data and forward the matching data to its output.",
    outputs=1,
    params=[  # defaults: version 0.3's (0.2's: misp_modules.semantics.filter_nodes.FILTER_TAG_DEFAULTS)
        {"id": "filtering-label", "label": "Filtering Label", "type": "select", "default": "A", "options": LABELS},
        {"id": "scope", "label": "Scope", "type": "select", "default": "event_attribute", "options": SCOPES},
        {"id": "condition", "label": "Condition", "type": "select", "default": "in_or", "options": CONDITIONS},
        {"id": "tags", "label": "Tags", "type": "picker", "multiple": True,
         "picker_options": {"select_options_url": "/tags/fastIndex/0.json"}, "placeholder": "Pick a tag"},
        {"id": "clusters", "label": "Galaxy Clusters", "type": "picker", "multiple": True,
         "picker_options": {"select_options_url": "/tags/fastIndex/1.json"}, "placeholder": "Pick a Galaxy Cluster"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    version = filter_nodes.filter_tag_version(req.module_version)
    unset = node_params.unset_params(req)
    params = {pid: value for pid, value in req.params.items() if pid not in unset}
    warnings = node_params.problems(node.params, req.params, check_options=["condition"])
    try:
        result, data = filter_nodes.filter_tag(req.data, params, version)
    except SemanticsError as exc:
        return no_decision(crash_reason("filter-tag", exc))
    quirk = filter_nodes.filter_tag_records_nothing(params, version)
    if quirk:
        warnings.append(quirk)
    return reply(result, data=data, output="output_1", warnings=warnings)
