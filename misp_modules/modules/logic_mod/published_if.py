"""MISP's "IF :: Published" logic node (``published-if``, v0.1): ``Event.published`` is not
empty (``equals``), or is empty (``not_equals``)."""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.logic_nodes import decide
from misp_modules.lib.workflow import declare, module_functions, node_handler

PARAMS = [
    {"id": "condition", "label": "Condition", "type": "select", "default": "equals",
     "options": {"equals": "Event is published", "not_equals": "Event is not published"}},
]

moduleinfo, moduleconfig = declare(
    misp_id="published-if", module_type="logic", name="IF :: Published", version="0.1", params=PARAMS,
    expect_misp_core_format=True,
    description="Published IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
)
introspection, version = module_functions(moduleinfo, moduleconfig)


@node_handler(PARAMS, decides=True)
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide("published-if", req, PARAMS)
