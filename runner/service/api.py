"""The HTTP API (Tornado): queue, list, show, cancel and re-run runs; health and metrics.

Every ``/api/`` route needs ``Authorization: Bearer <token>`` (one of ``[api] tokens``);
``/healthz`` and ``/metrics`` answer without one, for probes and Prometheus. It binds
``[api] listen`` (default 127.0.0.1). Every answer is JSON (metrics excepted), errors are
``{"error": "..."}`` with a 4xx status, and no answer or log line shows a token or key.
Routes and fields: docs/service.md, "HTTP API".
"""

from __future__ import annotations

import datetime
import hmac
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import tornado.web
from tornado.ioloop import IOLoop

from runner.service import record
from runner.service.intake import IntakeError

if TYPE_CHECKING:  # pragma: no cover
    from runner.service.app import Service

log = logging.getLogger("misp-workflow.service")
MAX_PAGE = 500


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Base(tornado.web.RequestHandler):
    service: Service
    authenticated = True

    def initialize(self, service: Service) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        if self.authenticated and not self._token_ok():
            self.set_header("WWW-Authenticate", 'Bearer realm="misp-workflow"')
            self.answer({"error": "authentication required: send Authorization: Bearer <token> ([api] tokens)"}, 401)
            self.finish()

    def _token_ok(self) -> bool:
        header = self.request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        given_b = given.strip().encode()
        return any(hmac.compare_digest(given_b, t.encode()) for t in self.service.config.api.tokens)

    def answer(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.write(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.answer({"error": self._reason or "error"}, status_code)

    def body_json(self) -> dict[str, Any]:
        try:
            body = orjson.loads(self.request.body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return body

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await IOLoop.current().run_in_executor(self.service.api_pool, fn, *args)

    async def guarded(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            status, body = await self.blocking(fn, *args)
        except ApiError as exc:
            status, body = exc.status, {"error": str(exc)}
        except (IntakeError, ValueError) as exc:
            status, body = 400, {"error": str(exc)}
        except LookupError as exc:  # UnknownWorkflow, an unknown run
            status, body = 404, {"error": str(exc).strip("'\"")}
        self.answer(body, status)


class Health(Base):
    authenticated = False

    async def get(self) -> None:
        status, body = await self.blocking(self.service.health)
        self.answer(body, status)


class MetricsHandler(Base):
    authenticated = False

    async def get(self) -> None:
        data = await self.blocking(self.service.metrics.render)
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.write(data)


class Workflows(Base):
    async def get(self) -> None:
        await self.guarded(lambda: (200, {"workflows": [w.describe() for w in self.service.folder.all()]}))


class Runs(Base):
    async def post(self) -> None:
        await self.guarded(self._queue)

    def _queue(self) -> tuple[int, dict]:
        body = self.body_json()
        unknown = set(body) - {"workflow", "trigger", "data", "event_id", "source", "mocks", "version"}
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))} (known: workflow, trigger, data, "
                                "event_id, source, mocks, version)")
        source = body.get("source", "api")
        if source not in ("api", "action"):
            raise ApiError(400, "`source` is `api` (default) or `action` (MISP's queue_workflow_run node)")
        workflow = body.get("workflow")
        if not isinstance(workflow, str) or not workflow:
            raise ApiError(400, "`workflow` (the workflow's name) is required")
        event_id = body.get("event_id")
        if event_id is not None and not isinstance(event_id, (str, int)):
            raise ApiError(400, "`event_id` must be an event id or uuid")
        task = self.service.intake.submit(workflow=workflow, trigger=body.get("trigger"), data=body.get("data"),
                                          event_ref=None if event_id is None else str(event_id), source=source,
                                          **_run_options(body))
        return 202, {"id": task.id, "status": "queued", "workflow": task.workflow, "trigger": task.trigger,
                     "url": f"/api/runs/{task.id}"}

    async def get(self) -> None:
        await self.guarded(self._list)

    def _list(self) -> tuple[int, dict]:
        args = {k: self.get_argument(k) for k in self.request.arguments}
        if args.get("state") == "queued":
            tasks = self.service.backend.pending(_int(args.get("limit"), 100, MAX_PAGE))
            return 200, {"runs": [{**t.summary(), "state": s} for t, s in tasks]}
        filters = {k: v for k, v in args.items()
                   if k in ("workflow", "trigger", "outcome", "event_id", "event_uuid", "source", "version", "parent")}
        unknown = set(args) - set(filters) - {"since", "until", "before", "limit", "state"}
        if unknown:
            raise ApiError(400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
        before = None
        if args.get("before"):
            try:
                at, seq = args["before"].split(",", 1)
                before = (float(at), int(seq))
            except ValueError:
                raise ApiError(400, "`before` is the `next` cursor a page returned") from None
        rows, cursor = self.service.history.list(filters, since_time=_time(args.get("since")),
                                                 until_time=_time(args.get("until")), before=before,
                                                 limit=_int(args.get("limit"), 50, MAX_PAGE))
        return 200, {"runs": rows, "next": f"{cursor[0]!r},{cursor[1]}" if cursor else None}


class Changes(Base):
    """``GET /api/runs/changes?since=<seq>&wait=<s>``: runs written after a cursor (long poll)."""

    async def get(self) -> None:
        await self.guarded(self._changes)

    def _changes(self) -> tuple[int, dict]:
        since = _int(self.get_argument("since", "0"), 0, None)
        wait = min(60.0, float(self.get_argument("wait", "0") or 0))
        rows = self.service.wait_for_runs(since, wait)
        return 200, {"runs": rows, "seq": rows[-1]["seq"] if rows else since}


class Run(Base):
    async def get(self, run_id: str) -> None:
        await self.guarded(self._show, run_id)

    def _show(self, run_id: str) -> tuple[int, dict]:
        svc = self.service
        row = svc.history.get(run_id)
        if row is None:
            queued = svc.backend.get(run_id)
            if queued is None:
                raise ApiError(404, f"no run {run_id}")
            task, state = queued
            return 200, {**task.summary(), "state": state}
        blob = svc.history.detail_blob(run_id)
        if blob is not None:
            detail = record.unpack(blob)
            with_data = self.get_argument("data", "1") != "0"
            doc = detail.document or {}
            row["outcome_text"] = doc.get("outcome_text")
            row["errors"] = doc.get("errors", [])
            row["nodes_detail"] = record.nodes(detail, with_data=with_data)
            row["changes_detail"] = doc.get("changes", [])
            row["written_detail"] = detail.written
            row["notes"] = detail.notes
            row["mocks"] = detail.meta.get("mocks")
            row["picked_version"] = detail.meta.get("version")
            if with_data:
                row["input"] = orjson.loads(detail.input) if detail.input else None
                row["final_data"] = doc.get("data")
                row["final_data_is_input"] = bool(doc.get("data_is_input"))
        return 200, row


class Cancel(Base):
    async def post(self, run_id: str) -> None:
        await self.guarded(self._cancel, run_id)

    def _cancel(self, run_id: str) -> tuple[int, dict]:
        svc = self.service
        if svc.backend.cancel(run_id):
            return 200, {"id": run_id, "cancelled": True}
        if svc.backend.get(run_id) is not None:
            raise ApiError(409, f"run {run_id} is running; it cannot be cancelled now")
        if svc.history.get(run_id) is not None:
            raise ApiError(409, f"run {run_id} has finished")
        raise ApiError(404, f"no run {run_id}")


class Rerun(Base):
    async def post(self, run_id: str) -> None:
        await self.guarded(self._rerun, run_id)

    def _rerun(self, run_id: str) -> tuple[int, dict]:
        body = self.body_json()
        unknown = set(body) - {"data", "event_id", "mocks", "version"}
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))} (known: data, event_id, mocks, "
                                "version)")
        if "data" in body and "event_id" in body:
            raise ApiError(400, "give `data` (an edited input) or `event_id` (an event fetched from MISP), not both")
        event_id = body.get("event_id")
        if event_id is not None and not isinstance(event_id, (str, int)):
            raise ApiError(400, "`event_id` must be an event id or uuid")
        task = self.service.rerun(run_id, data=body.get("data"), event_ref=None if event_id is None else str(event_id),
                                  **_run_options(body))
        return 202, {"id": task.id, "status": "queued", "parent": run_id, "url": f"/api/runs/{task.id}"}


