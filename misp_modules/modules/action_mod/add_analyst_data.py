"""MISP's "Add Analyst Data" action (``add_analyst_data``, v0.1, MISP 2.5.20; docs/misp-behaviour.md §16.8).

Adds a Note, an Opinion or a Relationship to each selected element: the node filter's matches
when the node has a filter, else by ``target`` -- ``Event``: the roaming data's top-level values
(the event, and ``enabledFilters``/``_unfilteredData``, which have no ``uuid`` and are skipped),
``Attribute``: ``Event._AttributeFlattened``, ``EventReport``, ``Object``, ``GalaxyCluster``: the
event's lists. An element is used only when its ``uuid`` passes CakePHP's UUID rule (with PCRE's
``$``, a trailing newline passes). Each becomes an ``add_analyst_data`` change, written through
PyMISP (``analyst_data/add/<type>/<uuid>/<target>``) when a MISP is configured. The roaming data
is not changed. The result is true when at least one element had a valid uuid.

MISP's quirks kept: ``sharing_group_id`` is sent only when the distribution is *not* 4 (``0``
when it is, the inverse of what distribution 4 needs); the node's ``author`` is sent under that
name; an unknown ``analyst_data_type`` fails with no message.

Where MISP crashes (PHP ``TypeError``, the run ends), the node fails and says so: a target list
the event does not have (``GalaxyCluster`` on an event without ``Event.GalaxyCluster``, a missing
``EventReport``/``Object``) or that is not a list, and an element that is a string. Where MISP
misreports (its save result is never empty, so a refused save counts as success), the truth: a
write MISP refuses fails the node, naming MISP's answer.
"""

from __future__ import annotations

import re
from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import EMPTY_SELECTION, misp_crash, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import ATTRIBUTE_DISTRIBUTIONS
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions, hashpath
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_array, iter_items, loose_eq, php_type_name

MODULE = "add_analyst_data"
TARGETS = ["Attribute", "Event", "EventReport", "GalaxyCluster", "Object"]
TYPES = {"Note": "Note", "Opinion": "Opinion", "Relationship": "Relationship"}  # Note::ANALYST_DATA_TYPES
FIELDS = {"Note": ("language", "note"), "Opinion": ("opinion", "comment"),
          "Relationship": ("relationship_type", "related_object_type", "related_object_uuid")}
TARGET_LISTS = {"Attribute": "Event._AttributeFlattened", "EventReport": "Event.EventReport",
                "Object": "Event.Object", "GalaxyCluster": "Event.GalaxyCluster"}
# CakePHP's Validation::uuid (preg_match: `$` also matches before a final newline, as Python's)
UUID_RULE = re.compile(r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[0-5][a-fA-F0-9]{3}-[089aAbB][a-fA-F0-9]{3}-[a-fA-F0-9]{12}$")

node = declare(
    misp_id=MODULE, module_type="action", name="Add Analyst Data", version="0.1",
    support_filters=True, expect_misp_core_format=True,
    description="Add analyst data on the selected element(s).",
    params=[
        {"id": "target", "label": "Target", "type": "select", "options": TARGETS, "default": "Event"},
        {"id": "analyst_data_type", "label": "Analyst Data Type", "type": "select", "options": TYPES,
         "default": "Note"},
        {"id": "distribution", "label": "Distribution", "type": "select", "default": "0",
         "options": ATTRIBUTE_DISTRIBUTIONS, "placeholder": "Pick a distribution"},
        {"id": "sharing_group_id", "label": "Sharing Groups", "type": "picker", "multiple": False,
         "options": {}, "default": [], "placeholder": "Pick a sharing group", "display_on": {"distribution": "4"}},
        {"id": "author", "label": "Author", "type": "input"},
        {"id": "language", "label": "Language", "type": "input", "display_on": {"analyst_data_type": "Note"}},
        {"id": "note", "label": "Note", "type": "textarea", "jinja_supported": True,
         "display_on": {"analyst_data_type": "Note"}},
        {"id": "opinion", "label": "Opinion", "type": "input", "input_type": "number", "min": 0, "max": 100,
         "display_on": {"analyst_data_type": "Opinion"}},
        {"id": "comment", "label": "Comment", "type": "textarea", "jinja_supported": True,
         "display_on": {"analyst_data_type": "Opinion"}},
        {"id": "relationship_type", "label": "Relationship Type", "type": "input", "jinja_supported": True,
         "display_on": {"analyst_data_type": "Relationship"}},
        {"id": "related_object_type", "label": "Related Object Type", "type": "input", "jinja_supported": True,
         "placeholder": "Use one of the valid targets from the target list", "default": "Event",
         "display_on": {"analyst_data_type": "Relationship"}},
        {"id": "related_object_uuid", "label": "Related Object UUID", "type": "input", "jinja_supported": True,
         "display_on": {"analyst_data_type": "Relationship"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    p = req.params
    errors = node_params.problems(node.params, p, check_options=("target", "analyst_data_type", "distribution"))
    target = p["target"]
    try:
        if conditions.filters_enabled(req.saved_filters):
            items = conditions.matching_items(req.data, req.saved_filters)
            if items is False:
                return reply(False, errors=errors, changes=[])
        else:
            path = next((path for name, path in TARGET_LISTS.items() if loose_eq(target, name)), None)
            items = req.data if path is None else hashpath.get(req.data, path)
    except SemanticsError as exc:
        return misp_crash(f"{MODULE}: MISP's run would end here (PHP error): {exc}", errors=errors)
    kind = next((name for name in TYPES if loose_eq(p["analyst_data_type"], name)), None)
    if kind is None:
        return reply(False, errors=errors, changes=[])
    if not is_array(items):
        return misp_crash(f"target `{target}`: the data has no list there ({php_type_name(items)}); MISP's run "
                          f"would end here (PHP TypeError: the item loop needs an array)", errors=errors)
    options = {"target": target, "distribution": p["distribution"],
               "sharing_group_id": p["sharing_group_id"] if not loose_eq(p["distribution"], "4") else 0,
               "author": p["author"]}
    options.update({field: p[field] for field in FIELDS[kind]})
    changes = []
    for _, item in iter_items(items):
        if isinstance(item, str):
            return misp_crash("an item is a string, not an element; MISP's run would end here "
                              "(PHP TypeError: Cannot access offset of type string on string)", errors=errors)
        uuid = item.get("uuid") if isinstance(item, dict) else None
        if not (isinstance(uuid, (str, int, float)) and not isinstance(uuid, bool) and UUID_RULE.match(str(uuid))):
            continue
        changes.append(ch.add_analyst_data(kind, target, uuid, options))
    if not changes:
        return reply(False, errors=errors, changes=[], warnings=[EMPTY_SELECTION])
    changes, failure = write_back(changes, dry_run=req.dry_run, action=MODULE)
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    return reply(True, errors=errors, changes=changes)
