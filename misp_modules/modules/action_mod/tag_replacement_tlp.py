"""MISP's "Tag Replacement - TLP" action (``tag_replacement_tlp``, v0.1).

Normalises TLP tags: any tag whose name matches MISP's TLP pattern (``TLP:WHITE``,
``tlp-amber``, ``Traffic Light Protocol: red``, ...) gets ``tlp:<predicate>`` attached, and with
``remove_substituted = yes`` the matched tag is detached (local associations only). MISP's
quirks stay: ``tlp:amber+strict`` becomes ``tlp:amber`` (the pattern tries ``amber`` first), and
``TLP:WHITE`` becomes ``tlp:white`` -- a normalisation, not a white-to-clear mapping. Database
only: the roaming data is untouched; the tag changes are reported (and written to MISP through
PyMISP when configured).
"""

from __future__ import annotations

import re
from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import REPLACEMENT_PARAMS, replace_tags

# MISP's PCRE without /u: \w is ASCII.
PATTERN = re.compile(r'(\w*tlp\w*|traffic\W+light\W+protocol)([:\s\-=]{1,2})"?'
                     r'(?P<predicate>white|clear|green|amber|amber\+strict|red)"?', re.IGNORECASE | re.ASCII)
PREDICATES = ("white", "clear", "green", "amber", "amber+strict", "red")

node = declare(
    misp_id="tag_replacement_tlp", module_type="action", name="Tag Replacement - TLP", version="0.1",
    support_filters=True, expect_misp_core_format=True, needs_stored_event=True,
    description="Attach a tag (or substitue) a tag by another for the TLP taxonomy",
    params=REPLACEMENT_PARAMS,
)


def substitute(tag: str) -> str | None:
    match = PATTERN.search(tag)
    if match is None or match.group(1).lower() != "tlp" or match.group("predicate").lower() not in PREDICATES:
        return None
    return f"tlp:{match.group('predicate').lower()}"


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return replace_tags(req, substitute, "tag_replacement_tlp")
