"""The service's one door to the runner: load a workflow, run it, get its document.

Everything the service needs from ``runner`` goes through this module, so the runner's
internals can change (one run context, keyword-only results) with one file to follow: the
public API used here is the loader (``workflow_from_document``), the module catalog
(``Catalog.from_modules``, ``Enablement.parse``), ``Runner.run`` with ``RunOptions``, the
trigger table (``get_trigger``) and the ``--json`` document (``report.document``).

Runs are always dry runs for the modules (``dry_run=True``): modules report their changes
and never write to MISP themselves; the service writes them back once, idempotently
(:mod:`runner.service.writeback`). The module client records each node's request and answer
(per-node input, params, output, errors), which the history keeps, and notices when the
module server itself could not be reached: such a run is a *transient* failure, retried.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from misp_modules.contract.client import ModuleCallError, ModuleClient
from misp_modules.contract.triggers import TRIGGERS, get_trigger
from runner.catalog import Catalog, Enablement
from runner.engine import Runner, RunOptions
from runner.errors import InputError
from runner.loader import workflow_from_document
from runner.report import document
from runner.triggers import TriggerDataError, trigger_data

# Node errors that mean "try again later", in the wording of the project's outbound HTTP kit
# (misp_modules.lib.http.errors) and of the runner's module client.
DEFAULT_TRANSIENT_ERRORS = (
    r"connection refused", r"did not answer within", r"server error at", r"could not be resolved",
    r"connection reset", r"closed the connection", r"timed out", r"HTTP 50[234]",
)


class WorkflowInvalid(ValueError):
    """A workflow file the runner refuses (the message names the file and the problem)."""


class DataInvalid(ValueError):
    """Data the trigger cannot take (not an object, no ``Event`` for an event trigger)."""


@dataclass(frozen=True)
class Call:
    """One request to the module server during a run and what came back."""

    thread: str
    payload: bytes          # the request body as sent (roaming data, params, node, trigger)
    answer: bytes           # the answer, re-encoded; b"" when there was none
    error: str | None       # the transport failure, when the server could not be asked
    ms: float


@dataclass
class Execution:
    """What one run produced, in the terms the service needs."""

    outcome: str                    # success | blocked | failure | error
    message: str
    document: dict[str, Any]        # the runner's --json document (docs/runner.md)
    changes: list[dict]             # change records, in order, each with its node
    calls: list[Call] = field(default_factory=list)
    transient: str | None = None    # why this run should be retried, or None
    duration: float = 0.0


def trigger_ids() -> list[str]:
    return sorted(TRIGGERS)


def trigger_is_known(trigger_id: str) -> bool:
    return get_trigger(trigger_id) is not None


def load_workflow(content: bytes, source: str, trigger_id: str | None = None) -> Any:
    """The runner's workflow object for a MISP workflow export or blueprint (file bytes)."""
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise WorkflowInvalid(f"invalid JSON in workflow file {source}: {exc}") from None
    try:
        return workflow_from_document(doc, source, trigger_id)
    except InputError as exc:
        raise WorkflowInvalid(str(exc)) from None


def workflow_trigger(workflow: Any) -> str | None:
    """The trigger a loaded workflow belongs to (blueprints: the one it was loaded for)."""
    return workflow.trigger_id


def workflow_kind(workflow: Any) -> str:
    return workflow.kind


def check_data(raw: Any, trigger_id: str) -> Any:
    """``raw`` as the trigger takes it (a bare PyMISP event gets its ``Event`` wrapper), or
    :class:`DataInvalid` saying what is missing."""
    trigger = get_trigger(trigger_id)
    if trigger is None:
        raise DataInvalid(f"unknown trigger `{trigger_id}`")
    try:
        return trigger_data(trigger, raw)
    except TriggerDataError as exc:
        raise DataInvalid(f"the data {exc}") from None


