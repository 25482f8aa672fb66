"""One run of a workflow for a trigger, as MISP's ``executeWorkflowForTrigger`` and
``__runWorkflow`` (docs/misp-behaviour.md §5.1-§5.2), then its concurrent branches (§5.6).

The main walk runs in the caller's thread. The branches its concurrent-task nodes queue run
after it, concurrently, each on its own roaming data (the snapshot taken when it was queued),
as MISP's background jobs would; branches queued inside a branch start when that branch ends.
Job ids count up in queue order, as MISP's do (job 1 is the trigger's own job for a
non-blocking trigger).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from misp_modules.contract import jinja
from misp_modules.contract.client import ModuleClient
from misp_modules.contract.triggers import Trigger, get_trigger
from misp_modules.contract.wire import collector_paused
from runner import graph as g
from runner.catalog import Catalog
from runner.context import RunContext, RunOptions, WalkContext
from runner.debug import DebugPoster
from runner.errors import InputError, RunAborted
from runner.jinja import Renderer
from runner.logfile import WorkflowLog
from runner.mocks import Mocks
from runner.records import Branch, WalkRecord
from runner.roaming import RoamingData
from runner.stored import StoredEvent
from runner.triggers import DEFAULT_FAILURE_TITLE, caller_log, condition_holds, normalize
from runner.validate import first_cycle
from runner.walker import walk_graph

INVALID_START = "Invalid start node `-1`"
CONDITION_FAILED = "Conditions on the trigger are not satisfied to continue the execution"


@dataclass(kw_only=True)
class RunResult:
    workflow: g.Workflow
    trigger: Trigger
    outcome: str                   # success | blocked | failure
    outcome_text: str              # MISP's outcomeText ("failure Error while normalizing ...")
    success: bool
    errors: list[str]
    log: list[str]                 # what the main run wrote to MISP's log (progress only in debug mode)
    error_log: list[str]           # the part of it MISP writes in every mode (its error log)
    walk: WalkRecord | None
    start_data: Any
    data: Any                      # final roaming data
    stored: StoredEvent
    branches: list[Branch]
    caller_log: dict | None
    duration: float
    notes: list[str] = field(default_factory=list)
    job_message: str | None = None  # non-blocking triggers: the message MISP saves for the run's job
    now: int = 0                    # the clock the run used (unix seconds)
    now_given: bool = False         # True: --now; False: the wall clock at the start
    misp_release: str | None = None  # --misp-release: the MISP module files reproduced (None: the newest known)
    initiator_user: Any = None       # --initiator-user: MISP's initiator user, {"User": {...}} (None: none)

    @property
    def message(self) -> str:
        if self.outcome_text.startswith("failure ") and not self.errors:
            return self.outcome_text[len("failure "):]
        return ", ".join(self.errors)


class Runner:
    """Runs workflows against one module server (one connection pool, one module catalog)."""

    def __init__(self, catalog: Catalog, client: ModuleClient | None, options: RunOptions | None = None) -> None:
        self.catalog = catalog
        self.client = client
        self.options = options or RunOptions()
        self.render = Renderer(client, jinja.MODULE in catalog.expansions, _render_env(self.options))

    def run(self, workflow: g.Workflow, raw: Any, trigger_id: str | None = None) -> RunResult:
        return _Run(self, workflow, raw, trigger_id).execute()


class _Run:
    """One run: the main walk, then its branches, sharing one :class:`RunContext`. A sub-workflow
    run (runner.subworkflows) is a run too, started by its parent's :meth:`spawn`: one level
    deeper, on the parent's workflow set, walk-step budget and (for the same event) stored event."""

    def __init__(self, runner: Runner, workflow: g.Workflow, raw: Any, trigger_id: str | None, *,
                 options: RunOptions | None = None, parent: _Run | None = None,
                 stored: StoredEvent | None = None) -> None:
        opts = options or runner.options
        tid = trigger_id or workflow.trigger_id or ""
        trigger = get_trigger(tid)
        if trigger is None:
            raise InputError(f"Unknown trigger `{tid}`")
        if not opts.allow_cycles:
            refuse_cycles(workflow)
        self.runner, self.workflow, self.raw, self.trigger, self.opts = runner, workflow, raw, trigger, opts
        debug_on = bool(opts.debug_url) or workflow.debug_enabled
        self.log = WorkflowLog(trigger.id, workflow.id, debug=debug_on, path=opts.log_file)
        self.debug = DebugPoster(opts.debug_url or opts.workflow_debug_url, trigger.id) if debug_on else None
        self.stored = stored if stored is not None else StoredEvent(raw)
        first = workflow.first_trigger()
        core = bool(g.node_data(first[1]).get("misp_core_format")) if first else trigger.misp_core_format
        self.ctx = RunContext(
            workflow=workflow, catalog=runner.catalog, client=runner.client, render=runner.render,
            trigger={"id": trigger.id, "blocking": trigger.blocking, "misp_core_format": core},
            stored=self.stored, options=opts, debug=self.debug, user_ok=_workflow_user_exists(opts, raw),
            first_job=0 if trigger.blocking else 1)  # job 1 is the trigger's job when non-blocking
        if parent is None:
            from runner.subworkflows import WorkflowSet

            self.ctx.workflow_set = WorkflowSet((workflow, *opts.workflows))
        else:
            self.ctx.depth = parent.ctx.depth + 1
            self.ctx.workflow_set = parent.ctx.workflow_set
            self.ctx.budget = parent.ctx.budget  # one bound for the whole run, sub-runs included
        self.ctx.spawn = self.spawn
        self.branches: list[Branch] = []
        self._local_renders = runner.render.local_renders

    def spawn(self, workflow: g.Workflow, raw: Any, trigger_id: str, stored: StoredEvent | None) -> RunResult:
        """Run ``workflow`` as a sub-workflow of this run (MISP's ``executeWorkflowForTrigger`` from
        inside ``run-workflow``): ``--mock`` scripts only the main workflow's nodes."""
        options = dataclasses.replace(self.opts, mocks=Mocks())
        return _Run(self.runner, workflow, raw, trigger_id, options=options, parent=self, stored=stored).execute()

    # -- the top-level run ------------------------------------------------------------------
    def execute(self) -> RunResult:
        started = time.perf_counter()
        try:
            with collector_paused() if self.opts.pause_collector else nullcontext():
                result = self._main()
        finally:
            self.log.close()
        result.duration = time.perf_counter() - started
        return result

    def _result(self, *, outcome: str, text: str | None = None, errors: list[str] | None = None,
                walk: WalkRecord | None = None, start: Any = None, data: Any = None) -> RunResult:
        """The run's result; ``text`` (MISP's outcomeText) defaults to the outcome."""
        errors = [] if errors is None else errors
        success = outcome == "success"
        clog = None if success else caller_log(self.trigger, self.raw, errors, self.opts.logging)
        log = self.log
        return RunResult(
            workflow=self.workflow, trigger=self.trigger, outcome=outcome, outcome_text=text or outcome,
            success=success, errors=errors, log=log.messages(), error_log=log.errors(), walk=walk,
            start_data=start, data=data,
            stored=self.stored, branches=sorted(self.branches, key=lambda b: b.job_id), caller_log=clog,
            duration=0.0, notes=self._notes(), job_message=self._job_message(success, errors),
            now=self.ctx.now, now_given=self.opts.now is not None, misp_release=self.opts.misp_release,
            initiator_user=self.opts.initiator_user)

    def _notes(self) -> list[str]:
        notes = list(self.stored.problems)
        local = self.runner.render.note_since(self._local_renders)
        if local:
            notes.append(local)
        return notes

    def _job_message(self, success: bool, errors: list[str]) -> str | None:
        """What MISP saves for the job of a non-blocking trigger (misp-behaviour.md §5.1). MISP's failure
        message has one placeholder too many and crashes with a ValueError; this is the message
        it was meant to be."""
        if self.trigger.blocking:
            return None
        if success:
            return f"Workflow for trigger `{self.trigger.id}` completed execution"
        title = (self.opts.logging or {}).get("message") or DEFAULT_FAILURE_TITLE
        return (f"Error while executing workflow for trigger `{self.trigger.id}`: {title.rstrip('.')}. "
                f"\nReturned message: {', '.join(errors)}")

    def _main(self) -> RunResult:
        trigger, wf, log = self.trigger, self.workflow, self.log
        first = wf.first_trigger()
        if first is None or g.module_id(first[1]) != trigger.id:
            return self._result(outcome="failure", errors=[INVALID_START])
        start_key, trigger_node = first
        log.debug(f"Started executing workflow for trigger `{trigger.id}` ({wf.id})")
        detail = None
        try:
            data = normalize(trigger, self.raw)
            problem = "Invalid input." if data is False else None
        except Exception as exc:  # noqa: BLE001 - MISP: any exception from normalizeData
            data, problem, detail = None, _normalization_problem(exc), str(exc)
        if problem is not None:
            message = f"Error while normalizing data for trigger. {problem}"
            log.debug(message)
            result = self._result(outcome="failure", text="failure " + message)
            if detail and detail not in message:
                result.notes.append(f"normalisation: {detail}")
            return result
        if self.debug is not None:
            try:
                self.debug.init(trigger.for_path, self.raw, data)
            except RunAborted as exc:  # MISP's run dies before the walk
                log.error(str(exc))
                return self._result(outcome="failure", errors=[str(exc)], start=data, data=data)
        if not condition_holds(trigger, g.indexed_params(trigger_node), self.raw):
            return self._result(outcome="failure", text="failure " + CONDITION_FAILED, start=data, data=data)
        record = WalkRecord(start_node=start_key, for_path=trigger.for_path)
        roaming = RoamingData(data)
        walker = WalkContext(self.ctx, log, None if trigger.blocking else 1)
        try:
            success = walk_graph(walker, start_key, trigger.for_path, roaming, record)
        except RunAborted as exc:
            record.errors.append(str(exc))
            record.aborted = str(exc)
            success = False
        record.success = success
        if not success:
            log.error("Execution stopped. \n" + ", ".join(record.errors))
        elif record.errors:
            log.error("Execution encountered an error but continued. \n" + ", ".join(record.errors))
        outcome = "success" if success else ("blocked" if record.stopped_by_stop else "failure")
        log.debug(f"Finished executing workflow for trigger `{trigger.id}` ({wf.id}). Outcome: {outcome}")
        if self.debug is not None:
            try:
                self.debug.end(outcome, _walk_result(wf, record))
            except RunAborted as exc:  # MISP's run dies after the walk: the caller sees a failure
                record.errors.append(str(exc))
                log.error(str(exc))
                success, outcome = False, "failure"
                record.success = False
        self._run_branches(walker.queued)
        return self._result(outcome=outcome, errors=record.errors, walk=record, start=data, data=roaming.data)

    # -- concurrent branches ----------------------------------------------------------------
    def _run_branches(self, first: list[Branch]) -> None:
        if not first:
            return
        lock = threading.Lock()
        done = threading.Event()
        count = [0]

        with ThreadPoolExecutor(max_workers=max(1, self.opts.max_parallel), thread_name_prefix="branch") as pool:
            def submit(branches: list[Branch]) -> None:
                with lock:
                    count[0] += len(branches)
                    self.branches.extend(branches)
                for b in branches:
                    pool.submit(task, b)

            def task(branch: Branch) -> None:
                try:
                    children = self._branch(branch)
                    if children:
                        submit(children)
                finally:
                    with lock:
                        count[0] -= 1
                        if count[0] == 0:
                            done.set()

            submit(first)
            done.wait()

    def _branch(self, branch: Branch) -> list[Branch]:
        """MISP's ``WorkflowShell walkGraph`` job for one branch (misp-behaviour.md §5.1)."""
        started = time.perf_counter()
        log = self.log.scoped(job=True)
        record = WalkRecord(start_node=branch.start_node, for_path="non-blocking")
        roaming = RoamingData(branch.start_data)
        walker = WalkContext(self.ctx, log, branch.job_id)
        try:
            success = walk_graph(walker, branch.start_node, "non-blocking", roaming, record)
        except RunAborted as exc:
            record.errors.append(str(exc))
            success = False
        except Exception as exc:  # noqa: BLE001 - one branch must not take the others down
            record.errors.append(f"branch crashed: {type(exc).__name__}: {exc}")
            success = False
        record.success = success
        if success:
            branch.job_message = (f"Workflow concurrent task executed {len(record.executed)} nodes "
                                  f"starting from node {branch.start_node}.")
        else:
            branch.job_message = "Error while executing workflow concurrent task. \n" + ", ".join(record.errors)
            log.error(branch.job_message)
        branch.walk = record
        branch.final_data = roaming.data
        branch.log = log.messages()
        branch.error_log = log.errors()
        branch.duration = time.perf_counter() - started
        return walker.queued


