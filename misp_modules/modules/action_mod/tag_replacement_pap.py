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

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.misp_edits import REPLACEMENT_PARAMS, replace_tags
from misp_modules.lib.misp_writes import write_back
from misp_modules.lib.workflow import declare, module_functions, node_handler

PARAMS = REPLACEMENT_PARAMS
# MISP's PCRE without /u: \w is ASCII.
PATTERN = re.compile(r'(\w*pap\w*|permissible\W+actions\W+protocol)([:\s\-=]{1,2})"?'
                     r'(?P<predicate>white|clear|green|amber|red)"?', re.IGNORECASE | re.ASCII)
PREDICATES = ("white", "clear", "green", "amber", "red")

moduleinfo, moduleconfig = declare(
    misp_id="tag_replacement_pap", module_type="action", name="Tag Replacement - PAP", version="0.1",
    params=PARAMS, support_filters=True, expect_misp_core_format=True, needs_stored_event=True,
    description="Attach a tag (or substitue) a tag by another for the PAP taxonomy",
)
introspection, version = module_functions(moduleinfo, moduleconfig)


def substitute(tag: str) -> str | None:
    match = PATTERN.search(tag)
    if match is None or match.group(1).lower() != "pap" or match.group("predicate").lower() not in PREDICATES:
        return None
    return f"PAP:{match.group('predicate').upper()}"


@node_handler(PARAMS)
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    result, changes, errors = replace_tags(req, substitute)
    changes, failure = write_back(changes, dry_run=req.dry_run, action="tag_replacement_pap")
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    return reply(result, errors=errors, changes=changes)
