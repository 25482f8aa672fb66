"""MISP's "Tag Replacement - PAP" action (``tag_replacement_pap``, v0.1).

Normalises PAP tags: any tag whose name matches MISP's PAP pattern (``pap:red``, ``PAP=amber``,
``Permissible Actions Protocol: green``, ...) gets ``PAP:<PREDICATE>`` attached, and with
``remove_substituted = yes`` the matched tag is detached (local associations only). Database
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
PATTERN = re.compile(r'(\w*pap\w*|permissible\W+actions\W+protocol)([:\s\-=]{1,2})"?'
                     r'(?P<predicate>white|clear|green|amber|red)"?', re.IGNORECASE | re.ASCII)
PREDICATES = ("white", "clear", "green", "amber", "red")

node = declare(
    misp_id="tag_replacement_pap", module_type="action", name="Tag Replacement - PAP", version="0.1",
    support_filters=True, expect_misp_core_format=True, needs_stored_event=True,
    description="Attach a tag (or substitue) a tag by another for the PAP taxonomy",
    params=REPLACEMENT_PARAMS,
)


def substitute(tag: str) -> str | None:
    match = PATTERN.search(tag)
    if match is None or match.group(1).lower() != "pap" or match.group("predicate").lower() not in PREDICATES:
        return None
    return f"PAP:{match.group('predicate').upper()}"


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return replace_tags(req, substitute, "tag_replacement_pap")