def refuse_cycles(workflow: g.Workflow) -> None:
    """:class:`InputError` for what MISP refuses to save (validate's cycle check and message)."""
    cycle = first_cycle(workflow)
    if cycle is not None:
        raise InputError(f"{workflow.source}: {cycle.message}; MISP refuses to save such a workflow "
                         "(--allow-cycles walks it as MISP's engine would)")


def _normalization_problem(exc: Exception) -> str:
    """MISP's two texts: ``normalizeData`` returned false ("Invalid input.", e.g. a missing
    key) or threw ("Error:\n<message>")."""
    message = str(exc)
    if message.endswith("Invalid input.") or "Invalid input. " in message or message == "":
        return "Invalid input."
    return "Error:\n" + message


def _walk_result(workflow: g.Workflow, record: WalkRecord) -> dict:
    """MISP's ``walkResult`` for the ``/end`` debug POST (full node objects, §5.9)."""
    def nodes(ids: list[str]) -> list:
        return [workflow.node(i) or {"id": i} for i in ids]
    return {"blocking_nodes": nodes(record.failed), "executed_nodes": nodes(record.executed),
            "blocked_paths": [p.edges() for p in record.blocked_paths]}  # MISP's format: whole lists


def _render_env(opts: RunOptions) -> dict[str, Any] | None:
    """The ``_env`` MISP's newer base class renders templates with (misp-behaviour.md §16.15):
    ``baseurl`` is ``RunOptions.misp_baseurl`` (``misp-workflow run`` fills in the configured
    ``[misp] url``), else ``""`` (MISP's unset ``MISP.baseurl``); none when reproducing v2.5.1,
    whose base class adds none."""
    if opts.misp_release == "2.5.1":
        return None
    return {"baseurl": opts.misp_baseurl or ""}


def _workflow_user_exists(opts: RunOptions, raw: Any) -> bool:
    """MISP's workflow user (misp-behaviour.md §5.3): the SYSTEM user of ``MISP.host_org_id`` when that org
    exists. Offline, the organisations that exist are ``--organisation`` ids, else the ones the
    event itself names; there is no site-admin fallback (the runner knows no users)."""
    if opts.host_org_id in (None, ""):
        return True
    known = opts.organisations if opts.organisations is not None else _event_orgs(raw)
    return str(opts.host_org_id) in {str(o) for o in known}


def _event_orgs(raw: Any) -> set[str]:
    orgs: set[str] = set()
    if not isinstance(raw, Mapping):
        return orgs
    event = raw.get("Event") if isinstance(raw.get("Event"), Mapping) else {}
    for holder in (event, raw):
        for key in ("org_id", "orgc_id"):
            if holder.get(key) not in (None, ""):
                orgs.add(str(holder[key]))
        for key in ("Org", "Orgc"):
            org = holder.get(key)
            if isinstance(org, Mapping) and org.get("id") not in (None, ""):
                orgs.add(str(org["id"]))
    return orgs
