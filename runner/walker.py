"""MISP's graph walk (docs/misp-behaviour.md §5.4-§5.6): lazy depth-first over *paths*, interleaved with execution.

:func:`walk_graph` is ``walkGraph``: it pulls ``(node, path type, path)`` triples from
:func:`_paths`, a generator that explores a node's children only after the consumer has executed
that node, so data changes are visible downstream. Logic nodes are executed *inside* the
generator (they choose the outputs) and are never yielded; action nodes are yielded once per
distinct path (no visited set; the only loop guard is that an edge is not reused on one path).

The consumer prunes with MISP's rules: a failed blocking module ends the walk (false); a failed
non-blocking module on a non-blocking path skips everything below it (by path prefix), while
logic nodes below it still run; on a blocking path it skips nothing.

Fail closed (docs/runner.md): a logic node whose decision could not be obtained (``undecided``)
follows no output, and the path it guards fails as MISP fails a node on that path type: on a
blocking path the walk ends (false), on a non-blocking one (a non-blocking trigger, a branch, the
outputs of a concurrent-task) nothing below it runs and the walk goes on. Its error is a
blocking error in MISP's wording, so the outcome says why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from misp_modules.contract.ids import CONCURRENT_ID
from runner import graph as g
from runner.errors import RunAborted
from runner.paths import ROOT, Path
from runner.records import NodeRun, WalkRecord

if TYPE_CHECKING:  # the context executes nodes; the walker only walks
    from runner.context import WalkContext

NO_WORKFLOW_USER = ("Could not find a valid user to run the workflow. Please set setting "
                    "`MISP.host_org_id` or make sure a valid site_admin user exists.")


class GraphError(RunAborted):
    """The graph points at something that is not there (MISP: a PHP error; here: a failure)."""


class Roaming(Protocol):
    data: Any

    def get_data(self) -> Any: ...
    def set_data(self, data: Any) -> None: ...


def walk_graph(ctx: WalkContext, start_key: str, for_path: str, roaming: Roaming, record: WalkRecord) -> bool:
    """Walk from ``start_key``; fill ``record``; return MISP's ``walkGraph`` boolean."""
    if not ctx.user_ok():
        record.errors.append(NO_WORKFLOW_USER)
        return False
    record.walked = True
    workflow = ctx.workflow
    prevented: set[Path] = set()  # paths of failed non-blocking nodes on non-blocking paths
    for key, node, path_type, path, skipped in _paths(ctx, start_key, for_path, roaming, record, prevented):
        if node is UNDECIDED:
            run = record.timeline[-1]
            record.failed.append(run.node)
            record.errors.append(_node_error(workflow, run))
            if path_type == "blocking":
                run.closed = "stopped the run"
                return False
            run.closed = "skipped its paths"
            continue
        if skipped:  # below a prevented path (MISP: a prefix of this path is in preventPaths)
            ctx.skip()
            record.timeline.append(path)
            continue
        target = ctx.target(key, node)
        run = ctx.execute(key, node, target, roaming, "action", path)
        record.timeline.append(run)
        if run.aborted:  # MISP's run died at this node (after its module ran)
            record.failed.append(run.node)
            raise RunAborted(run.aborted)
        if run.result:
            continue
        record.failed.append(run.node)
        if run.module == "stop-execution":
            record.stopped_by_stop = True
        if run.errors:
            record.errors.append(_node_error(workflow, run))
        if target.blocking:
            return False
        if path_type == "non-blocking":
            prevented.add(path)
    return True


def _node_error(workflow: g.Workflow, run: NodeRun) -> str:
    """MISP's blocking-error wording (misp-behaviour.md §5.10)."""
    return (f"Node `{run.module}` ({run.node}) from Workflow `{workflow.name}` ({workflow.id}) "
            f"returned the following error: {', '.join(run.errors)}")


UNDECIDED: Mapping = {}  # yielded as the node of an undecided logic node (the last timeline entry)


class _Frame:
    """One node on the walk's current path: its children still to walk. ``skipping``: the node
    or one above it failed on a non-blocking path, so every action below is skipped."""

    __slots__ = ("children", "path", "skipping")

    def __init__(self, children: Iterator, path: Path, skipping: bool) -> None:
        self.children, self.path, self.skipping = children, path, skipping


