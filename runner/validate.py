"""Check a workflow the way MISP's editor and save-time validation do (docs/misp-behaviour.md §2.1, §12).

Errors are what MISP refuses to save or cannot run (a cycle, not exactly one trigger, several
connections on one output, unknown or disabled modules); warnings are what MISP's editor only
shows (blocking nodes after a concurrent task or under a non-blocking trigger, a core-format
module under a non-core trigger). The runner adds two checks MISP does not make, both warnings
unless they would fail at run time: params a module does not declare (MISP silently ignores
them) and hash paths that cannot be parsed (they fail the node at run time: errors). And it
says, in plain words, where MISP's own code makes a node useless (``misp-quirk`` warnings,
docs/misp-behaviour.md §16): a ``filter-timestamp`` filters out everything, an
``aggregate_comparator_if`` with a greater/less operator never passes, a ``filter-tag`` whose
scope records no filter filters nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from misp_modules.contract.triggers import get_trigger
from runner import graph as g
from runner.catalog import Catalog, Enablement

CYCLE = "Cannot save a workflow containing a cycle"
TRIGGER_COUNT = "Cannot save a workflow containing no or more than one trigger"
MULTIPLE = "Cannot save a workflow having more than one connection per output"
NON_BLOCKING_CONTEXT = "This path leads to a blocking node from a non-blocking context"
BLOCKING_UNDER_NON_BLOCKING = "Blocking module might not work as intended"
DATA_FORMAT = "Potential data format issue"


@dataclass
class Finding:
    level: str                  # "error" | "warning"
    code: str                   # short stable name: cycle, trigger-count, multiple-connections, ...
    message: str
    node: str | None = None     # node id
    module: str | None = None   # module id
    edges: list = field(default_factory=list)  # [[from, to], ...] where the finding is drawn

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, [])}

    def line(self) -> str:
        where = f"node {self.node} ({self.module}): " if self.node is not None else ""
        return f"{self.level}: {where}{self.message}"


def validate(workflow: g.Workflow, catalog: Catalog | None, enablement: Enablement = Enablement()) -> list[Finding]:
    """All findings, errors first in graph order. ``catalog=None`` skips the module checks."""
    findings = list(_trigger_count(workflow))
    findings += _cycles(workflow)
    findings += _multiple_connections(workflow, catalog)
    if catalog is not None:
        findings += _modules(workflow, catalog, enablement)
        findings += _concurrent_paths(workflow, catalog)
    findings += _hash_paths(workflow, catalog)
    findings += _misp_quirks(workflow)
    findings.sort(key=lambda f: f.level != "error")
    return findings


def _trigger_count(workflow: g.Workflow) -> Iterator[Finding]:
    triggers = [(k, n) for k, n in workflow.nodes() if g.module_type(n) == "trigger"]
    if len(triggers) != 1:
        listing = ", ".join(f"{k} ({g.module_id(n)})" for k, n in triggers) or "none"
        yield Finding("error", "trigger-count", f"{TRIGGER_COUNT} (triggers: {listing})")


def _adjacency(workflow: g.Workflow) -> dict[str, list[str]]:
    """Edges from ``outputs`` only; edges to unknown ids are ignored (as MISP's check does)."""
    return {key: [t for _, _, t in g.edges(key, node) if t in workflow.graph]
            for key, node in workflow.nodes()}


def first_cycle(workflow: g.Workflow) -> Finding | None:
    """MISP's save-time cycle check (the ``cycle`` finding), or None for an acyclic graph."""
    return next(_cycles(workflow), None)


def _cycles(workflow: g.Workflow) -> Iterator[Finding]:
    """MISP's WHITE/GRAY/BLACK DFS in map order; reports the edges of the first cycle found."""
    adj = _adjacency(workflow)
    colour = dict.fromkeys(adj, 0)  # 0 white, 1 gray, 2 black
    for root in adj:
        if colour[root]:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(adj[root]))]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif colour[child] == 1:
                path = [n for n, _ in stack]
                cycle = path[path.index(child):] + [child]
                edges = [[a, b] for a, b in zip(cycle, cycle[1:])]
                names = " → ".join(f"{n} ({g.module_id(workflow.graph[n])})" for n in cycle)
                yield Finding("error", "cycle", f"{CYCLE}: {names}", node=child,
                              module=g.module_id(workflow.graph[child]), edges=edges)
                return
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(adj[child])))


def _multiple_connections(workflow: g.Workflow, catalog: Catalog | None) -> Iterator[Finding]:
    """MISP reads the node's own ``multiple_output_connection`` copy; a node without that key
    (hand-written graphs) falls back to the module's flag."""
    for key, node in workflow.nodes():
        data = g.node_data(node)
        allowed = data.get("multiple_output_connection")
        if allowed is None and catalog is not None:
            spec = catalog.get(g.module_type(node), g.module_id(node))
            allowed = spec.multiple_output_connection if spec else False
        if allowed:
            continue
        for name, conns in g.outputs(node):
            if len(conns) > 1:
                targets = [g.connection_target(c) for c in conns]
                yield Finding("error", "multiple-connections",
                              f"{MULTIPLE}: `{name}` connects to nodes {', '.join(targets)}",
                              node=key, module=g.module_id(node), edges=[[key, t] for t in targets])