class Versions(Base):
    """``GET /api/workflows/<name>/versions``: the versions a run can be asked for."""

    async def get(self, name: str) -> None:
        await self.guarded(self._versions, name)

    def _versions(self, name: str) -> tuple[int, dict]:
        wf = self.service.folder.get(name)
        kept = self.service.history.versions(wf.name)
        current = [{"version": wf.version, "first_seen": None}]
        versions = current + [v for v in kept if v["version"] != wf.version]
        for v in versions:
            v["current"] = v["version"] == wf.version
        return 200, {"workflow": wf.name, "current": wf.version, "versions": versions}


class DeadLetters(Base):
    async def get(self) -> None:
        await self.guarded(lambda: (200, {"dead_letters": [d.summary() for d in
                                                           self.service.backend.dead_letters(MAX_PAGE)]}))


class Requeue(Base):
    async def post(self, dead_id: str) -> None:
        await self.guarded(self._requeue, dead_id)

    def _requeue(self, dead_id: str) -> tuple[int, dict]:
        task = self.service.backend.requeue_dead(dead_id)
        if task is None:
            raise ApiError(404, f"no dead task {dead_id} (rejected feed messages cannot be requeued)")
        return 202, {"id": task.id, "status": "queued"}


def _run_options(body: dict[str, Any]) -> dict[str, Any]:
    """The ``mocks`` and ``version`` of a request that queues a run, checked for shape."""
    mocks, version = body.get("mocks"), body.get("version")
    if mocks is not None and not isinstance(mocks, dict):
        raise ApiError(400, "`mocks` maps node ids to results: {\"<node id>\": true | false | "
                            "{\"success\": bool, \"errors\": [...]} | {\"exception\": \"...\"}}")
    if version is not None and not isinstance(version, str):
        raise ApiError(400, "`version` is a workflow version (GET /api/workflows/<name>/versions)")
    return {"mocks": mocks, "version": version}


