"""A run's module calls, found per node execution without decoding the run.

The history keeps every request and answer of a run (:mod:`runner.service.record`); each
request repeats the roaming data, so a 100-node run on a 1,000-attribute event holds ~100 MB
of JSON. The node panel needs one call: this reads the record as a stream, learns which node
each request was for from the request's tail (the runner writes ``"node": {...}``,
``"trigger"``, ``"workflow"``, ``"dry_run"``, ``"timeout"`` after the data; the tail is checked
by parsing it as an object, and the whole request is decoded only when that fails, e.g. a
Jinja rendering call) and decodes the one it needs.

The join of executions to calls is the one ``GET /api/runs/<id>`` makes (``record.nodes``):
walks in order (main, then branches by job), each execution of a node takes the next call made
for that node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from runner.service.record import PartReader

_NODE_KEY = b',"node":{"id":'


def node_of_request(request: bytes) -> str | None:
    """The node id a module request was sent for, or None (not a node's request)."""
    at = request.rfind(_NODE_KEY)
    if at >= 0:
        try:
            tail = orjson.loads(b"{" + request[at + 1:])
        except orjson.JSONDecodeError:
            tail = None
        if isinstance(tail, dict) and isinstance(tail.get("node"), dict):
            return str(tail["node"].get("id"))
    try:
        decoded = orjson.loads(request)
    except orjson.JSONDecodeError:
        return None
    node = decoded.get("node") if isinstance(decoded, dict) else None
    return str(node.get("id")) if isinstance(node, dict) else None


@dataclass
class Call:
    request: dict[str, Any]
    answer: Any
    ms: float | None
    error: str | None


class CallIndex:
    """Which call of a run each node execution made (built once per run, a few bytes per call)."""

    def __init__(self, blob: bytes) -> None:
        reader = PartReader(blob)
        self.meta = reader.calls
        self.by_node: dict[str, list[int]] = {}
        try:
            for name, body in reader.parts(lambda n: n.startswith("call:") and n.endswith(":request")):
                index = int(name.split(":")[1])
                node = node_of_request(body)
                if node is not None:
                    self.by_node.setdefault(node, []).append(index)
        finally:
            reader.close()

    @staticmethod
    def ordinal(document: Mapping[str, Any], walk_id: str, position: int) -> tuple[str, int] | None:
        """``(node id, k)``: the execution at ``position`` of walk ``walk_id`` is the k-th
        execution of its node across the run's walks in order."""
        from runner.service.ui.states import run_walks

        counts: dict[str, int] = {}
        for wid, walk in run_walks(document):
            for i, entry in enumerate(walk.get("nodes") or ()):
                node = str(entry.get("node"))
                k = counts.get(node, 0)
                if wid == walk_id and i == position:
                    return node, k
                counts[node] = k + 1
        return None

    def call_number(self, document: Mapping[str, Any], walk_id: str, position: int) -> int | None:
        found = self.ordinal(document, walk_id, position)
        if found is None:
            return None
        node, k = found
        calls = self.by_node.get(node) or []
        return calls[k] if k < len(calls) else None

    def load(self, blob: bytes, number: int) -> Call:
        """Decode call ``number``: its request and answer (reading the record up to them)."""
        reader = PartReader(blob)
        try:
            parts = reader.take([f"call:{number}:request", f"call:{number}:answer"])
        finally:
            reader.close()
        request = orjson.loads(parts.get(f"call:{number}:request") or b"{}")
        raw_answer = parts.get(f"call:{number}:answer") or b""
        meta = self.meta[number] if number < len(self.meta) else {}
        return Call(request if isinstance(request, dict) else {}, orjson.loads(raw_answer) if raw_answer else None,
                    meta.get("ms"), meta.get("error"))
