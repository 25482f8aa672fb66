"""MISP's "Tag Replacement Generic" action (``tag_replacement_generic``, v0.1).

The base class of the TLP and PAP replacements, registered by MISP as a node of its own. Its
search pattern is empty, so no tag ever matches: the node changes nothing and succeeds (true),
exactly as in MISP. Kept so that graphs using it run as they do in MISP.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import REPLACEMENT_PARAMS, replace_tags

node = declare(
    misp_id="tag_replacement_generic", module_type="action", name="Tag Replacement Generic",
    version="0.1", support_filters=True, expect_misp_core_format=True,
    description="Attach a tag, or substitue a tag by another",
    params=REPLACEMENT_PARAMS,
)


def substitute(tag: str) -> None:
    """MISP's empty ``searchRegex``: ``preg_match('', ...)`` fails, nothing matches."""
    return None


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return replace_tags(req, substitute, "tag_replacement_generic")
