"""A MISP workflow graph as the engine reads it (docs/misp-behaviour.md §2.2-§2.5).

The graph is kept exactly as MISP stores it (node id → node object) and read through these
helpers, which apply MISP's lookup rules: nodes are found by map key, connections name their
target as a string, only ``outputs`` are followed, and ``[]`` stands for an empty object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from misp_modules.contract.request import merge_filters
from misp_modules.semantics.php import intval


@dataclass
class Workflow:
    """A workflow record: what the engine needs from MISP's ``Workflow`` row."""

    id: Any
    name: str
    trigger_id: str | None
    graph: dict[str, dict]          # node key → node, ``_frames`` removed, keys canonical
    debug_enabled: bool = False
    source: str = ""                # the file it came from, for messages
    kind: str = "workflow"          # "workflow" | "blueprint"
    record: dict = field(default_factory=dict)  # the record as loaded (for replay files)

    def node(self, node_id: Any) -> dict | None:
        return self.graph.get(node_key(node_id))

    def nodes(self) -> Iterator[tuple[str, dict]]:
        return iter(self.graph.items())

    def first_trigger(self) -> tuple[str, dict] | None:
        """MISP's start node: the first node (map order) whose module_type is ``trigger``."""
        for key, node in self.graph.items():
            if module_type(node) == "trigger":
                return key, node
        return None


def node_key(node_id: Any) -> str:
    """The map key a node id refers to. PHP turns canonical integer strings into integer keys,
    so ``2`` and ``"2"`` are the same key while ``"02"`` stays a distinct string key."""
    if isinstance(node_id, bool):
        return str(int(node_id))
    if isinstance(node_id, int):
        return str(node_id)
    return str(node_id)


def node_data(node: Mapping) -> Mapping:
    data = node.get("data")
    return data if isinstance(data, Mapping) else {}


def module_id(node: Mapping) -> str:
    value = node_data(node).get("id")
    return "" if value is None else str(value)


def module_type(node: Mapping) -> str:
    value = node_data(node).get("module_type")
    return "" if value is None else str(value)


def display_id(node: Mapping, fallback: str = "") -> str:
    """The node's ``id`` as MISP prints it in messages (``(<node id>)``)."""
    value = node.get("id", fallback)
    return node_key(value)


def indexed_params(node: Mapping) -> Mapping:
    params = node_data(node).get("indexed_params")
    return params if isinstance(params, Mapping) else {}


def saved_filters(node: Mapping) -> dict:
    """The node's filters merged with the empty default (misp-behaviour.md §2.7)."""
    return merge_filters(node_data(node).get("saved_filters"))


def outputs(node: Mapping) -> list[tuple[str, list]]:
    """``[(output name, connections)]`` in JSON order; ``[]`` (no outputs) gives an empty list."""
    raw = node.get("outputs")
    if not isinstance(raw, Mapping):
        return []
    result = []
    for name, output in raw.items():
        conns = output.get("connections") if isinstance(output, Mapping) else None
        if isinstance(conns, Mapping):  # PHP map of connections: values in order
            conns = list(conns.values())
        result.append((str(name), conns if isinstance(conns, list) else []))
    return result


def output(node: Mapping, name: str) -> list | None:
    """The connections of one output, or None when the node has no such output."""
    for out_name, conns in outputs(node):
        if out_name == name:
            return conns
    return None


def connection_target(conn: Any) -> str:
    """The target node key of a connection: MISP's walker casts it with ``(int)`` (``"1e3"`` is node 1000)."""
    raw = conn.get("node") if isinstance(conn, Mapping) else None
    return str(intval(raw))


def edges(node_key_: str, node: Mapping) -> Iterator[tuple[str, int, str]]:
    """``(output name, connection index, target key)`` for every connection of a node."""
    for name, conns in outputs(node):
        for idx, conn in enumerate(conns):
            yield name, idx, connection_target(conn)
