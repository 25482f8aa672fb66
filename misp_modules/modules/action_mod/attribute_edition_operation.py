"""MISP's "Attribute edition operation" action (``attribute_edition_operation``, v0.1).

The base class of MISP's attribute edits, registered as a node of its own: it does nothing and
succeeds. Kept so that graphs using it run as they do in MISP.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare

node = declare(
    misp_id="attribute_edition_operation", module_type="action", name="Attribute edition operation",
    version="0.1", support_filters=True, expect_misp_core_format=True,
    description="Base module allowing to modify attribute",
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return reply(True, changes=[])