def _int(value: str | None, default: int, maximum: int | None) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise ApiError(400, f"expected a positive number, got {value!r}")
    return min(number, maximum) if maximum is not None else number


def _time(value: str | None) -> float | None:
    try:
        return unix_time(value)
    except ValueError:
        raise ApiError(400, f"expected a unix time or an ISO 8601 date, got {value!r}") from None


def unix_time(value: str | None) -> float | None:
    """A time filter's value: a unix time, or an ISO 8601 date (UTC when it names no zone, the
    same for the API and the pages); None when empty. ValueError for anything else."""
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def make_app(service: Service) -> tornado.web.Application:
    init = {"service": service}
    ui: list = []
    if service.config.ui.enabled:  # the web debugger's pages (runner/service/ui, docs/ui.md)
        from runner.service.ui import routes

        ui = routes(service, events_dir=service.config.ui.events)
    return tornado.web.Application([
        *ui,
        (r"/healthz", Health, init),
        (r"/metrics", MetricsHandler, init),
        (r"/api/workflows", Workflows, init),
        (r"/api/workflows/([^/]+)/versions", Versions, init),
        (r"/api/runs", Runs, init),
        (r"/api/runs/changes", Changes, init),
        (r"/api/runs/([\w-]+)", Run, init),
        (r"/api/runs/([\w-]+)/cancel", Cancel, init),
        (r"/api/runs/([\w-]+)/rerun", Rerun, init),
        (r"/api/dead-letters", DeadLetters, init),
        (r"/api/dead-letters/([\w-]+)/requeue", Requeue, init),
    ], default_handler_class=NotFound, default_handler_args=init, compress_response=True)


class NotFound(Base):
    authenticated = False

    def prepare(self) -> None:
        self.answer({"error": f"no such route: {self.request.method} {self.request.path}"}, 404)
        self.finish()


def make_probe_app(service: Service) -> tornado.web.Application:
    """A worker process's listener: health and metrics only."""
    init = {"service": service}
    return tornado.web.Application([(r"/healthz", Health, init), (r"/metrics", MetricsHandler, init)],
                                   default_handler_class=NotFound, default_handler_args=init)
