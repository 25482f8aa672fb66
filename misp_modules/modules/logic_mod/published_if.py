"""MISP's "IF :: Published" logic node (``published-if``, v0.1): ``Event.published`` is not
empty (``equals``), or is empty (``not_equals``)."""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide

node = declare(
    misp_id="published-if", module_type="logic", name="IF :: Published", version="0.1", expect_misp_core_format=True,
    description="Published IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
    params=[  # defaults: the rule's (misp_modules.semantics.decisions.DEFAULTS)
        {"id": "condition", "label": "Condition", "type": "select",
         "options": {"equals": "Event is published", "not_equals": "Event is not published"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide(node, req)
