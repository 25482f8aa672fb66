"""The module names the server refuses: a MISP-facing action whose node id is one of MISP's own.

MISP lists every ``/modules`` entry whose ``meta.module-type`` contains ``"action"`` as a workflow
node with id ``Inflector::underscore(name)``; an id equal to one of MISP's built-in nodes (a
trigger, a logic or an action node) silently overrides that node inside MISP. The loader refuses
such names (docs/misp-behaviour.md §10.1, §9.1, §4.1). Runner-only re-implementations of these
nodes are declared ``module-type: ["workflow"]`` instead, which MISP never lists.
"""

from __future__ import annotations

from misp_modules.contract.ids import ACTION_IDS, LOGIC_IDS, node_id
from misp_modules.contract.triggers import TRIGGER_IDS

BUILTIN_NODE_IDS = TRIGGER_IDS | LOGIC_IDS | ACTION_IDS


def clashing_node_id(name: str) -> str | None:
    """The built-in node id a MISP-facing action module called ``name`` would override, if any."""
    found = node_id(name)
    return found if found in BUILTIN_NODE_IDS else None
