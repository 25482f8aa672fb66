"""What a run records: one entry per node execution, one record per walk (docs/misp-behaviour.md §5.9).

These are plain data, filled by the walker and executor and turned into the ``--json``
document by ``runner.report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.paths import ROOT, Path, PathTable


@dataclass
class NodeRun:
    """One execution of one node (a node reached by two paths has two)."""

    node: str                     # node id as MISP prints it
    module: str                   # node.data.id
    kind: str                     # "logic" | "action"
    result: bool | None = None    # the module's boolean (IF: the condition)
    status: str = "success"       # success | partial-success | disabled_module | loading_error | error
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the module's param diagnostics (not MISP's errors)
    output: str | None = None     # logic: the output followed (None: concurrent-task or none)
    path: Path = ROOT             # edges from the start node (shared with the walk: runner.paths)
    duration: float = 0.0         # seconds, whole node (runner + module)
    module_time: float | None = None  # seconds the module server reported (when it does)
    changes: list[dict] = field(default_factory=list)
    data_changed: bool = False
    data_carried: bool = False    # a misp-module's data carried on (--carry-module-data)
    data_ignored: bool = False    # a misp-module returned data that MISP (and this run) ignores
    result_key: str | None = None  # upstream 3.1 `returns = "data"`: the result's name ...
    result_data: Any = None        # ... and the result (recorded; MISP ignores it)
    toasts: list[dict] = field(default_factory=list)  # notifications for the initiator user (MISP's UI toasts)
    mocked: bool = False
    undecided: bool = False       # logic: no decision could be obtained (fail closed, docs/runner.md)
    closed: str | None = None     # undecided: what failing closed did ("stopped the run" | "skipped its paths")
    aborted: str | None = None    # MISP's run dies at this node (after its module ran): why
    target: str | None = None     # concurrent-task: the branch this execution queued
    enqueued: list[dict] = field(default_factory=list)
    subworkflows: list[SubRun] = field(default_factory=list)  # run-workflow: the sub-workflow runs, in order

    def as_dict(self, paths: PathTable) -> dict[str, Any]:
        """The ``--json`` entry; ``path`` is a row of the walk's ``paths`` table (null: the
        start node's empty path)."""
        out: dict[str, Any] = {"node": self.node, "module": self.module, "kind": self.kind,
                               "result": self.result, "status": self.status, "errors": self.errors}
        if self.warnings:
            out["warnings"] = self.warnings
        if self.kind == "logic":
            out["output"] = self.output
        if self.target is not None:
            out["target"] = self.target
            out["enqueued"] = self.enqueued
        out["path"] = paths.index(self.path)
        out["duration_ms"] = round(self.duration * 1000, 3)
        if self.module_time is not None:
            out["module_ms"] = round(self.module_time * 1000, 3)
        if self.changes:
            out["changes"] = len(self.changes)
        if self.data_changed:
            out["data_changed"] = True
        if self.data_carried:
            out["data_carried"] = True
        if self.data_ignored:
            out["data_ignored"] = True
        if self.result_key is not None:
            out["result_key"] = self.result_key
            out["result_data"] = self.result_data
        if self.toasts:
            out["toasts"] = self.toasts
        if self.mocked:
            out["mocked"] = True
        if self.undecided:
            out["undecided"] = True
            out["closed"] = self.closed
        return out


@dataclass
class SubRun:
    """One sub-workflow run of a ``run-workflow`` node (runner.subworkflows): the workflow a
    label chose, run once per item its ad-hoc trigger collected (``result`` None: nothing was
    collected, MISP runs nothing)."""

    label: str
    workflow: Any                 # runner.graph.Workflow
    trigger: str
    scope: str | None             # the ad-hoc trigger's scope param (None: not an ad-hoc trigger)
    input: Any                    # the node's input_data
    item: int | None = None       # which collected item (0-based)
    items: int = 0                # how many were collected
    payload: Any = None           # what the sub-run's trigger received (the collected item)
    result: Any = None            # runner.engine.RunResult of the sub-run


@dataclass
class WalkRecord:
    """One ``walkGraph`` call: the main walk or a concurrent branch.

    Each walk event is recorded once, in ``timeline``: a :class:`NodeRun` per execution, a
    :class:`~runner.paths.Path` per skipped path. ``trace``, ``executed`` and ``blocked_paths``
    (MISP's walkResult) are views of it."""

    start_node: str
    for_path: str
    success: bool | None = None
    walked: bool = False
    errors: list[str] = field(default_factory=list)        # blocking errors (§5.10 wording)
    failed: list[str] = field(default_factory=list)
    stopped_by_stop: bool = False
    aborted: str | None = None    # MISP's run died during this walk (RunAborted): why
    timeline: list[NodeRun | Path] = field(default_factory=list)  # in walk order

    @property
    def trace(self) -> list[NodeRun]:
        """Every execution, logic and action, in order."""
        return [step for step in self.timeline if isinstance(step, NodeRun)]

    @property
    def executed(self) -> list[str]:
        """The action node ids executed, in order (MISP's ``executed_nodes``)."""
        return [step.node for step in self.timeline if isinstance(step, NodeRun) and step.kind == "action"]

    @property
    def blocked_paths(self) -> list[Path]:
        """The paths skipped below a failed node on a non-blocking path."""
        return [step for step in self.timeline if isinstance(step, Path)]

    @property
    def logic(self) -> list[dict]:
        return [{"node": r.node, "module": r.module, "output": r.output} for r in self.trace if r.kind == "logic"]

    @property
    def outcome(self) -> str | None:
        if self.success is None:
            return None
        return "success" if self.success else ("blocked" if self.stopped_by_stop else "failure")


@dataclass
class Branch:
    """A concurrent-task branch: MISP queues it as a background job (misp-behaviour.md §5.6)."""

    job_id: int
    parent_job: int | None
    from_node: str
    start_node: str
    start_data: Any
    walk: WalkRecord | None = None
    final_data: Any = None
    log: list[str] = field(default_factory=list)        # what the branch wrote to MISP's log
    error_log: list[str] = field(default_factory=list)  # the part of it written in every mode
    job_message: str | None = None
    duration: float = 0.0
