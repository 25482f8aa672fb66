"""MISP's "IF :: Organisation" logic node (``organisation-if``, v0.2).

``intval(Event.orgc_id)`` (creator) or ``intval(Event.org_id)`` (owner) is loosely among the
selected organisation ids (``in``) or not (``not_in``). Version 0.1 graphs keep working: their
``equals``/``not_equals`` mean ``in``/``not_in`` and a single ``org_id`` is one selected id.
The options list MISP's organisations, so any id is accepted here.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide

node = declare(
    misp_id="organisation-if", module_type="logic", name="IF :: Organisation", version="0.2",
    expect_misp_core_format=True,
    description="Organisation IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
    params=[  # defaults: the rule's (misp_modules.semantics.decisions.DEFAULTS)
        {"id": "org_type", "label": "Organisation Type", "type": "select",
         "options": {"org": "Owner Organisation", "orgc": "Creator Organisation"}},
        {"id": "condition", "label": "Condition", "type": "select",
         "options": {"in": "Is any of (OR)", "not_in": "Is not any of (OR)"}},
        {"id": "org_id", "label": "Organisation", "type": "picker", "multiple": True, "options": {},
         "placeholder": "Pick an organisation"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide(node, req, accept={"condition": ("equals", "not_equals")})
