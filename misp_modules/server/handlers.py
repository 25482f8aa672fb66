"""The HTTP endpoints. Every answer is JSON (errors included, 404 and 405 too), with
``Content-Type: application/json``; MISP only reads ``error`` from a 2xx JSON body, so a
request MISP could send that fails inside the server is answered 200 ``{"error": ...}``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

import orjson
import tornado.web

from misp_modules.lib.redact import redact, secret_values
from misp_modules.server.dispatch import Dispatcher, error_body

log = logging.getLogger("misp-modules")


class JsonHandler(tornado.web.RequestHandler):
    """Base: JSON content type, JSON error pages, no traceback ever sent to the client."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        if status_code == 405:
            reason = f"Method {self.request.method} is not allowed on {self.request.path}"
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], tornado.web.HTTPError) and exc_info[1].log_message:
            reason = exc_info[1].log_message % exc_info[1].args if exc_info[1].args else exc_info[1].log_message
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps({"error": redact(reason)}))

    def send_json(self, body: bytes, status: int = 200) -> None:
        self.set_status(status)
        self.finish(body)


class NotFound(JsonHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.finish(orjson.dumps({"error": f"No such endpoint: {self.request.method} {self.request.path}"}))


class Healthcheck(JsonHandler):
    def get(self) -> None:
        log.debug("MISP Healthcheck request")
        self.finish(b'{"status": true}')


class Version(JsonHandler):
    def initialize(self, body: bytes) -> None:
        self.body = body

    def get(self) -> None:
        self.finish(self.body)


class ListModules(JsonHandler):
    """``/modules`` from bytes built once at startup: MISP allows it 1 s, and it must stay
    fast however busy the module lanes are (the handler never touches them)."""

    def initialize(self, body: bytes, etag: str) -> None:
        self.body = body
        self.etag = etag

    def compute_etag(self) -> str:
        return self.etag

    def get(self) -> None:
        log.debug("MISP ListModules request")
        self.write(self.body)


class OpenApiJson(JsonHandler):
    def initialize(self, body: bytes) -> None:
        self.body = body

    def get(self) -> None:
        self.finish(self.body)


class OpenApiPage(tornado.web.RequestHandler):
    def initialize(self, page: bytes) -> None:
        self.page = page

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(self.page)

    write_error = JsonHandler.write_error


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@tornado.web.stream_request_body
class QueryModule(JsonHandler):
    """``POST /query``: parse, validate, run through the module's lane, answer."""

    def initialize(self, dispatcher: Dispatcher, max_body_size: int) -> None:
        self.dispatcher = dispatcher
        self.max_body_size = max_body_size
        self.module_name: str | None = None  # for the access log line
        self.query_error: str | None = None
        self._chunks: list[bytes] = []
        self._size = 0

    def prepare(self) -> None:
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.max_body_size:
            self._too_large()  # before the body is read (curl's Expect: 100-continue never sends it)
            return
        # Chunked bodies (no Content-Length) are counted in data_received; past the limit the rest
        # is read and dropped, then post() answers 413 (answering mid-body would reset the client).
        # Tornado's own cap, a 400 and a closed connection, only stops absurd ones.
        self.request.connection.set_max_body_size(4 * self.max_body_size + 1024 * 1024)

    def data_received(self, chunk: bytes) -> None:
        if self._size > self.max_body_size:
            return
        self._size += len(chunk)
        if self._size > self.max_body_size:
            self._chunks.clear()
        else:
            self._chunks.append(chunk)

    def _too_large(self) -> None:
        self.send_json(orjson.dumps({"error": f"Request body too large (limit {self.max_body_size} bytes, "
                                              "server setting max_body_size)"}), 413)

    async def post(self) -> None:
        self.application.query_started()  # graceful shutdown waits for these
        try:
            await self._answer()
        finally:
            self.application.query_finished()

    async def _answer(self) -> None:
        if self._size > self.max_body_size:
            self._too_large()
            return
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        try:
            request, module, timeout = parse_query(body)
        except BadRequest as exc:
            self.send_json(error_body(str(exc)), exc.status)
            return
        self.module_name = module
        if log.isEnabledFor(logging.DEBUG):
            log.debug("MISP QueryModule %s request %s", module,
                      orjson.dumps(redact(request), option=orjson.OPT_NON_STR_KEYS).decode(),
                      extra={"secrets": secret_values(request)})
        outcome = await self.dispatcher.run(module, request, body, timeout)
        self.query_error = outcome.error
        self.finish(outcome.body)


def parse_query(body: bytes) -> tuple[dict, str, float | None]:
    """Validate a ``/query`` body: a JSON object with a string ``module`` and an optional
    positive ``timeout`` (seconds; upstream also accepts numeric strings)."""
    if not body.strip():
        raise BadRequest("Empty request body: expected a JSON object with a `module` key")
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest(f"Request body must be a JSON object, not {_json_type(request)}")
    module = request.get("module")
    if module is None:
        raise BadRequest("Missing `module`: the request must name the module to run")
    if not isinstance(module, str) or not module:
        raise BadRequest(f"`module` must be a non-empty string, not {_json_type(module)}")
    return request, module, parse_timeout(request.get("timeout"))


def parse_timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadRequest(f"`timeout` must be a number of seconds, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"`timeout` must be a number of seconds, not {_json_type(value)}")
    if value <= 0:
        raise BadRequest(f"`timeout` must be positive, not {value!r}")
    return float(value)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def etag_of(body: bytes) -> str:
    return '"%s"' % hashlib.sha1(body).hexdigest()


__all__ = ["JsonHandler", "NotFound", "Healthcheck", "Version", "ListModules", "OpenApiJson",
           "OpenApiPage", "QueryModule", "parse_query", "etag_of"]
