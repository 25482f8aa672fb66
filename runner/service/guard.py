"""The recursion guard: no run on the feed messages the service's own writes caused, and a
breaker on runs per event whatever the cause.

MISP has no guard of its own beyond the log trigger's (docs/misp-behaviour.md §5.12): a
workflow that writes to the event it runs on fires the event's triggers again, and through
the feed the service would run it again, for ever. The write-back records what its writes
will look like on the feed (:mod:`runner.service.writeback`): the event's timestamp range
``(before, after]`` and a fingerprint per attached tag. A feed task whose message matches is
*skipped* (recorded in the history with the run that caused it). The check runs when the task
is delivered, and tasks of one event are delivered one at a time, in order: the message a
write causes is always checked after the writing run recorded it.

MISP's timestamps have a one-second resolution, so an outside change to the same event within
the second of the service's own write is taken for it; the breaker is the backstop for every
loop the records miss (a chain through another system, a second MISP): more than
``max_runs_per_event`` runs on one event within ``window`` seconds and the next ones are not
run but recorded as ``loop``, with an alert.
"""

from __future__ import annotations

from runner.service.backend import Backend
from runner.service.config import GuardConfig
from runner.service.tasks import Task


class Guard:
    def __init__(self, backend: Backend, config: GuardConfig) -> None:
        self.backend = backend
        self.config = config

    def caused_by_us(self, task: Task) -> str | None:
        """The run whose write caused this feed task's message, or None."""
        feed = task.feed
        if not feed:
            return None
        if feed.get("fingerprint"):
            return self.backend.take_fingerprint(feed["fingerprint"])
        if feed.get("timestamp") is None:
            return None
        return self.backend.own_write(task.key, float(feed["timestamp"]))

    def loop(self, task: Task, counted: int | None = None) -> int | None:
        """The number of runs on the task's event in the window when it is over the limit
        (``counted``: the claim counted this run already)."""
        count = counted if counted is not None else self.backend.count_run(task.key, self.config.window)
        return count if count > self.config.max_runs_per_event else None
