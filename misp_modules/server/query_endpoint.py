"""``POST /query`` on Tornado's HTTP/1.1 connection, without the ``RequestHandler`` machinery.

``/query`` is the one endpoint under load. Through ``tornado.web`` each query paid for routing,
an ``HTTPServerRequest``, a ``RequestHandler`` (default headers, a ``Date`` formatted per
request, ``flush``/``finish`` hooks) and a coroutine task: about a third of the server's CPU
time per query, for nothing ``/query`` uses. Here ``POST /query`` is answered by a
``tornado.httputil.HTTPMessageDelegate``, Tornado's own lower-level interface: the same
HTTP/1.1 parser, keep-alive, chunked bodies, ``Expect: 100-continue`` and body-size limits.
Every other request goes to the ``tornado.web.Application`` unchanged.

The answers are the ones the ``RequestHandler`` gave (pinned by the tests): status, JSON
body, ``Content-Type: application/json``, ``Server`` and ``Date`` headers, upstream's access
log line plus the module and duration; plus ``Server-Timing: module;dur=<ms>`` when the query
reached a module.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from typing import Any

import orjson
import tornado
import tornado.web
from tornado import httputil

from misp_modules.contract.wire import collector_paused
from misp_modules.lib.redact import request_secrets
from misp_modules.semantics.php import a_json_type
from misp_modules.server.connections import BodyBudget
from misp_modules.server.dispatch import Dispatcher, Outcome, error_body
from misp_modules.server.logs import AccessLog, field, request_preview, shown
from misp_modules.server.statistics import Statistics

log = logging.getLogger("misp-modules")

_SERVER = "TornadoServer/%s" % tornado.version
_REASONS = {200: "OK", 400: "Bad Request", 413: "Payload Too Large", 503: "Service Unavailable"}


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class QueryEndpoint:
    """What every ``/query`` exchange shares: the dispatcher, the body limit, the access log,
    and the count of queries in flight (what a graceful shutdown waits for)."""

    def __init__(self, dispatcher: Dispatcher, max_body_size: int, access: AccessLog,
                 stats: Statistics | None = None, bodies: BodyBudget | None = None) -> None:
        self.dispatcher = dispatcher
        self.bodies = bodies or BodyBudget(1 << 62)
        self.stats = stats
        self.max_body_size = max_body_size
        self.access = access
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self._date_second = -1
        self._date = ""
        self.too_large_body = orjson.dumps({"error": f"Request body too large (limit {max_body_size} bytes, "
                                                     "server setting max_body_size)"})
        self.no_room_body = orjson.dumps({"error": "Server busy: request bodies being processed already fill "
                                                   f"the memory allowed for them ({self.bodies.limit} bytes, server "
                                                   "setting max_bodies_in_memory); retry later"})

    def date(self) -> str:
        """The ``Date`` header, formatted once per second."""
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date = httputil.format_timestamp(now)
            self._date_second = second
        return self._date

    def started(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()


class Router(httputil.HTTPServerConnectionDelegate):
    """The ``HTTPServer``'s delegate: ``POST /query`` to :class:`Exchange`, the rest to the app."""

    def __init__(self, app: tornado.web.Application, endpoint: QueryEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint
        self.busy: set[object] = set()  # connections with a request in progress (the server's set)

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return Exchange(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)


class Exchange(httputil.HTTPMessageDelegate):
    """One request on a connection: answered here when it is ``POST /query``, else forwarded
    to the application's own delegate (routing, ``RequestHandler``)."""

    def __init__(self, router: Router, server_conn: object, request_conn: httputil.HTTPConnection) -> None:
        self.router = router
        self.server_conn = server_conn
        self.conn = request_conn
        self.forward: httputil.HTTPMessageDelegate | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.module: str | None = None
        self.answered = False
        self.counted: int | None = None  # the /statistics row of this query, once it is counted
        self.counting_since = 0.0
        self.held = 0  # bytes of the body counted in the endpoint's BodyBudget
        self.no_room = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        uri = start_line.path  # type: ignore[union-attr]
        self.router.busy.add(self.server_conn)
        if start_line.method != "POST" or not (uri == "/query" or uri.startswith("/query?")):  # type: ignore[union-attr]
            self.forward = self.router.app.start_request(self.server_conn, self.conn)
            return self.forward.headers_received(start_line, headers)
        self.start = time.perf_counter()
        self.uri = uri
        limit = self.router.endpoint.max_body_size
        length = headers.get("Content-Length")
        if length is None:
            # Chunked: counted in data_received; past the limit the rest is read and dropped,
            # then finish() answers 413 (answering mid-body would reset the client). Tornado's
            # own cap, a 400 and a closed connection, only stops absurd ones.
            self.conn.set_max_body_size(4 * limit + 1024 * 1024)  # type: ignore[attr-defined]
        elif length.isdigit() and int(length) > limit:
            # Before the body is read: curl's Expect: 100-continue then never sends it.
            self.respond(413, self.router.endpoint.too_large_body)
        elif length.isdigit():
            if self.router.endpoint.bodies.take(int(length)):
                self.held = int(length)
            else:
                self.respond(503, self.router.endpoint.no_room_body)
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.forward is not None:
            return self.forward.data_received(chunk)
        if self.answered or self.no_room:
            return None  # answered before the body (413, 503), or no room: the rest is dropped
        limit = self.router.endpoint.max_body_size
        if self.size > limit:
            return None
        self.size += len(chunk)
        if self.size > self.held:  # chunked: counted as it arrives
            if not self.router.endpoint.bodies.take(self.size - self.held):
                self.chunks.clear()
                self.no_room = True  # answered 503 once the body is read (finish)
                return None
            self.held = self.size
        if self.size > limit:
            self.chunks.clear()
        else:
            self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        if self.forward is not None:
            self.forward.finish()
            self.router.busy.discard(self.server_conn)
            return
        if self.answered:
            return
        endpoint = self.router.endpoint
        if self.size > endpoint.max_body_size:
            self.respond(413, endpoint.too_large_body)
            return
        if self.no_room:
            self.respond(503, endpoint.no_room_body)
            return
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks = []
        try:
            request, module, timeout = parse_query(body)
        except BadRequest as exc:
            self.respond(exc.status, error_body(str(exc)))
            return
        self.module = module
        if log.isEnabledFor(logging.DEBUG):
            debug_request(endpoint.dispatcher, module, request)
        endpoint.started()
        if endpoint.stats is not None:
            self.counted = endpoint.stats.start(module, len(body))
            self.counting_since = time.perf_counter()
        endpoint.dispatcher.submit(module, request, body, timeout, self.reply)

    def on_connection_close(self) -> None:
        self._give_back()
        if self.forward is not None:
            self.forward.on_connection_close()
        # A query already running keeps running (and is logged); its answer goes nowhere.

    def reply(self, outcome: Outcome) -> None:
        try:
            self.respond(200, outcome.body, outcome)
        finally:
            if self.counted is not None:
                self.router.endpoint.stats.finish(self.counted, self.counting_since,  # type: ignore[union-attr]
                                                  outcome.outcome, len(outcome.body))
            self.router.endpoint.finished()

    def _give_back(self) -> None:
        if self.held:
            self.router.endpoint.bodies.give(self.held)
            self.held = 0

    def respond(self, status: int, body: bytes, outcome: Outcome | None = None) -> None:
        self.answered = True
        self._give_back()
        self.router.busy.discard(self.server_conn)
        endpoint = self.router.endpoint
        headers = httputil.HTTPHeaders()
        headers["Server"] = _SERVER
        headers["Content-Type"] = "application/json"
        headers["Date"] = endpoint.date()
        headers["Content-Length"] = str(len(body))
        if outcome is not None and outcome.module_ms is not None:
            headers["Server-Timing"] = f"module;dur={outcome.module_ms:.3f}"
        self.conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", status, _REASONS[status]), headers, body)
        self.conn.finish()
        remote_ip = getattr(getattr(self.conn, "context", None), "remote_ip", "0.0.0.0")
        endpoint.access.query(status, self.uri, remote_ip, 1000.0 * (time.perf_counter() - self.start),
                              self.module, outcome.error if outcome is not None else None)


def debug_request(dispatcher: Dispatcher, module: str, request: dict) -> None:
    """``-d``'s request line: a bounded, redacted prefix (:func:`logs.request_preview`), with
    every credential the request configures masked (the module's declared secret params
    included). Never raises: the debug log must not cost a request its answer."""
    try:
        secret_params = dispatcher.secret_params(module)
        log.debug("MISP QueryModule %s request %s", field(module), request_preview(request, secret_params),
                  extra={"secrets": request_secrets(request, secret_params)})
    except Exception:  # noqa: BLE001
        log.debug("MISP QueryModule %s request (not shown: it could not be logged)", field(module))


LARGE_BODY = 64 * 1024


def _decode(body: bytes) -> object:
    """``orjson.loads``, with the cyclic collector paused for large bodies: decoding a runner
    request (a whole event, often twice) allocates hundreds of thousands of containers, which
    trigger collections that find nothing (JSON has no cycles) and cost ~40 % of the decode."""
    if len(body) < LARGE_BODY:
        return orjson.loads(body)
    with collector_paused():
        return orjson.loads(body)


def parse_query(body: bytes) -> tuple[dict, str, float | None]:
    """Validate a ``/query`` body: a JSON object with a string ``module`` and an optional
    positive ``timeout`` (seconds; upstream also accepts numeric strings)."""
    if not body.strip():
        raise BadRequest("Empty request body: expected a JSON object with a `module` key")
    try:
        request = _decode(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest(f"Request body must be a JSON object, not {a_json_type(request)}")
    module = request.get("module")
    if module is None:
        raise BadRequest("Missing `module`: the request must name the module to run")
    if not isinstance(module, str) or not module:
        raise BadRequest(f"`module` must be a non-empty string, not {a_json_type(module)}")
    timeout = request.get("timeout")
    return request, module, None if timeout is None else parse_timeout(timeout)


def parse_timeout(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadRequest(f"`timeout` must be a number of seconds, not {shown(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"`timeout` must be a number of seconds, not {a_json_type(value)}")
    if value <= 0:
        raise BadRequest(f"`timeout` must be positive, not {value!r}")
    return float(value)

