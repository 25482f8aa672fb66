"""What a run shares (:class:`RunContext`) and what one walk adds (:class:`WalkContext`).

A run is the main walk plus its concurrent branches (runner.engine). Everything they share is
made once per run, here: the caller's :class:`RunOptions` as they are (read, never copied field
by field), the request's trigger block, the stored-event view, the walk-step budget, the job
counter, and each node's module as the catalog resolves it (:meth:`RunContext.target`, once per
node). A :class:`WalkContext` is the context the walker (runner.walker) works in: the run's,
with the walk's log, job id and the branches it queued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from misp_modules.contract.client import ModuleClient
from misp_modules.contract.ids import logic_kind
from misp_modules.contract.request import Render
from runner import graph as g
from runner.catalog import Catalog, Enablement, ModuleSpec
from runner.debug import DEFAULT_DEBUG_URL, DebugPoster
from runner.errors import RunAborted
from runner.executor import execute_node
from runner.logfile import WorkflowLog
from runner.mocks import Mocks
from runner.paths import Path
from runner.records import Branch, NodeRun
from runner.stored import StoredEvent

DEFAULT_MAX_EXECUTIONS = 10_000
DEFAULT_MAX_SUBWORKFLOW_DEPTH = 8


@dataclass
class RunOptions:
    enablement: Enablement = field(default_factory=Enablement)
    mocks: Mocks = field(default_factory=Mocks)
    timeout: float | None = None             # per node; None: the client's (10 s, MISP's)
    dry_run: bool = False
    carry_module_data: bool = False          # carry `data` of MISP-facing misp-modules (MISP ignores it)
    debug_url: str | None = None             # set: debug mode on, POSTs there
    workflow_debug_url: str = DEFAULT_DEBUG_URL  # MISP's Plugin.Workflow_debug_url: a debug_enabled workflow posts there
    log_file: str | None = None
    host_org_id: Any = None                  # MISP.host_org_id; None: the SYSTEM user exists
    organisations: frozenset | None = None   # org ids that exist; None: those the event names
    max_parallel: int = 4                    # concurrent branches at once
    allow_cycles: bool = False               # walk a graph MISP refuses to save (a cycle), as MISP's engine would
    max_executions: int = DEFAULT_MAX_EXECUTIONS  # walk steps per run, branches included (MISP: no bound)
    logging: Mapping | None = None           # the caller's logging descriptor (caller_log)
    # pause the cyclic collector while the run is in progress (misp_modules.contract.wire.collector_paused):
    # a program's choice (misp-workflow's commands make it), never a library's default
    pause_collector: bool = False
    now: int | None = None                   # the run's clock, unix seconds; None: the wall clock at the start
    misp_release: str | None = None          # reproduce this MISP's module files (None: the newest known)
    initiator_user: Mapping | None = None    # MISP's getInitiatorUser(), {"User": {...}} (None: no such user)
    misp_baseurl: str | None = None          # MISP.baseurl for templates' _env (None: [misp] url, else "")
    workflows: tuple = ()                    # --workflows: the other workflows run-workflow can run (runner.graph.Workflow)
    max_subworkflow_depth: int = DEFAULT_MAX_SUBWORKFLOW_DEPTH  # nested sub-workflow runs (MISP: no bound)


@dataclass(frozen=True)
class Target:
    """A node's module as the run's catalog resolves it (once per node): the module's spec
    (None: the module server has no such module), its logic kind (logic nodes) and whether a
    failure ends the walk (a blocking module)."""

    spec: ModuleSpec | None
    logic_kind: str | None
    blocking: bool


def resolve(catalog: Catalog, node: Mapping) -> Target:
    mtype, mid = g.module_type(node), g.module_id(node)
    spec = catalog.get(mtype, mid)
    kind = logic_kind(mid, spec.logic_kind if spec else None) if mtype == "logic" else None
    return Target(spec=spec, logic_kind=kind, blocking=bool(spec and spec.blocking))


class Budget:
    """A bound on the walk steps (node executions and skipped paths) of one run, branches
    included: MISP has none, and a cyclic or path-exploding graph would run for ever. Past it,
    the walk stops with a clear error (fail closed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def spend(self) -> None:
        with self._lock:
            self.used += 1
            if self.used > self.limit:
                raise RunAborted(f"the run stopped after {self.limit:,} walk steps (node executions and skipped "
                                 f"paths, the --max-executions bound): the graph has too many paths (a cycle, or "
                                 f"forks that join again); MISP has no bound and would keep walking")


class RunContext:
    """What every walk and node execution of one run shares."""

    def __init__(self, *, workflow: g.Workflow, catalog: Catalog, client: ModuleClient | None, render: Render,
                 trigger: Mapping[str, Any], stored: StoredEvent, options: RunOptions | None = None,
                 debug: DebugPoster | None = None, user_ok: bool = True, first_job: int = 0) -> None:
        self.workflow = workflow
        self.catalog = catalog
        self.client = client
        self.render = render
        self.trigger = trigger          # {"id", "blocking", "misp_core_format"} sent to modules
        self.stored = stored
        self.options = options or RunOptions()
        self.debug = debug
        self.user_ok = user_ok          # MISP's workflow user exists (misp-behaviour.md §5.3)
        self.budget = Budget(self.options.max_executions)
        # the run's clock, sent to every module (docs/contract.md §2): one value for the run
        self.now = int(time.time()) if self.options.now is None else int(self.options.now)
        self._jobs = first_job          # job ids count up in queue order, as MISP's do
        self._jobs_lock = threading.Lock()
        self._targets: dict[str, Target] = {}
        # sub-workflows (runner.subworkflows): how deep this run is, the workflows it can run, and
        # how it starts one (set by runner.engine)
        self.depth = 0
        self.workflow_set: Any = None
        self.spawn: Any = None

    def next_job(self) -> int:
        with self._jobs_lock:
            self._jobs += 1
            return self._jobs

    def target(self, key: str, node: Mapping) -> Target:
        """The module of node ``key``, resolved on its first visit (the graph and the catalog do
        not change during a run; branches resolving a node at once resolve it alike)."""
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = resolve(self.catalog, node)
        return found


class WalkContext:
    """The context of one walk (the main run or one branch): what the walker works with."""

    def __init__(self, run: RunContext, log: WorkflowLog, job_id: int | None) -> None:
        self.run = run
        self.workflow = run.workflow
        self.log = log
        self.job_id = job_id
        self.queued: list[Branch] = []

    def target(self, key: str, node: Mapping) -> Target:
        return self.run.target(key, node)

    def execute(self, key: str, node: Mapping, target: Target, roaming: Any, kind: str, path: Path) -> NodeRun:
        self.run.budget.spend()
        return execute_node(self.run, key, node, target, roaming, kind, path, self.log)

    def skip(self) -> None:
        """A skipped path is a walk step too (a pruned cyclic graph still explodes)."""
        self.run.budget.spend()

    def queue_branch(self, target: str, snapshot: Any, run: NodeRun) -> None:
        job = self.run.next_job()
        run.enqueued.append({"job": job, "start_node": target})
        self.queued.append(Branch(job_id=job, parent_job=self.job_id, from_node=run.node,
                                  start_node=target, start_data=snapshot))

    def user_ok(self) -> bool:
        return self.run.user_ok
