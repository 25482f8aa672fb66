"""The HTTP endpoints. Every answer is JSON (errors included, 404 and 405 too), with
``Content-Type: application/json``; MISP only reads ``error`` from a 2xx JSON body, so a
request MISP could send that fails inside the server is answered 200 ``{"error": ...}``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import orjson
import tornado.web

from misp_modules.lib.redact import redact
from misp_modules.server import metrics, statistics

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

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


class Statistics(JsonHandler):
    """Upstream 3.1's ``/statistics``: per-module counters, every worker's added up."""

    def initialize(self, stats: statistics.Statistics) -> None:
        self.stats = stats

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(orjson.dumps(self.stats.snapshot()))


class Metrics(tornado.web.RequestHandler):
    """The same numbers in Prometheus' text format."""

    def initialize(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def get(self) -> None:
        self.set_header("Content-Type", metrics.CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(metrics.exposition(self.registry))

    write_error = JsonHandler.write_error


class QueryOtherMethods(JsonHandler):
    """``/query`` with a method other than POST: 405 (POST is served by ``query_endpoint``)."""


def etag_of(body: bytes) -> str:
    return '"%s"' % hashlib.sha1(body).hexdigest()


__all__ = ["JsonHandler", "NotFound", "Healthcheck", "Version", "ListModules", "OpenApiJson",
           "OpenApiPage", "Statistics", "Metrics", "QueryOtherMethods", "etag_of"]
