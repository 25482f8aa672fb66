"""Turning what comes in (a feed message, an API call, an action node, a schedule tick) into
durable tasks: one per workflow that should run, each put on the queue before the caller is
answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from runner.service import execution, feedmap
from runner.service.tasks import Task
from runner.service.workflows import WorkflowFile, pinned

if TYPE_CHECKING:  # pragma: no cover
    from runner.service.app import Service

log = logging.getLogger("misp-workflow.service")


class IntakeError(ValueError):
    """A request that cannot become a task (the message says why; nothing was queued)."""


def key_for(data: Any, event_ref: str | None) -> str:
    """Runs on one event run one at a time: the event's id (its uuid when it has no id)."""
    event = data.get("Event") if isinstance(data, Mapping) and isinstance(data.get("Event"), Mapping) else None
    if event is not None:
        if event.get("id") not in (None, ""):
            return f"event:{event['id']}"
        if event.get("uuid"):
            return f"event-uuid:{event['uuid']}"
    if event_ref:
        return f"event:{event_ref}" if str(event_ref).isdigit() else f"event-uuid:{event_ref}"
    return f"data:{time.time_ns()}"


class Intake:
    def __init__(self, service: Service) -> None:
        self.service = service

    def feed_message(self, topic: str, payload: bytes) -> tuple[list[Task], int]:
        """Queue the runs one feed message asks for: ``(tasks queued, duplicates refused)``
        (:class:`feedmap.FeedMessageInvalid` for a bad one, which the caller keeps as a dead
        letter)."""
        svc = self.service
        item = feedmap.parse(topic, payload, max_bytes=svc.config.feed.max_message_bytes)
        identity = item.identity()
        fingerprint = feedmap.fingerprint_of(item)
        if fingerprint:
            identity["fingerprint"] = fingerprint
        queued, duplicates = [], 0
        for trigger in item.triggers:
            for wf in svc.folder.bound_to(trigger):
                task = Task(workflow=wf.name, source="feed", key=item.key, trigger=trigger, data=item.data,
                            feed=identity)
                if svc.backend.put(task, dedupe=f"{item.dedupe}|{trigger}|{wf.name}",
                                   dedupe_ttl=svc.config.queue.dedupe_ttl):
                    queued.append(task)
                else:
                    duplicates += 1
        if item.timestamp is not None and not duplicates:
            svc.metrics.feed_lag.observe(max(0.0, time.time() - item.timestamp))
        return queued, duplicates

    def submit(self, *, workflow: str, trigger: str | None = None, data: Any = None, data_bytes: bytes | None = None,
               event_ref: str | None = None, source: str = "api", parent: str | None = None,
               mocks: Mapping[str, Any] | None = None, version: str | None = None) -> Task:
        """Queue one run of ``workflow`` (by name) on ``data`` (or the MISP event ``event_ref``),
        on the folder's file or a kept ``version`` of it, with some nodes' results scripted
        (``mocks``)."""
        svc = self.service
        wf = svc.folder.get(workflow)  # UnknownWorkflow names what exists
        workflow_file = None
        if version is not None:
            wf = self._version(wf, version)
            workflow_file = wf.content.decode("utf-8")
        if trigger is not None and not execution.trigger_is_known(trigger):
            raise IntakeError(f"unknown trigger `{trigger}` (known: {', '.join(execution.trigger_ids())})")
        run_trigger = wf.trigger or trigger or svc.config.adhoc_trigger
        if wf.trigger and trigger and trigger != wf.trigger:
            raise IntakeError(f"workflow `{wf.name}` belongs to trigger `{wf.trigger}`, not `{trigger}`")
        if wf.problem and not wf.problem.startswith("trigger `"):
            raise IntakeError(f"workflow `{wf.name}` cannot run: {wf.problem}")
        if (data is None and data_bytes is None) == (event_ref is None):
            raise IntakeError("give either `data` (the trigger's data) or `event_id` (an event fetched from MISP)")
        if event_ref is not None and not svc.misp.configured:
            raise IntakeError("`event_id` needs a MISP connection ([misp] url and key)")
        if data_bytes is not None and data is None:
            try:
                data = orjson.loads(data_bytes)
            except orjson.JSONDecodeError as exc:
                raise IntakeError(f"`data` is not JSON: {exc}") from None
        if data is not None:
            try:
                checked = execution.check_data(data, run_trigger)
            except execution.DataInvalid as exc:
                raise IntakeError(str(exc)) from None
            if checked is not data or data_bytes is None:  # wrapped, or never encoded: encode it
                data_bytes = orjson.dumps(checked, option=orjson.OPT_NON_STR_KEYS)
            data = checked
        if mocks is not None:
            mocks = self._mocks(wf, run_trigger, mocks)
        task = Task(workflow=wf.name, source=source, key=key_for(data, event_ref), trigger=run_trigger,
                    data=data_bytes, event_ref=str(event_ref) if event_ref is not None else None, parent=parent,
                    mocks=mocks or None, version=version, workflow_file=workflow_file)
        svc.backend.put(task)
        return task

    def _version(self, current: WorkflowFile, version: str) -> WorkflowFile:
        """Workflow ``current.name`` as it was at ``version`` (the folder's file, or one the
        history kept); :class:`IntakeError` naming the versions known otherwise."""
        if not isinstance(version, str) or not version:
            raise IntakeError("`version` must be a workflow version (16 hex digits, GET /api/workflows/<name>/versions)")
        if version == current.version:
            return current
        history = self.service.history
        kept = history.version_content(version) if history is not None else None
        if kept is None or kept[0] != current.name:
            known = [v["version"] for v in history.versions(current.name)] if history is not None else []
            known = [current.version] + [v for v in known if v != current.version]
            raise IntakeError(f"workflow `{current.name}` has no version `{version}` (known: {', '.join(known)})")
        return pinned(current.name, kept[1])

    def _mocks(self, wf: WorkflowFile, trigger: str, mocks: Any) -> dict[str, Any]:
        """``mocks`` checked against the workflow's nodes (:class:`IntakeError` when the runner
        would refuse them), as plain JSON."""
        try:
            runnable, _trigger = self.service.folder.runnable(wf, trigger)
            execution.parse_mocks(mocks, runnable)
        except (execution.MocksInvalid, execution.WorkflowInvalid) as exc:
            raise IntakeError(str(exc)) from None
        return {str(k): v for k, v in mocks.items()}
