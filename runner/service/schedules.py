"""Schedules: a workflow run every N minutes over the events a PyMISP search returns.

The cron job MISP's automation training says API scripts need, built in: each
``[[schedule]]`` names a workflow, a period and the arguments of PyMISP's
``search(controller="events", ...)`` (``tags``, ``last``, ``published``, ...). Each period
is a numbered slot (``floor(now / period)``); a tick runs only if this process is the first to
claim its slot in the backend, so several service processes on one queue run each tick once.
A tick whose search fails (MISP unreachable) is logged and missed; the next one runs as usual.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from runner.service.config import Schedule

if TYPE_CHECKING:  # pragma: no cover
    from runner.service.app import Service

log = logging.getLogger("misp-workflow.service")


class Scheduler:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.ticks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> None:
        if self.service.config.schedules:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        schedules = self.service.config.schedules
        done: dict[str, int] = {}
        while not self._stop.is_set():
            now = time.time()
            for schedule in schedules:
                slot = int(now // schedule.every)
                if done.get(schedule.name) != slot:
                    done[schedule.name] = slot
                    self._tick(schedule, slot)
            next_due = min((int(now // s.every) + 1) * s.every for s in schedules)
            self._stop.wait(max(0.01, next_due - time.time()))

    def _tick(self, schedule: Schedule, slot: int) -> None:
        svc = self.service
        try:
            if not svc.backend.claim_slot(schedule.name, slot):
                return
            events = svc.misp.search_events(dict(schedule.search))
        except Exception as exc:  # noqa: BLE001 - a missed tick is logged; the next one runs
            log.warning("schedule %s: tick missed: %s", schedule.name, exc)
            return
        queued = 0
        for event in events:
            try:
                svc.intake.submit(workflow=schedule.workflow, trigger=schedule.trigger, data=event, source="schedule")
                queued += 1
            except Exception as exc:  # noqa: BLE001 - one bad event must not cost the others
                log.warning("schedule %s: event not queued: %s", schedule.name, exc)
        self.ticks[schedule.name] = self.ticks.get(schedule.name, 0) + 1
        log.info("schedule %s: %d event(s) found, %d run(s) queued", schedule.name, len(events), queued)
