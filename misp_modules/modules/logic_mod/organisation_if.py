"""MISP's "IF :: Organisation" logic node (``organisation-if``, v0.2).

``intval(Event.orgc_id)`` (creator) or ``intval(Event.org_id)`` (owner) is loosely among the
selected organisation ids (``in``) or not (``not_in``). Version 0.1 graphs keep working: their
``equals``/``not_equals`` mean ``in``/``not_in`` and a single ``org_id`` is one selected id.
The options list MISP's organisations, so any id is accepted here.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.logic_nodes import decide
from misp_modules.lib.workflow import declare, module_functions, node_handler

PARAMS = [
    {"id": "org_type", "label": "Organisation Type", "type": "select", "default": "orgc",
     "options": {"org": "Owner Organisation", "orgc": "Creator Organisation"}},
    {"id": "condition", "label": "Condition", "type": "select", "default": "in",
     "options": {"in": "Is any of (OR)", "not_in": "Is not any of (OR)"}},
    {"id": "org_id", "label": "Organisation", "type": "picker", "multiple": True, "options": {},
     "default": [1], "placeholder": "Pick an organisation"},
]

moduleinfo, moduleconfig = declare(
    misp_id="organisation-if", module_type="logic", name="IF :: Organisation", version="0.2",
    params=PARAMS, expect_misp_core_format=True,
    description="Organisation IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
)
introspection, version = module_functions(moduleinfo, moduleconfig)


@node_handler(PARAMS, decides=True)
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide("organisation-if", req, PARAMS, accept={"condition": ("equals", "not_equals")})
