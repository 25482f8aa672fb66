"""MISP's workflow node ids: its built-in nodes, how it names a misp-module's node, and the kind
of a logic node (docs/misp-behaviour.md §3.4, §5.5, §9.1, §10.1, §11.1).

MISP lists every ``/modules`` entry whose ``module-type`` contains ``"action"`` as a workflow
node with id ``Inflector::underscore(name)``; the server refuses a module whose id would be one of
MISP's own (``misp_modules.server.misp_nodes``), and the runner finds misp-modules by that id.
"""

from __future__ import annotations

from misp_modules.semantics.inflector import underscore

LOGIC_IDS = frozenset({
    "concurrent-task", "count-if", "distribution-if", "generic-filter-data", "generic-filter-reset",
    "generic-if", "organisation-if", "published-if", "tag-if", "threat-level-if",
    "blueprint-logic-module",  # MISP's custom-module examples ship enabled-able in every install
    # added after v2.5.1 (docs/misp-behaviour.md §16): routed by their result, as any logic module
    "filter-tag", "filter-timestamp", "aggregate_comparator_if",
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
    # added after v2.5.1 (docs/misp-behaviour.md §16)
    "attribute_distribution_operation", "add_analyst_data", "tag_country_asn_from_enrichment",
    "tag_cve_from_enrichment", "flowintel-create-case", "blocklist-action-module",
    "run-workflow",
})

CONCURRENT_ID = "concurrent-task"
FILTER_IDS = frozenset({"generic-filter-data", "generic-filter-reset"})
LOGIC_KINDS = ("if", "filter", "concurrent")


def node_id(module_name: str) -> str:
    """The node id MISP gives the misp-module action ``module_name``: ``Inflector::underscore``
    (ASCII lowering, as PHP 8: ``ÉvénementX`` is ``Événement_x``)."""
    return underscore(module_name)


def logic_kind(module_id: str, declared: str | None) -> str:
    """How the walker treats a logic node (§5.5): MISP dispatches on the module id for its own
    nodes; a custom logic module says what it is in its ``misp_workflow`` (``if`` when it says
    nothing)."""
    if module_id == CONCURRENT_ID:
        return "concurrent"
    if module_id in FILTER_IDS:
        return "filter"
    if module_id == "if":
        return "if"
    return declared or "if"
