"""MISP's built-in workflow node ids, and how MISP turns a module name into a node id.

MISP lists every `/modules` entry whose ``meta.module-type`` contains ``"action"`` as a workflow
node with id ``Inflector::underscore(name)``; an id equal to one of MISP's own nodes silently
overrides that node inside MISP. The loader refuses such names (docs/misp-behaviour.md §10.1, §9.1,
§4.1). Runner-only re-implementations of these nodes are declared ``module-type: ["workflow"]``
instead, which MISP never lists.
"""

from __future__ import annotations

import re

TRIGGER_IDS = frozenset({
    "attribute-after-save", "enrichment-before-query", "event-after-save", "event-after-save-new",
    "event-after-save-new-from-pull", "event-before-save", "event-publish", "event-report-after-save",
    "log-after-save", "object-after-save", "post-after-save", "shadow-attribute-after-save",
    "shadow-attribute-before-save", "sighting-after-save", "tag-attached-after-save",
    "user-after-save", "user-before-save",
})

LOGIC_IDS = frozenset({
    "concurrent-task", "count-if", "distribution-if", "generic-filter-data", "generic-filter-reset",
    "generic-if", "organisation-if", "published-if", "tag-if", "threat-level-if",
    "blueprint-logic-module",  # MISP's custom-module examples ship enabled-able in every install
})

ACTION_IDS = frozenset({
    "add_eventblocklist_entry", "add_to_warninglist", "assign_country", "attach-decay-score",
    "attach-enrichment", "attach-warninglist", "Module_attribute_comment_operation",
    "attribute_edition_operation", "attribute_ids_flag_operation", "enrich-event",
    "Module_event_distribution_operation", "ms-teams-webhook", "proposal-action", "publish-event",
    "push-zmq", "reload-full-event", "send-log-mail", "send-mail", "splunk-hec-export",
    "stop-execution", "tag_operation", "tag_replacement_generic", "tag_replacement_pap",
    "tag_replacement_tlp", "telegram-send-alert", "webhook",
    "blueprint-action-module",
})

BUILTIN_NODE_IDS = TRIGGER_IDS | LOGIC_IDS | ACTION_IDS

# CakePHP 2 Inflector::underscore: preg_replace('/(?<=\w)([A-Z])/', '_\1', $w) then strtolower.
# PCRE without /u: \w is ASCII letters, digits and underscore.
_BEFORE_CAPITAL = re.compile(r"(?<=[A-Za-z0-9_])([A-Z])")


def underscore(name: str) -> str:
    """MISP's node id for a misp-modules action module named ``name``."""
    return _BEFORE_CAPITAL.sub(r"_\1", name).lower()


def clashing_node_id(name: str) -> str | None:
    """The built-in node id a MISP-facing action module called ``name`` would override, if any."""
    node_id = underscore(name)
    return node_id if node_id in BUILTIN_NODE_IDS else None
