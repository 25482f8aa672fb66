"""Per-module query statistics, in upstream 3.1's ``GET /statistics`` shape, for every worker.

Upstream counts, per module and in total, the queries, their outcome (success, module error:
an answer with ``error``/``errors``, exception, timeout), the bytes in and out, and the response
times (count, total, min, max, last, cumulative buckets). Upstream has one process; here
``--workers N`` processes answer ``/statistics`` in turn, so the counters live in one shared
anonymous memory map created before the workers fork: each worker writes only its own slot (one
writer per slot: the worker's event loop), and whichever worker answers reads and adds up every
slot. Nothing is ever read from a query's payload, and a query costs about fifteen float
writes. A worker restarted after a crash takes over its slot, so the counters never go back.

(prometheus-client's multiprocess mode solves the same problem with one file per process in a
directory that must be set before import and cleaned up by the operator, and does not keep
min/max/last; ``/metrics`` uses prometheus-client for its text format, see :mod:`.metrics`.)
"""

from __future__ import annotations

import bisect
import datetime
import mmap
import time
from collections.abc import Mapping
from typing import Any

# Upstream's cumulative upper bounds in seconds; the final "+Inf" bucket counts every response.
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300)
OUTCOMES = ("successes", "module_errors", "exceptions", "timeouts")

# One row per module: these counters, then one (non-cumulative) count per bucket and one beyond.
(QUERIES, COMPLETED, SUCCESSES, MODULE_ERRORS, EXCEPTIONS, TIMEOUTS, REQUEST_BYTES, RESPONSE_BYTES,
 DURATION_TOTAL, DURATION_MIN, DURATION_MAX, DURATION_LAST, LAST_QUERY_AT, LAST_COMPLETED_AT) = range(14)
BUCKETS_AT = 14
WIDTH = BUCKETS_AT + len(LATENCY_BUCKETS) + 1
OUTCOME_FIELD = {"successes": SUCCESSES, "module_errors": MODULE_ERRORS, "exceptions": EXCEPTIONS,
                 "timeouts": TIMEOUTS}


class Statistics:
    """The shared counters of every module (``types``: name -> type dir) for ``slots`` workers."""

    def __init__(self, types: Mapping[str, str], slots: int = 1) -> None:
        self.types = dict(sorted(types.items()))
        self.rows = {name: index for index, name in enumerate(self.types)}
        self.slots = slots
        self.started_at = time.time()
        self._started = time.perf_counter()
        size = max(1, slots * len(self.rows) * WIDTH) * 8
        self._map = mmap.mmap(-1, size)  # anonymous and MAP_SHARED: forked workers see one table
        self._cells = memoryview(self._map).cast("d")
        self._base = 0

    def use_slot(self, slot: int) -> None:
        """This process writes slot ``slot`` from now on (a worker, right after the fork)."""
        self._base = slot * len(self.rows) * WIDTH

    # -- writing (on the worker's event loop) --------------------------------------------------

    def start(self, module: str, request_bytes: int) -> int | None:
        """A query for ``module`` began; the returned token goes to :meth:`finish`. None for a
        module that is not loaded (upstream does not count those)."""
        row = self.rows.get(module)
        if row is None:
            return None
        at = self._base + row * WIDTH
        cells = self._cells
        cells[at + QUERIES] += 1
        cells[at + REQUEST_BYTES] += request_bytes
        cells[at + LAST_QUERY_AT] = time.time()
        return at

    def finish(self, token: int, started: float, outcome: str, response_bytes: int) -> None:
        duration = time.perf_counter() - started
        cells, at = self._cells, token
        completed = cells[at + COMPLETED]
        cells[at + COMPLETED] = completed + 1
        cells[at + OUTCOME_FIELD[outcome]] += 1
        cells[at + RESPONSE_BYTES] += response_bytes
        cells[at + DURATION_TOTAL] += duration
        if not completed or duration < cells[at + DURATION_MIN]:
            cells[at + DURATION_MIN] = duration
        if duration > cells[at + DURATION_MAX]:
            cells[at + DURATION_MAX] = duration
        cells[at + DURATION_LAST] = duration
        cells[at + LAST_COMPLETED_AT] = time.time()
        cells[at + BUCKETS_AT + bisect.bisect_left(LATENCY_BUCKETS, duration)] += 1

    # -- reading (any worker) -----------------------------------------------------------------

    def module_counters(self) -> dict[str, list[float]]:
        """Every module's row, all slots added up (min of mins, max of maxes, the latest last)."""
        cells, per_slot = self._cells, len(self.rows) * WIDTH
        merged: dict[str, list[float]] = {}
        for name, row in self.rows.items():
            total = [0.0] * WIDTH
            latest = -1.0
            for slot in range(self.slots):
                at = slot * per_slot + row * WIDTH
                values = cells[at:at + WIDTH].tolist()
                _merge(total, values)
                if values[COMPLETED] and values[LAST_COMPLETED_AT] > latest:
                    latest = values[LAST_COMPLETED_AT]
                    total[DURATION_LAST] = values[DURATION_LAST]
            merged[name] = total
        return merged

    def snapshot(self) -> dict[str, Any]:
        """``GET /statistics``: upstream 3.1's document, key for key."""
        rows = self.module_counters()
        totals = [0.0] * WIDTH
        latest = -1.0
        for values in rows.values():
            _merge(totals, values)
            if values[COMPLETED] and values[LAST_COMPLETED_AT] > latest:
                latest = values[LAST_COMPLETED_AT]
                totals[DURATION_LAST] = values[DURATION_LAST]
        return {
            "started_at": _iso(self.started_at),
            "uptime_seconds": time.perf_counter() - self._started,
            "totals": counters_document(totals),
            "modules": {name: {"type": self.types[name], **counters_document(rows[name])} for name in self.types},
        }


