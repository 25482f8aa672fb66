"""MISP's "IF :: Threat Level" logic node (``threat-level-if``, v0.1).

``Event.threat_level_id`` against the selected level, loosely; a lower id is more severe, so
"greater or equal than" is ``<=``. A node left at its default takes the default of the MISP file
the run reproduces (docs/misp-behaviour.md §16.5): the option key ``3`` (Low) in current MISP;
with ``--misp-release 2.5.1`` the *name* ``"Low"``, which equals no id and compares as a string
(quirk kept, §15.12). Both files say version 0.1, so the saved ``module_version`` cannot choose.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide
from misp_modules.semantics.decisions import threat_level_default

CONDITIONS = {"equals": "Is", "not_equals": "Is not", "greater_or_equal_than": "Greater or equal than",
              "less_or_equal_than": "Less or equal than"}

node = declare(
    misp_id="threat-level-if", module_type="logic", name="IF :: Threat Level", version="0.1",
    description="Threat Level IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
    params=[  # defaults: the rule's (misp_modules.semantics.decisions.DEFAULTS)
        {"id": "condition", "label": "Condition", "type": "select", "options": CONDITIONS},
        {"id": "threatlevel", "label": "Threat Level", "type": "select",
         "options": {"1": "High", "2": "Medium", "3": "Low", "4": "Undefined"}, "placeholder": "Pick a threat level"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    if "threatlevel" in node_params.unset_params(req):
        params = {**req.params, "threatlevel": threat_level_default(req.misp_release)}
        req = dataclasses.replace(req, params=params)
    return decide(node, req, accept={"threatlevel": ["Low"]})