def _paths(ctx: WalkContext, start_key: str, for_path: str | None, roaming: Roaming, record: WalkRecord,
           prevented: set[Path]) -> Iterator[tuple[str, Mapping, str, Path, bool]]:
    """Yield ``(key, node, path type, path, skipped)`` for action nodes in DFS pre-order over
    paths. Iterative (deep graphs and long chains must not hit Python's recursion limit), with
    the recursive walker's exact order, and linear: a path is shared (:class:`Path`), the loop
    guard asks a set of the edges on the current path, and a skipped subtree is a flag carried
    down the stack instead of a prefix test against every prevented path."""
    graph = ctx.workflow.graph
    on_path: set[str] = set()  # the edges of the path of the frame on top (the loop guard)
    stack = [_Frame(iter([(start_key, for_path or "", ROOT)]), ROOT, False)]
    while stack:
        frame = stack[-1]
        step = next(frame.children, None)
        if step is None:
            stack.pop()
            if frame.path.edge is not None:
                on_path.discard(frame.path.edge)
            continue
        key, path_type, path = step
        if key is None:  # _children: the logic node could not decide; path_type: the path it guards
            yield "", UNDECIDED, path_type, path, False
            continue
        node = graph.get(key)
        if node is None:
            raise GraphError(f"a connection leads to node `{key}`, which is not in the workflow graph")
        if g.module_type(node) not in ("trigger", "logic"):
            yield key, node, path_type, path, frame.skipping  # executed by the consumer before we go on
        children = _children(ctx, key, node, path_type, path, for_path, roaming, record, on_path)
        stack.append(_Frame(children, path, frame.skipping or path in prevented))
        if path.edge is not None:
            on_path.add(path.edge)


def _children(ctx: WalkContext, key: str, node: Mapping, path_type: str, path: Path, for_path: str | None,
              roaming: Roaming, record: WalkRecord, on_path: set[str]) -> Iterator[tuple[str | None, str, Path]]:
    allowed = _evaluate_outputs(ctx, key, node, roaming, record, path)
    is_concurrent = g.module_type(node) == "logic" and g.module_id(node) == CONCURRENT_ID
    if allowed is None:  # undecided: report the path type of the outputs it guards
        yield None, "non-blocking" if is_concurrent else path_type, path
        return
    for name, conns in allowed:
        if is_concurrent:
            path_type = "non-blocking"
        if for_path is not None and path_type != for_path:
            continue
        for idx, conn in enumerate(conns):
            target = g.connection_target(conn)
            edge = f"{key}:{name}:{idx}:{target}"
            if edge in on_path:  # MISP's only loop guard: an edge is not reused on one path
                continue
            yield target, path_type, path.child(edge)


def _evaluate_outputs(ctx: WalkContext, key: str, node: Mapping, roaming: Roaming, record: WalkRecord,
                      path: Path) -> list[tuple[str, list]] | None:
    """Which outputs to follow (misp-behaviour.md §5.5); executes logic nodes. A logic module's errors are
    discarded (they never become blocking errors). None: the logic node is undecided (its run
    is the last timeline entry)."""
    if g.module_type(node) != "logic":
        return g.outputs(node)
    target = ctx.target(key, node)
    kind = target.logic_kind
    if kind == "concurrent":
        for conn in g.output(node, "output_1") or []:
            branch_start = g.connection_target(conn)
            view = roaming.get_data()
            view = dict(view) if isinstance(view, Mapping) else {}
            view["__node_id_to_exec"] = int(branch_start) if branch_start.lstrip("-").isdigit() else branch_start
            roaming.set_data(view)
            run = ctx.execute(key, node, target, roaming, "logic", path)
            run.output = None
            run.target = branch_start
            record.timeline.append(run)
            _raise_if_aborted(run, record)
            if run.undecided:
                return None
            if run.result and run.status == "success":
                ctx.queue_branch(branch_start, roaming.data, run)
        return []
    run = ctx.execute(key, node, target, roaming, "logic", path)
    record.timeline.append(run)
    _raise_if_aborted(run, record)
    if run.undecided:
        return None
    if kind == "filter":
        run.output = "output_1"
    else:
        run.output = "output_1" if run.result else "output_2"
    conns = g.output(node, run.output)
    return [] if conns is None else [(run.output, conns)]


def _raise_if_aborted(run: NodeRun, record: WalkRecord) -> None:
    if run.aborted:
        run.output, run.undecided, run.closed = None, True, "stopped the run"
        record.failed.append(run.node)
        raise RunAborted(run.aborted)