def _merge(total: list[float], values: list[float]) -> None:
    """Add one row into another (both in the table's layout)."""
    had = total[COMPLETED]
    for index in range(WIDTH):
        if index in (DURATION_MIN, DURATION_MAX, DURATION_LAST, LAST_QUERY_AT, LAST_COMPLETED_AT):
            continue
        total[index] += values[index]
    if values[COMPLETED]:
        total[DURATION_MIN] = values[DURATION_MIN] if not had else min(total[DURATION_MIN], values[DURATION_MIN])
        total[DURATION_MAX] = max(total[DURATION_MAX], values[DURATION_MAX])
    total[LAST_QUERY_AT] = max(total[LAST_QUERY_AT], values[LAST_QUERY_AT])
    total[LAST_COMPLETED_AT] = max(total[LAST_COMPLETED_AT], values[LAST_COMPLETED_AT])


def counters_document(values: list[float]) -> dict[str, Any]:
    """One module's (or the totals') counters as upstream's ``_Counters.snapshot()``."""
    queries, completed = int(values[QUERIES]), int(values[COMPLETED])
    successes = int(values[SUCCESSES])
    errors = int(values[MODULE_ERRORS] + values[EXCEPTIONS] + values[TIMEOUTS])
    total = values[DURATION_TOTAL]
    cumulative, running = {}, 0
    for index, bound in enumerate(LATENCY_BUCKETS):
        running += int(values[BUCKETS_AT + index])
        cumulative[str(bound)] = running
    cumulative["+Inf"] = completed
    return {
        "queries": queries,
        "completed": completed,
        "in_flight": max(0, queries - completed),
        "successes": successes,
        "errors": errors,
        "module_errors": int(values[MODULE_ERRORS]),
        "exceptions": int(values[EXCEPTIONS]),
        "timeouts": int(values[TIMEOUTS]),
        "success_rate": successes / completed if completed else None,
        "error_rate": errors / completed if completed else None,
        "request_bytes": int(values[REQUEST_BYTES]),
        "response_bytes": int(values[RESPONSE_BYTES]),
        "last_query_at": _iso(values[LAST_QUERY_AT]) if values[LAST_QUERY_AT] else None,
        "last_completed_at": _iso(values[LAST_COMPLETED_AT]) if values[LAST_COMPLETED_AT] else None,
        "response_time_seconds": {
            "count": completed,
            "total": total,
            "min": values[DURATION_MIN] if completed else None,
            "max": values[DURATION_MAX] if completed else None,
            "average": total / completed if completed else None,
            "last": values[DURATION_LAST] if completed else None,
            "buckets": cumulative,
        },
    }


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat()


__all__ = ["Statistics", "LATENCY_BUCKETS", "OUTCOMES", "counters_document"]
