"""What happened to each node of a workflow in one walk, read from the runner's ``--json``
document (docs/runner.md, "The ``--json`` document"): the status the graph colours it with,
its executions, the outputs it took, and which edges the walk followed.

Statuses, in the order one execution's is decided (docs/ui.md, "The graph"):

* ``blocked``: the execution the walk stopped at (the walk's last, it failed, the walk did not
  succeed: a ``stop-execution`` or another blocking failure);
* ``mocked``: its result was scripted (``--mock``, a re-run's mocks);
* ``failed``: any status but ``success`` (``partial-success``, ``error``, ``disabled_module``,
  ``loading_error``), or a logic node without a decision;
* ``success``.

A node run several times (reached by two paths) shows the first of these its executions have.
A node never run is ``skipped`` when a skipped path (below a failed node on a non-blocking
path) leads to it, else ``not-reached``. The trigger node is ``success`` when the walk started,
``failed`` when the run failed before it (normalisation, the trigger's condition).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("success", "failed", "blocked", "skipped", "not-reached", "mocked")
_PRIORITY = {"blocked": 0, "failed": 1, "mocked": 2, "success": 3}


@dataclass
class NodeState:
    status: str = "not-reached"
    runs: list[int] = field(default_factory=list)          # indexes into the walk's ``nodes``
    outputs: list[str] = field(default_factory=list)       # outputs taken (logic nodes)
    queued: list[int] = field(default_factory=list)        # concurrent-task: branch jobs it queued
    elsewhere: list[int] = field(default_factory=list)     # jobs of other walks this node ran in

    @property
    def label(self) -> str:
        return self.status.replace("-", " ")


@dataclass
class WalkStates:
    nodes: dict[str, NodeState]
    taken: set[str]          # edges the walk followed ("<from>:<output>:<index>:<to>")
    skipped: set[str]        # edges of skipped paths
    queued: set[str]         # concurrent-task connections that queued a branch


def execution_status(entry: Mapping[str, Any], *, stopped_here: bool) -> str:
    """One execution's status (module docstring)."""
    failed = entry.get("status") != "success" or bool(entry.get("undecided"))
    if stopped_here and failed:
        return "blocked"
    if entry.get("mocked"):
        return "mocked"
    return "failed" if failed else "success"


def walk_states(walk: Mapping[str, Any], graph: Mapping[str, Mapping], *, start_node: str | None = None,
                is_main: bool = True, edges: Iterable[tuple[str, str, int, str]] = ()) -> WalkStates:
    """The states of ``graph``'s nodes (node key -> node) in one walk of the document (the main
    walk, or one entry of ``branches``). ``edges`` are the graph's ``(from, output, index, to)``
    connections, to find the ones a concurrent-task queued a branch through."""
    entries = list(walk.get("nodes") or [])
    states = {str(key): NodeState() for key in graph}
    walk_failed = walk.get("success") is False
    for i, entry in enumerate(entries):
        key = str(entry.get("node"))
        state = states.setdefault(key, NodeState())
        status = execution_status(entry, stopped_here=walk_failed and i == len(entries) - 1)
        if not state.runs or _PRIORITY[status] < _PRIORITY[state.status]:
            state.status = status
        state.runs.append(i)
        if entry.get("output"):
            state.outputs.append(str(entry["output"]))
        for job in entry.get("enqueued") or ():
            state.queued.append(int(job.get("job")))
    rows = walk.get("paths") or []
    taken: set[str] = set()
    seen_rows: set[int] = set()

    def follow(row: Any) -> None:
        while isinstance(row, int) and 0 <= row < len(rows) and row not in seen_rows:
            seen_rows.add(row)
            parent, edge = rows[row]
            taken.add(str(edge))
            row = parent

    for entry in entries:
        follow(entry.get("path"))
    skipped: set[str] = set()
    for row in walk.get("blocked_paths") or ():
        if isinstance(row, int) and 0 <= row < len(rows):
            parent, edge = rows[row]
            skipped.add(str(edge))
            follow(parent)
            target = str(edge).rsplit(":", 1)[-1]
            if target in states and not states[target].runs:
                states[target].status = "skipped"
    start = str(walk.get("start_node") or start_node or "")
    if is_main and start in states and not states[start].runs:
        states[start].status = "success" if walk.get("walked") else "failed"
    queued: set[str] = set()
    targets = {str(e.get("node")): e.get("target") for e in entries if e.get("target") is not None}
    for src, out, idx, dst in edges:
        if targets.get(str(src)) is not None and str(targets[str(src)]) == str(dst):
            queued.add(f"{src}:{out}:{idx}:{dst}")
    return WalkStates(states, taken, skipped, queued)


def run_walks(document: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``(walk id, walk)``: ``main`` then each branch by job id (``branch-<job>``)."""
    walks: list[tuple[str, Mapping[str, Any]]] = [("main", document)]
    for branch in document.get("branches") or ():
        walks.append((f"branch-{branch.get('job_id')}", branch))
    return walks


def mark_elsewhere(states: WalkStates, document: Mapping[str, Any], this_walk: str) -> None:
    """Note, on each node, the branch jobs other than ``this_walk`` it ran in (the main view
    shows where a node ran when it did not run in the main walk)."""
    for walk_id, walk in run_walks(document):
        if walk_id == this_walk or walk_id == "main":
            continue
        job = int(walk_id.split("-", 1)[1])
        for entry in walk.get("nodes") or ():
            state = states.nodes.get(str(entry.get("node")))
            if state is not None and job not in state.elsewhere:
                state.elsewhere.append(job)