def _modules(workflow: g.Workflow, catalog: Catalog, enablement: Enablement) -> Iterator[Finding]:
    trigger = get_trigger(workflow.trigger_id or "")
    for key, node in workflow.nodes():
        mtype, mid = g.module_type(node), g.module_id(node)
        if mtype == "trigger":
            if get_trigger(mid) is None:
                yield Finding("error", "unknown-trigger", f"unknown trigger `{mid}`", node=key, module=mid)
            continue
        spec = catalog.get(mtype, mid)
        if spec is None:
            other = catalog.get("action" if mtype == "logic" else "logic", mid)
            hint = f" (`{mid}` is a {other.module_type} module)" if other else ""
            yield Finding("error", "unknown-module",
                          f"Could not load class for module: {mid}{hint}", node=key, module=mid)
            continue
        if not enablement.is_enabled(mid):
            extra = " (Disabled modules that are blocking will also stop the execution)" if spec.blocking else ""
            yield Finding("error", "disabled-module", f"Module disabled{extra}", node=key, module=mid)
        if spec.blocking and trigger is not None and not trigger.blocking:
            yield Finding("warning", "blocking-under-non-blocking",
                          f"{BLOCKING_UNDER_NON_BLOCKING}: trigger `{trigger.id}` is not blocking, "
                          "so this module will not block the remaining of the execution",
                          node=key, module=mid)
        if spec.expect_misp_core_format and trigger is not None and not trigger.misp_core_format:
            yield Finding("warning", "data-format",
                          f"{DATA_FORMAT}: the module expects MISP core format but trigger "
                          f"`{trigger.id}` does not provide it", node=key, module=mid)
        declared = {p.get("id") for p in spec.params}
        for pid in g.indexed_params(node):
            if pid not in declared:
                yield Finding("warning", "unknown-param",
                              f"param `{pid}` is not declared by module `{mid}`; MISP ignores it",
                              node=key, module=mid)


def _concurrent_paths(workflow: g.Workflow, catalog: Catalog) -> Iterator[Finding]:
    """From every concurrent-task, walk all outputs (MISP's include-logic mode); every blocking
    node reached gets one warning carrying every edge of its path."""
    for key, node in workflow.nodes():
        if g.module_type(node) != "logic" or g.module_id(node) != "concurrent-task":
            continue
        seen: set[tuple[str, tuple]] = set()
        for target, path in _paths_from(workflow, key):
            tnode = workflow.graph[target]
            spec = catalog.get(g.module_type(tnode), g.module_id(tnode))
            if spec is None or not spec.blocking or (target, tuple(path)) in seen:
                continue
            seen.add((target, tuple(path)))
            yield Finding("warning", "blocking-after-concurrent",
                          f"{NON_BLOCKING_CONTEXT} (after concurrent-task node {key})",
                          node=target, module=g.module_id(tnode), edges=[list(e) for e in path])


def _paths_from(workflow: g.Workflow, start: str) -> Iterator[tuple[str, list]]:
    """Every (node, path of (from, to) edges) reachable from ``start``; an edge is never reused
    on one path (the walker's loop guard)."""
    stack = [(start, [], frozenset())]
    while stack:
        key, path, used = stack.pop()
        if path:
            yield key, path
        for name, idx, target in g.edges(key, workflow.graph[key]):
            edge = f"{key}:{name}:{idx}:{target}"
            if edge in used or target not in workflow.graph:
                continue
            stack.append((target, path + [(key, target)], used | {edge}))


def _hash_paths(workflow: g.Workflow, catalog: Catalog | None) -> Iterator[Finding]:
    """Hash paths that cannot be parsed: hashpath params and enabled node filters."""
    check = _hash_path_checker()
    if check is None:
        return
    for key, node in workflow.nodes():
        mid = g.module_id(node)
        spec = catalog.get(g.module_type(node), mid) if catalog is not None else None
        paths: list[tuple[str, Any]] = []
        if spec is not None:
            params = g.indexed_params(node)
            for p in spec.params:
                if p.get("type") == "hashpath" or p.get("_isHashPath"):
                    paths.append((f"param `{p['id']}`", params.get(p["id"])))
        filters = g.saved_filters(node)
        if any(v != "" for v in filters.values()):
            paths += [("filter selector", filters["selector"]), ("filter path", filters["path"])]
        for what, path in paths:
            if not isinstance(path, str) or not path:
                continue
            problem = check(path)
            if problem:
                yield Finding("error", "invalid-hash-path", f"{what}: invalid hash path {path!r}: {problem}",
                              node=key, module=mid)


def _misp_quirks(workflow: g.Workflow) -> Iterator[Finding]:
    """Nodes MISP runs but whose outcome does not depend on the data (the facts are the semantics
    library's: misp_modules.semantics.filter_nodes / aggregate)."""
    from misp_modules.semantics import aggregate, filter_nodes

    for key, node in workflow.nodes():
        if g.module_type(node) != "logic":
            continue
        mid, params = g.module_id(node), g.indexed_params(node)
        message = None
        if mid == "filter-timestamp":
            message = filter_nodes.filter_timestamp_removes_all(params)
        elif mid == "aggregate_comparator_if":
            message = aggregate.never_passes(params)
        elif mid == "filter-tag":
            message = filter_nodes.filter_tag_records_nothing(params, g.node_data(node).get("module_version"))
        if message:
            yield Finding("warning", "misp-quirk", message, node=key, module=mid)


def _hash_path_checker():
    """``check(path) -> problem or None`` from the semantics library's parser."""
    try:
        from misp_modules.semantics import hashpath
    except ImportError:
        return None
    validate_path = getattr(hashpath, "validate", None)
    if validate_path is None:
        return None

    def check(path: str) -> str | None:
        try:
            result = validate_path(path)
        except Exception as exc:  # noqa: BLE001 - the parser's complaint is the finding
            return str(exc)
        return result or None

    return check


def summary(findings: list[Finding]) -> dict[str, Any]:
    errors = sum(f.level == "error" for f in findings)
    return {"valid": errors == 0, "errors": errors, "warnings": len(findings) - errors,
            "findings": [f.as_dict() for f in findings]}


