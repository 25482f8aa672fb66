"""What the service keeps durably besides the history: the queue and the run state.

Two implementations behind this one interface, chosen by ``[queue] backend``:

* :mod:`runner.service.backend_sqlite`: an embedded lease-based queue in one SQLite file,
  for one host (no server to run);
* :mod:`runner.service.backend_redis`: Redis Streams consumer groups (redis-py), for worker
  processes on several hosts.

The queue's contract (docs/service.md, "The queue"):

* :meth:`Backend.put` is durable when it returns; with a ``dedupe`` key, a second put of the
  same key within its time to live is refused (returns False);
* tasks with one ``key`` are delivered one at a time, in the order they were put; tasks with
  different keys in parallel;
* a claimed task is leased: unless :meth:`ack`, :meth:`retry`, :meth:`dead` or
  :meth:`release` ends the lease, or :meth:`heartbeat` extends it, it is delivered again
  when the lease runs out (a worker killed mid-run);
* :meth:`retry` delivers it again after ``delay``, first in its key's line; :meth:`dead`
  takes it off the queue into the dead letters, with its error.

The run state serves the worker: checkpoints (a finished run's changes, kept until the ack so
a redelivered run resumes its write-back instead of running again), the changes already
written (the write-back's idempotency keys), the recursion guard's records of the service's
own writes and the per-event run counter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from runner.service.tasks import Task


@dataclass
class Claimed:
    """A leased task. ``token`` is the backend's handle on the lease."""

    task: Task
    token: Any
    consumer: str
    lease: float
    runs_in_window: int | None = None  # claims with a window: runs on the task's key in it, this one included


@dataclass
class DeadLetter:
    id: str
    error: str
    dead_at: float
    task: Task | None = None                 # None for a rejected intake message
    raw: bytes | None = field(default=None, repr=False)  # a rejected message's bytes (bounded)
    source: str | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "error": self.error, "dead_at": self.dead_at, "source": self.source}
        if self.task is not None:
            out["task"] = self.task.summary()
        if self.raw is not None:
            out["raw_bytes"] = len(self.raw)
        return out


class Backend(ABC):
    """The queue and the run state (see the module docstring)."""

    # -- queue -------------------------------------------------------------------------
    @abstractmethod
    def put(self, task: Task, *, dedupe: str | None = None, dedupe_ttl: float = 86400.0) -> bool: ...

    @abstractmethod
    def claim(self, consumer: str, timeout: float, window: float | None = None) -> Claimed | None:
        """The next deliverable task, waiting up to ``timeout`` seconds for one. With ``window``
        the delivery is also counted for the breaker (:meth:`count_run`, in the same step)."""

    @abstractmethod
    def heartbeat(self, claimed: Claimed) -> bool:
        """Extend the lease; False when the lease was lost (another worker has the task)."""

    @abstractmethod
    def ack(self, claimed: Claimed, history: bytes | None = None) -> None:
        """Done: off the queue, its checkpoint and write records dropped. ``history``: the run's
        history entry, kept in the same step for the history relay (backends that relay)."""

    @abstractmethod
    def retry(self, claimed: Claimed, error: str, delay: float) -> None: ...

    @abstractmethod
    def dead(self, claimed: Claimed, error: str, history: bytes | None = None) -> None: ...

    @abstractmethod
    def release(self, claimed: Claimed) -> None:
        """Give the task back at once (shutdown), without counting the delivery."""

    @abstractmethod
    def cancel(self, task_id: str) -> bool:
        """Drop a task that is waiting (not running); False when there is none."""

    @abstractmethod
    def get(self, task_id: str) -> tuple[Task, str] | None:
        """A task on the queue and its state (``queued``, ``delayed``, ``running``)."""

    @abstractmethod
    def pending(self, limit: int = 100) -> list[tuple[Task, str]]: ...

    @abstractmethod
    def depth(self) -> dict[str, int]:
        """Tasks ``queued`` (deliverable), ``delayed`` (retry back-off), ``running``, ``dead``."""

    @abstractmethod
    def reject(self, raw: bytes, error: str, source: str) -> str:
        """Keep a message that could not become a task (bad feed message) as a dead letter."""

    @abstractmethod
    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    @abstractmethod
    def requeue_dead(self, dead_id: str) -> Task | None:
        """Put a dead task back on the queue (attempts reset); None when there is no such task."""

    # -- run state -----------------------------------------------------------------------
    @abstractmethod
    def save_checkpoint(self, task_id: str, blob: bytes) -> None: ...

    @abstractmethod
    def load_checkpoint(self, task_id: str) -> bytes | None: ...

    @abstractmethod
    def mark_written(self, task_id: str, index: int, note: str) -> None: ...

    @abstractmethod
    def written(self, task_id: str) -> dict[int, str]: ...

    @abstractmethod
    def add_own_write(self, event: str, low: float, high: float, run_id: str, ttl: float) -> None:
        """The service changed ``event``: its timestamp went from ``low`` to ``high``."""

    @abstractmethod
    def own_write(self, event: str, timestamp: float) -> str | None:
        """The run whose write gave ``event`` this timestamp (``low < timestamp <= high``)."""

    @abstractmethod
    def add_fingerprint(self, fingerprint: str, run_id: str, ttl: float) -> None:
        """One feed message the service's own write will cause (e.g. a tag attached)."""

    @abstractmethod
    def take_fingerprint(self, fingerprint: str) -> str | None:
        """Consume one such expected message; the run that caused it, or None."""

    @abstractmethod
    def count_run(self, event: str, window: float, now: float | None = None) -> int:
        """Record a run on ``event`` now; the number of runs on it in the last ``window`` s."""

    @abstractmethod
    def claim_slot(self, name: str, slot: int) -> bool:
        """True for the first caller only: one schedule tick runs once across processes."""

    # -- the history relay (backends whose workers cannot reach the history file) -------------
    relays_history = False

    def history_batch(self, limit: int) -> list[bytes]:
        """The oldest relayed history entries, left in place until :meth:`history_done`."""
        raise NotImplementedError

    def history_done(self, count: int) -> None:
        raise NotImplementedError

    def relay_entry(self, entry: bytes) -> None:
        """Relay an entry that comes with no ack (a workflow version)."""
        raise NotImplementedError

    def history_lock(self, owner: str, ttl: float) -> bool:
        """One relay at a time: True while ``owner`` holds the lock (taken or extended)."""
        raise NotImplementedError

    # -- life ------------------------------------------------------------------------------
    def maintain(self) -> None:  # noqa: B027 - optional: backends whose records expire by themselves skip it
        """Drop expired records (called now and then by workers)."""

    def wake(self) -> None:  # noqa: B027 - optional: a blocking claim that times out by itself
        """Wake workers of this process waiting in :meth:`claim` (shutdown)."""

    @abstractmethod
    def close(self) -> None: ...

    def describe(self) -> str:
        return type(self).__name__
