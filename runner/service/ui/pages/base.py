"""The base of every page handler: the session check, CSRF on POSTs, security headers, pages
for errors (never a blank page, never a traceback), and blocking work off the event loop.

Answers are HTML, except the JSON endpoints the page scripts call (``json_endpoint = True``),
which answer ``{"error": ...}`` with the same statuses. No page allows inline scripts or
styles (``Content-Security-Policy``), every asset is served from ``/ui/static``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import tornado.web
from tornado.ioloop import IOLoop

from runner.service.ui.auth import COOKIE, Session
from runner.service.ui.context import UiContext

log = logging.getLogger("misp-workflow.ui")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class PageError(Exception):
    """An answer other than 200, with a message for the person reading the page."""

    def __init__(self, status: int, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.title = title or {400: "Bad request", 401: "Log in", 403: "Not allowed", 404: "Not found",
                               409: "Conflict", 429: "Too many attempts", 502: "Not answering"}.get(status, "Error")


class Page(tornado.web.RequestHandler):
    ctx: UiContext
    session: Session | None = None
    authenticated = True
    json_endpoint = False

    def initialize(self, ctx: UiContext) -> None:
        self.ctx = ctx
        self.gone = False

    def on_connection_close(self) -> None:
        self.gone = True  # a long poll stops waiting for a page that went away

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    # -- authentication and CSRF --------------------------------------------------------------
    def prepare(self) -> None:
        self.session = self.ctx.signer.session(self.get_cookie(COOKIE))
        if self.authenticated and self.session is None:
            if self.json_endpoint or self.request.method != "GET" or self.get_argument("fragment", ""):
                raise PageError(401, "your session has ended: log in again")
            target = self.request.uri or "/ui/runs"
            self.redirect(f"/ui/login?next={quote(target, safe='')}")
            return
        if self.request.method == "POST":
            self.check_origin()
            if self.authenticated:
                given = self.request.headers.get("X-CSRF-Token") or self.get_body_argument("_csrf", "")
                if self.session is None or not self.ctx.signer.csrf_ok(self.session.nonce, given):
                    raise PageError(403, "this form is stale or was not sent from this page: reload the page and "
                                         "send it again")

    def check_origin(self) -> None:
        origin = self.request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != self.request.host:
            raise PageError(403, "a form posted from another site is refused")

    def check_xsrf_cookie(self) -> None:  # our own CSRF check (prepare) replaces Tornado's
        return None

    @property
    def csrf(self) -> str:
        return self.ctx.signer.csrf(self.session.nonce) if self.session else ""

    # -- answers ------------------------------------------------------------------------------
    def page(self, template: str, status: int = 200, **values: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.ctx.render(template, csrf=self.csrf, logged_in=self.session is not None,
                                    page_path=self.request.path, **values))

    def json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(self.ctx.mask(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS).decode()))

    def download(self, raw: bytes, name: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Content-Disposition", f'inline; filename="{name}"')
        self.finish(self.ctx.mask(raw.decode("utf-8", "replace")) if self.ctx.secrets else raw)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, PageError):
            status, title, message = exc.status, exc.title, exc.message
        elif isinstance(exc, tornado.web.HTTPError) and exc.status_code < 500:
            status, title, message = exc.status_code, "Bad request", exc.log_message or self._reason
        else:
            status, title, message = 500, "Something failed", "the page could not be made; the service's log says why"
        self.clear()
        self.set_default_headers()
        if self.json_endpoint or self.get_argument("fragment", ""):
            self.json({"error": message}, status)
            return
        self.page("error.html", status, title=title, message=message, status_code=status)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, PageError):
            return
        super().log_exception(typ, value, tb)

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await IOLoop.current().run_in_executor(self.ctx.service.api_pool, fn, *args)


class NotFoundPage(Page):
    authenticated = False

    def prepare(self) -> None:
        raise PageError(404, f"there is no page {self.request.path}")