class _RecordingClient(ModuleClient):
    """The runner's module client, keeping every node request and answer of the current run."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._lock = threading.Lock()
        self.calls: list[Call] = []

    def take(self) -> list[Call]:
        with self._lock:
            calls, self.calls = self.calls, []
        return calls

    def query_bytes(self, payload: bytes | list[bytes], timeout: float | None = None) -> tuple[Any, float | None]:
        started = time.perf_counter()
        try:
            answer, module_s = super().query_bytes(payload, timeout)
        except ModuleCallError as exc:
            self._keep(Call(threading.current_thread().name, _joined(payload), b"", str(exc),
                            (time.perf_counter() - started) * 1000))
            raise
        try:
            encoded = orjson.dumps(answer)
        except TypeError:
            encoded = orjson.dumps(answer, option=orjson.OPT_NON_STR_KEYS)
        self._keep(Call(threading.current_thread().name, _joined(payload), encoded, None,
                        (time.perf_counter() - started) * 1000))
        return answer, module_s

    def _keep(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)


def _joined(payload: bytes | list[bytes]) -> bytes:
    """The request body the client sent (in parts for large events: the roaming data is encoded
    once and shared by the nodes' requests)."""
    return payload if isinstance(payload, bytes) else b"".join(payload)


class Catalogs:
    """The module catalog, read once from the module server's ``/modules`` and shared by the
    engines of one process; read again after the server could not be reached."""

    def __init__(self, modules_url: str, *, action_services: bool = True) -> None:
        self.modules_url = modules_url
        self.action_services = action_services
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None

    def get(self) -> Catalog:
        """The catalog; :class:`ModuleCallError` when the server cannot be asked."""
        with self._lock:
            if self._catalog is None:
                client = ModuleClient(self.modules_url)
                try:
                    entries = client.modules()
                finally:
                    client.close()
                self._catalog = Catalog.from_modules(entries, action_services=self.action_services)
            return self._catalog

    def invalidate(self) -> None:
        with self._lock:
            self._catalog = None


@dataclass(frozen=True)
class EngineSettings:
    modules_url: str
    node_timeout: float = 10.0
    enabled_modules: str | None = None
    disabled_modules: tuple[str, ...] = ()
    carry_module_data: bool = False
    max_parallel: int = 4
    host_org_id: Any = None
    transient_errors: tuple[str, ...] = DEFAULT_TRANSIENT_ERRORS


class Engine:
    """Runs workflows for one worker thread: its own keep-alive connections to the module
    server and its own record of calls, so a run's calls are the run's alone."""

    def __init__(self, settings: EngineSettings, catalogs: Catalogs) -> None:
        self.settings = settings
        self.catalogs = catalogs
        self.client = _RecordingClient(settings.modules_url, timeout=settings.node_timeout)
        self.options = RunOptions(
            enablement=Enablement.parse(settings.enabled_modules, settings.disabled_modules),
            timeout=settings.node_timeout, dry_run=True, carry_module_data=settings.carry_module_data,
            host_org_id=settings.host_org_id, max_parallel=settings.max_parallel,
            pause_collector=True)  # the service's runs, as misp-workflow's: JSON with no cycles (contract.wire)
        self._transient = [re.compile(p, re.IGNORECASE) for p in settings.transient_errors]

    def run(self, workflow: Any, raw: Any, trigger_id: str) -> Execution:
        """Run ``workflow`` on ``raw`` for ``trigger_id``. Raises :class:`DataInvalid` for data
        the trigger cannot take; a module server that cannot be reached is a transient run."""
        raw = check_data(raw, trigger_id)
        started = time.perf_counter()
        try:
            catalog = self.catalogs.get()
        except ModuleCallError as exc:
            return Execution("error", f"cannot load the module list: {exc}", {}, [],
                             transient=f"module server: {exc}", duration=time.perf_counter() - started)
        self.client.take()
        try:
            result = Runner(catalog, self.client, self.options).run(workflow, raw, trigger_id)
        except InputError as exc:
            return Execution("error", str(exc), {}, [], self.client.take(), duration=time.perf_counter() - started)
        doc = document(result)
        calls = self.client.take()
        transient = self._transient_reason(doc, calls)
        if transient and any(c.error for c in calls):
            self.catalogs.invalidate()  # the server may come back with other modules
        return Execution(result.outcome, result.message, doc, list(doc.get("changes") or []), calls, transient,
                         time.perf_counter() - started)

    def _transient_reason(self, doc: Mapping, calls: Iterable[Call]) -> str | None:
        for call in calls:
            if call.error:
                return f"module server: {call.error}"
        for node in _all_nodes(doc):
            for error in node.get("errors") or ():
                if any(p.search(str(error)) for p in self._transient):
                    return f"node {node.get('node')} ({node.get('module')}): {error}"
        return None

    def close(self) -> None:
        self.client.close()


def _all_nodes(doc: Mapping) -> Iterable[Mapping]:
    yield from doc.get("nodes") or ()
    for branch in doc.get("branches") or ():
        yield from branch.get("nodes") or ()
