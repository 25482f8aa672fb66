"""One service process: its parts, its roles, its start and its graceful end.

Roles (``misp-workflow serve --role``): ``all`` (intake and workers: the embedded mode's one
process), ``intake`` (the feed ingester, the HTTP API and the schedules) and ``worker``
(workers, plus ``/healthz`` and ``/metrics`` on ``--metrics-port``). With the Redis backend
any number of each run on any hosts; with SQLite, the processes of one host.

Shutdown (SIGTERM, SIGINT): intake stops first (nothing new is accepted), workers finish the
run in hand for up to ``[service] shutdown_grace`` seconds; a run still executing then is
released back to the queue (delivered again at once, to another worker), and the process
waits for any run that is writing back to MISP, which is short and must not be cut.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from typing import Any

from runner.service import config as cfg
from runner.service.alerts import Alerts
from runner.service.backend import Backend
from runner.service.execution import Catalogs, EngineSettings
from runner.service.guard import Guard
from runner.service.history import History
from runner.service.intake import Intake
from runner.service.metrics import Metrics
from runner.service.misp import MispClients
from runner.service.tasks import Task
from runner.service.workflows import WorkflowFolder
from runner.service.writeback import WriteBack

log = logging.getLogger("misp-workflow.service")
ROLES = ("all", "intake", "worker")


def open_backend(config: cfg.QueueConfig) -> Backend:
    if config.backend == "redis":
        from runner.service.backend_redis import RedisBackend

        return RedisBackend(config.url, namespace=config.namespace, lease=config.lease)
    from runner.service.backend_sqlite import SqliteBackend

    return SqliteBackend(config.path, lease=config.lease, poll=config.poll, synchronous=config.synchronous)


class Service:
    def __init__(self, config: cfg.ServiceConfig, *, role: str = "all", workers: int | None = None) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        self.config = config
        self.role = role
        self.stopping = threading.Event()
        self.backend = open_backend(config.queue)
        pg_history = config.history.url.startswith(("postgresql://", "postgres://"))
        # Workers on a Redis queue hand their history to the intake, which owns the SQLite file
        # (it may be on another host); with PostgreSQL every process writes it directly.
        self.relay_history = self.backend.relays_history and not pg_history
        self.history: Any = None if role == "worker" and self.relay_history else History(config.history.url)
        self.folder = WorkflowFolder(config.workflows, check_interval=config.reload_check)
        self.catalogs = Catalogs(config.modules_url)
        self.engine_settings = EngineSettings(
            modules_url=config.modules_url, node_timeout=config.node_timeout, enabled_modules=config.enabled_modules,
            disabled_modules=config.disabled_modules, carry_module_data=config.carry_module_data,
            host_org_id=config.host_org_id, transient_errors=config.transient_errors)
        self.metrics = Metrics(self.backend.depth)
        self.misp = MispClients(config.misp)
        self.guard = Guard(self.backend, config.guard)
        self.writeback = WriteBack(self.misp, self.backend, enabled=config.misp.write_back,
                                   own_write_ttl=config.guard.own_write_ttl)
        self.alerts = Alerts(config.alerts, config.modules_url)
        self.intake = Intake(self)
        self.api_pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="api")
        self._written = threading.Condition()
        self._maintained = 0.0
        self._maintain_lock = threading.Lock()
        self.workers: list[Any] = []
        self.leases: Any = None
        self.feed: Any = None
        self.scheduler: Any = None
        self.relay: Any = None
        self._versions_sent: set[str] = set()
        self.worker_count = workers if workers is not None else config.workers

    # -- life -----------------------------------------------------------------------------
    def start(self) -> None:
        from runner.service.feed import FeedIngester
        from runner.service.schedules import Scheduler
        from runner.service.worker import Leases, Worker

        self.folder.refresh(force=True)
        for wf in self.folder.all():
            if wf.problem:
                log.warning("workflow %s (%s): %s", wf.name, wf.path, wf.problem)
        if self.role in ("all", "worker"):
            self.leases = Leases(self)
            import os

            prefix = f"worker-{os.getpid()}"
            self.workers = [Worker(self, f"{prefix}-{i}") for i in range(self.worker_count)]
            for worker in self.workers:
                worker.thread.start()
        if self.role in ("all", "intake"):
            if self.config.feed.url:
                self.feed = FeedIngester(self)
                self.feed.start()
            self.scheduler = Scheduler(self)
            self.scheduler.start()
            if self.relay_history:
                self.relay = HistoryRelay(self)
                self.relay.start()
        log.info("service started: role %s, queue %s, history %s, %d worker(s), workflows in %s",
                 self.role, self.backend.describe(),
                 self.history.describe() if self.history is not None else "relayed through the queue", len(self.workers),
                 self.config.workflows)

    def stop(self) -> None:
        """Graceful end (module docstring)."""
        log.info("service stopping")
        if self.feed is not None:
            self.feed.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        self.stopping.set()
        if self.relay is not None:
            self.relay.stop()
        self.backend.wake()
        deadline = time.monotonic() + self.config.shutdown_grace
        for worker in self.workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
        for worker in self.workers:
            claimed = worker.current
            if worker.thread.is_alive() and claimed is not None and worker.phase == "running":
                log.warning("run %s still running after %.0f s: released to the queue", claimed.task.id,
                            self.config.shutdown_grace)
                worker.abandoned = True
                try:
                    self.backend.release(claimed)
                except Exception as exc:  # noqa: BLE001 - the lease will run out instead
                    log.warning("could not release run %s: %s", claimed.task.id, exc)
        for worker in self.workers:
            while worker.thread.is_alive() and worker.phase == "writing":
                worker.thread.join(0.1)
        if self.leases is not None:
            self.leases.stop()
        self.api_pool.shutdown(wait=False, cancel_futures=True)
        if not any(w.thread.is_alive() for w in self.workers):
            self.backend.close()  # an abandoned run's thread may still hold connections: leave them
            if self.history is not None:
                self.history.close()
        log.info("service stopped")

    # -- shared helpers -------------------------------------------------------------------------
    def record_version(self, version: str, name: str, content: bytes) -> None:
        """Keep a workflow version's file in the history (through the relay when relaying)."""
        if not self.relay_history:
            self.history.add_version(version, name, content)
            return
        if version not in self._versions_sent:
            from runner.service.history import version_entry

            self.backend.relay_entry(version_entry(version, name, content))
            self._versions_sent.add(version)

    def history_written(self) -> None:
        with self._written:
            self._written.notify_all()

    def wait_for_runs(self, since: int, wait: float) -> list[dict]:
        """Runs written after ``since``; waits up to ``wait`` s for one (other processes' runs
        are seen within a quarter second)."""
        deadline = time.monotonic() + wait
        while True:
            rows = self.history.since(since)
            left = deadline - time.monotonic()
            if rows or left <= 0 or self.stopping.is_set():
                return rows
            with self._written:
                self._written.wait(min(left, 0.25))

    def maybe_maintain(self) -> None:
        """Now and then (idle workers): expired guard records, history retention."""
        now = time.monotonic()
        if now - self._maintained < 60 or not self._maintain_lock.acquire(blocking=False):
            return
        try:
            self._maintained = now
            self.backend.maintain()
            if self.history is None:
                return
            h = self.config.history
            dropped = self.history.prune(h.max_age_days * 86400 if h.max_age_days else None, h.max_runs)
            if dropped:
                log.info("history: %d run(s) past retention dropped", dropped)
        except Exception as exc:  # noqa: BLE001 - maintenance must not take a worker down
            log.warning("maintenance failed: %s", exc)
        finally:
            self._maintain_lock.release()

    def alert(self, kind: str, title: str, details: dict) -> None:
        if self.alerts.wants(kind):
            ok = self.alerts.send(kind, title, details)
            self.metrics.alerts.labels("sent" if ok else "failed").inc()

    def rerun(self, run_id: str, *, data: Any = None, event_ref: str | None = None,
              mocks: dict[str, Any] | None = None, version: str | None = None) -> Task:
        """Queue a finished run again: its input (or ``data``, or the MISP event ``event_ref``:
        a re-run with an edited event), on the workflow's current version (or ``version``), with
        ``mocks`` scripting some nodes (none by default)."""
        from runner.service import record

        row = self.history.find(run_id)
        if row is None:
            raise LookupError(f"no run {run_id}")
        data_bytes = None
        if data is None and event_ref is None:
            blob = self.history.detail_blob(row["id"])
            detail = record.unpack(blob) if blob else None
            if detail is None or detail.input is None:
                raise ValueError(f"run {run_id} kept no input to run again")
            data_bytes = detail.input
        return self.intake.submit(workflow=row["workflow"], trigger=row["trigger"], data=data, data_bytes=data_bytes,
                                  event_ref=event_ref, source="rerun", parent=row["id"], mocks=mocks, version=version)

    def health(self) -> tuple[int, dict]:
        body: dict[str, Any] = {"role": self.role, "workers": len(self.workers)}
        status = 200
        try:
            body["queue"] = self.backend.depth()
        except Exception as exc:  # noqa: BLE001
            body["queue"] = {"error": f"{type(exc).__name__}: unreachable"}
            status = 503
        if self.feed is not None:
            body["feed"] = self.feed.health()
        body["workflows"] = len([w for w in self.folder.all() if not w.problem])
        body["status"] = "ok" if status == 200 and (self.feed is None or body["feed"]["alive"]) else "degraded"
        return status, body


class HistoryRelay:
    """Moves the history entries workers relayed through the queue backend into the history,
    in batches, one relay at a time across processes (a lock in the backend). An entry leaves
    the backend only after it is written; a relay that dies between the two writes it again
    (rows are keyed by run id)."""

    BATCH = 200

    def __init__(self, service: Service) -> None:
        import os

        self.service = service
        self.owner = f"{os.uname().nodename}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="history-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def drain(self) -> int:
        from runner.service.history import apply_entries

        svc = self.service
        if not svc.backend.history_lock(self.owner, 30.0):
            return 0
        entries = svc.backend.history_batch(self.BATCH)
        if not entries:
            return 0
        written = apply_entries(svc.history, entries)
        svc.backend.history_done(len(entries))
        if written:
            svc.history_written()
        return len(entries)

    def _run(self) -> None:
        idle = 0.01
        while True:
            try:
                moved = self.drain()
            except Exception as exc:  # noqa: BLE001 - the backend may be restarting
                log.warning("history relay: %s: %s", type(exc).__name__, exc)
                moved = 0
            if moved:
                idle = 0.01
                continue
            if self._stop.is_set():
                return
            self._stop.wait(idle)
            idle = min(0.2, idle * 2)
