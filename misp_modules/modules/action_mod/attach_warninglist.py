"""MISP's "Attach warninglist" node (``attach-warninglist``, v0.2), offline.

Checks the matching attributes (docs/misp-behaviour.md §10.1 "Matching attributes") against the MISP warninglists
shipped with pymispwarninglists, with MISP's own matching rules (misp_modules.lib.warninglists),
adds each hit to the attribute's ``warnings`` (every copy, as MISP's ``_overrideAttribute``) and
sets ``Event.warnings`` to the lists that hit, once each. Only attributes with ``to_ids`` are
checked unless ``[modules.attach_warninglist] warning_for_all = true`` (MISP.warning_for_all).

"Enabled" lists: all shipped lists, or the names in ``[modules.attach_warninglist]
enabled_lists``. The picker offers only ``ALL`` (the list names are known once the lists are
loaded, which is deferred to the first run to keep the server's startup fast); any list name is
accepted as a value. List ids are positions in name order (see lib/warninglists.py).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import warninglists
from misp_modules.lib.attribute_copies import AttributeIndex, json_copy
from misp_modules.lib.declaration import declare
from misp_modules.lib.node_params import as_list, roaming_object
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty
from misp_modules.settings import get_settings

MODULE = "attach_warninglist"

node = declare(
    misp_id="attach-warninglist", module_type="action", name="Attach warninglist", version="0.2",
    support_filters=True, expect_misp_core_format=True,
    description="Attach selected warninglist result.",
    features="MISP's warninglist matching over the lists shipped with pymispwarninglists (offline).",
    references=["https://github.com/MISP/misp-warninglists"],
    params=[
        {"id": "warninglists", "label": "Warninglists", "type": "picker", "multiple": True,
         "options": {"ALL": "ALL"}, "default": "ALL"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    selected = req.params["warninglists"]
    if is_empty(selected):
        return reply(False, errors=["No warninglist module selected"])
    selected = [str(name) for name in as_list(selected, "warninglists")]
    data = json_copy(roaming_object(req.data, MODULE))
    try:
        matching = conditions.matching_attributes(data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[f"Error while executing module {MODULE}: {exc}"])
    if matching is False:
        return reply(True)
    lists = enabled_lists()
    if "ALL" not in selected:
        lists = [wl for wl in lists if wl.name in set(selected)]
    for_all = bool(get_settings().module_setting(MODULE, "warning_for_all", False))
    index = AttributeIndex(data)
    event_warnings: dict[int, dict[str, Any]] = {}
    for attribute in (matching.values() if isinstance(matching, dict) else matching):
        if not isinstance(attribute, dict):
            continue
        checked = warninglists.check_for_warning(attribute, lists, for_all)
        for warning in checked.get("warnings") or []:
            if isinstance(warning, dict) and "warninglist_id" in warning:
                event_warnings[warning["warninglist_id"]] = {
                    "id": warning["warninglist_id"], "name": warning.get("warninglist_name"),
                    "category": warning.get("warninglist_category")}
        index.override(attribute, checked)
    if isinstance(data.get("Event"), dict):
        data["Event"]["warnings"] = list(event_warnings.values())
    else:
        data["Event"] = {"warnings": list(event_warnings.values())}
    return reply(True, data=data)


def enabled_lists() -> list[warninglists.Warninglist]:
    names = get_settings().module_setting(MODULE, "enabled_lists", None)
    lists = list(warninglists.all_lists())
    if names:
        wanted = set(names)
        lists = [wl for wl in lists if wl.name in wanted]
    return lists
