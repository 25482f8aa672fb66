"""The worker: takes tasks off the queue and sees each through to its end.

One delivery of a task (docs/service.md, "A run's life"):

1. the workflow by name from the folder, at its current version;
2. feed tasks: skipped when the service's own write caused the message (:mod:`.guard`);
3. the per-event breaker: over the limit, the run is recorded as ``loop``, with an alert;
4. a checkpoint from an earlier delivery (its worker died during the write-back) resumes the
   write-back; otherwise the data (the task's, or the event fetched from MISP) goes through
   the runner (:mod:`.execution`); a module server or MISP that cannot be reached is a
   transient failure: retried with exponential back-off, dead-lettered after
   ``max_attempts``;
5. the changes are written back once (:mod:`.writeback`), the run goes to the history, and
   only then is the task acknowledged: a worker killed at any point before leaves the task
   leased, and it is delivered again when the lease runs out.

Tasks that cannot succeed (unknown workflow, data the trigger cannot take, an event MISP
does not have) are recorded as ``error`` and kept in the dead letters, to be re-queued once
fixed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from runner.service import execution, record
from runner.service.backend import Claimed
from runner.service.execution import Call, Engine
from runner.service.history import RunRow
from runner.service.misp import MispNotConfigured, MispRefused, MispTransient
from runner.service.tasks import Task, compress, decompress
from runner.service.workflows import UnknownWorkflow, pinned
from runner.service.writeback import EventRef, WriteTransient, prepare

if TYPE_CHECKING:  # pragma: no cover
    from runner.service.app import Service

log = logging.getLogger("misp-workflow.service")


class Permanent(Exception):
    """This task cannot succeed as it is (the message says why)."""


class Transient(Exception):
    """Try this task again later (the message says why)."""


class Leases:
    """Extends the leases of the tasks this process is running, from one thread."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._active: dict[int, Claimed] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="leases", daemon=True)
        self._thread.start()

    def hold(self, claimed: Claimed) -> None:
        with self._lock:
            self._active[id(claimed)] = claimed

    def drop(self, claimed: Claimed) -> None:
        with self._lock:
            self._active.pop(id(claimed), None)

    def _beat(self) -> None:
        interval = max(0.2, self.service.config.queue.lease / 3)
        while not self._stop.wait(interval):
            with self._lock:
                held = list(self._active.values())
            for claimed in held:
                try:
                    if not self.service.backend.heartbeat(claimed):
                        log.warning("run %s: lease lost (another worker took it over)", claimed.task.id)
                except Exception as exc:  # noqa: BLE001 - the backend may be restarting
                    log.warning("lease heartbeat failed: %s", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()


class Worker:
    def __init__(self, service: Service, name: str) -> None:
        self.service = service
        self.name = name
        self.engine = Engine(service.engine_settings, service.catalogs)
        self.current: Claimed | None = None
        self.phase = "idle"          # idle | running | writing
        self.abandoned = False       # shutdown gave its run back: it must write nothing more
        self.thread = threading.Thread(target=self.loop, name=name, daemon=True)

    # -- the loop -----------------------------------------------------------------------------
    def loop(self) -> None:
        svc = self.service
        failures = 0
        while not svc.stopping.is_set():
            try:
                claimed = svc.backend.claim(self.name, timeout=1.0, window=svc.config.guard.window)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the backend is down: wait and try again
                failures += 1
                log.warning("%s: cannot reach the queue (%s: %s); retrying", self.name, type(exc).__name__, exc)
                svc.stopping.wait(min(5.0, 0.2 * 2 ** min(failures, 5)))
                continue
            if claimed is None:
                svc.maybe_maintain()
                continue
            if svc.stopping.is_set():
                svc.backend.release(claimed)
                break
            self.current = claimed
            svc.leases.hold(claimed)
            try:
                self.handle(claimed)
            except Exception:  # noqa: BLE001 - keep the worker alive; the lease brings the task back
                log.exception("%s: run %s: unexpected error", self.name, claimed.task.id)
            finally:
                svc.leases.drop(claimed)
                self.current = None
                self.phase = "idle"
        self.engine.close()

    # -- one delivery -------------------------------------------------------------------------
    def handle(self, claimed: Claimed) -> None:
        svc, task = self.service, claimed.task
        started = time.time()
        max_attempts = svc.config.queue.max_attempts
        try:
            if task.attempts > max_attempts + 1:
                raise Permanent(f"delivered {task.attempts - 1} times without finishing (its worker was lost "
                                "each time)")
            wf = svc.folder.get(task.workflow) if task.workflow_file is None else \
                pinned(task.workflow, task.workflow_file.encode("utf-8"))
            trigger = task.trigger or (None if wf.trigger else svc.config.adhoc_trigger)
            runnable, trigger = svc.folder.runnable(wf, trigger)
            svc.record_version(wf.version, wf.name, wf.content)
            base = dict(workflow=wf.name, version=wf.version, trigger=trigger)
            caused_by = svc.guard.caused_by_us(task)
            if caused_by:
                svc.metrics.skipped.inc()
                self._finish(claimed, started, outcome="skipped", state="skipped",
                             message=f"caused by this service's own write (run {caused_by})", **base)
                return
            over = svc.guard.loop(task, claimed.runs_in_window)
            if over is not None:
                message = (f"loop: {over} runs on {task.key} within {svc.config.guard.window:g} s "
                           f"(limit {svc.config.guard.max_runs_per_event}); not run")
                svc.metrics.loops.labels(wf.name).inc()
                self._finish(claimed, started, outcome="loop", state="skipped", message=message, **base)
                svc.alert("loop", f"misp-workflow: loop on {task.key} in workflow {wf.name}",
                          {"run": task.id, "workflow": wf.name, "message": message, **self._event_ids(task)})
                return
            self.phase = "running"
            checkpoint = svc.backend.load_checkpoint(task.id)
            if checkpoint is not None:
                state = orjson.loads(decompress(checkpoint))
                detail = record.unpack(bytes.fromhex(state["detail"]))
                ex = execution.Execution(state["outcome"], state["message"], detail.document, state["changes"],
                                         [_call(c) for c in detail.calls], duration=state["duration"])
                raw_bytes, event = detail.input, EventRef(state["event"][0], state["event"][1])
                notes = ["resumed from a checkpoint: the run had finished, its write-back had not"]
            else:
                raw, raw_bytes = self._data(task)
                ex = self.engine.run(runnable, raw, trigger, task.mocks)
                if self.abandoned:
                    return  # released at shutdown: another worker runs it again
                if ex.transient:
                    raise Transient(ex.transient)
                if ex.outcome == "error":
                    raise Permanent(ex.message)
                ex.changes = prepare(ex.changes, task.id)
                event = _event_ref(raw, task)
                notes = []
                if ex.changes and svc.writeback.enabled and svc.misp.configured:
                    blob = record.pack(raw_bytes, ex.document, ex.calls, [], notes, _meta(task))
                    svc.backend.save_checkpoint(task.id, compress(orjson.dumps({
                        "detail": blob.hex(), "outcome": ex.outcome, "message": ex.message, "changes": ex.changes,
                        "duration": ex.duration, "event": [event.id, event.uuid]})))
            self.phase = "writing"
            written = svc.writeback.apply(task.id, task.id, ex.changes, event)
            for entry in written:
                svc.metrics.written.labels(entry["state"]).inc()
            detail_blob = record.pack(raw_bytes, ex.document, ex.calls, written, notes, _meta(task))
            applied = sum(1 for w in written if w["state"] in ("applied", "already"))
            self._finish(claimed, started, outcome=ex.outcome, state="done", message=ex.message,
                         duration_ms=round(ex.duration * 1000, 3), nodes=len(ex.document.get("nodes") or []),
                         changes=len(ex.changes), written=applied, detail=detail_blob, event=event, **base)
            svc.metrics.duration.labels(wf.name).observe(ex.duration)
            if ex.outcome == "failure":
                svc.alert("failure", f"misp-workflow: workflow {wf.name} failed",
                          {"run": task.id, "workflow": wf.name, "message": ex.message, **self._event_ids(task)})
        except (Transient, WriteTransient, MispTransient) as exc:
            self._retry(claimed, started, str(exc))
        except (Permanent, UnknownWorkflow, execution.WorkflowInvalid, execution.DataInvalid, MispRefused,
                MispNotConfigured) as exc:
            self._dead(claimed, started, str(exc))

    # -- pieces ---------------------------------------------------------------------------------
    def _data(self, task: Task) -> tuple[Any, bytes | None]:
        if task.data is not None:
            try:
                return orjson.loads(task.data), task.data
            except orjson.JSONDecodeError as exc:
                raise Permanent(f"the task's data is not JSON: {exc}") from None
        if task.event_ref:
            try:
                event = self.service.misp.fetch_event(task.event_ref)
            except MispNotConfigured as exc:
                raise Permanent(f"event {task.event_ref}: {exc}") from None
            return event, orjson.dumps(event)
        raise Permanent("the task has neither data nor an event to fetch")

    @staticmethod
    def _event_ids(task: Task) -> dict[str, Any]:
        feed = task.feed or {}
        return {"event_id": feed.get("event_id") or (task.key[6:] if task.key.startswith("event:") else None),
                "event_uuid": feed.get("event_uuid") or feed.get("uuid")}

    def _finish(self, claimed: Claimed, started: float, *, outcome: str, state: str, message: str,
                workflow: str, version: str | None, trigger: str | None, duration_ms: float | None = None,
                nodes: int = 0, changes: int = 0, written: int = 0, detail: bytes | None = None,
                event: EventRef | None = None) -> None:
        svc, task = self.service, claimed.task
        ids = self._event_ids(task)
        if event is not None:
            ids = {"event_id": event.id or ids["event_id"], "event_uuid": event.uuid or ids["event_uuid"]}
        now = time.time()
        row = RunRow(id=task.id, workflow=workflow, version=version, trigger=trigger, event_id=ids["event_id"],
                     event_uuid=ids["event_uuid"], source=task.source, parent=task.parent, outcome=outcome,
                     message=message, attempts=task.attempts, enqueued_at=task.enqueued_at, started_at=started,
                     finished_at=now, duration_ms=duration_ms, nodes=nodes, changes=changes, written=written,
                     state=state)
        if detail is None:
            detail = record.pack(task.data, {}, [], [], [message], _meta(task))
        relayed = row.encode(detail) if svc.relay_history else None
        if relayed is None:
            svc.history.record(row, detail)
        if state == "dead":
            svc.backend.dead(claimed, message, history=relayed)
        else:
            svc.backend.ack(claimed, history=relayed)
        svc.metrics.runs.labels(workflow, outcome).inc()
        svc.metrics.intake_to_done.observe(max(0.0, now - task.enqueued_at))
        svc.history_written()

    def _retry(self, claimed: Claimed, started: float, error: str) -> None:
        if self.abandoned:
            return
        svc, task = self.service, claimed.task
        q = svc.config.queue
        if task.attempts >= q.max_attempts:
            self._dead(claimed, started, f"gave up after {task.attempts} attempts: {error}")
            return
        delay = min(q.backoff_max, q.backoff * 2 ** (task.attempts - 1))
        log.warning("run %s (%s): attempt %d failed, retry in %.1f s: %s", task.id, task.workflow, task.attempts,
                    delay, error)
        svc.metrics.retries.labels(task.workflow).inc()
        svc.backend.retry(claimed, error, delay)

    def _dead(self, claimed: Claimed, started: float, error: str) -> None:
        if self.abandoned:
            return
        svc, task = self.service, claimed.task
        log.error("run %s (%s): dead-lettered: %s", task.id, task.workflow, error)
        svc.metrics.dead.labels("gave-up" if error.startswith("gave up") else "error").inc()
        self._finish(claimed, started, outcome="error", state="dead", message=error, workflow=task.workflow,
                     version=None, trigger=task.trigger)
        svc.alert("dead", f"misp-workflow: run of {task.workflow} dead-lettered",
                  {"run": task.id, "workflow": task.workflow, "message": error, **self._event_ids(task)})


def _meta(task: Task) -> dict[str, Any]:
    """What the run was asked for beyond its input, kept with its detail (a re-run offers it again)."""
    return {k: v for k, v in (("mocks", task.mocks), ("version", task.version)) if v}


def _event_ref(raw: Any, task: Task) -> EventRef:
    event = raw.get("Event") if isinstance(raw, Mapping) and isinstance(raw.get("Event"), Mapping) else {}
    feed = task.feed or {}
    ident = event.get("id") or feed.get("event_id") or (task.key[6:] if task.key.startswith("event:") else None)
    uuid = event.get("uuid") or feed.get("event_uuid")
    return EventRef(str(ident) if ident not in (None, "") else None, str(uuid) if uuid else None)


def _call(stored: Mapping[str, Any]) -> Call:
    return Call(stored.get("thread", ""), stored.get("request", b""), stored.get("answer", b""), stored.get("error"),
                float(stored.get("ms") or 0.0))
