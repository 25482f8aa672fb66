"""``--debug-extended``: log every outbound HTTP exchange of the modules, as upstream 3.1 does,
but with secrets redacted.

Upstream 3.1 wraps ``requests``' ``HTTPAdapter.send`` (every session, also those of SDKs built on
requests) and logs, on the ``misp-modules.http`` logger at DEBUG, each request (method, URL,
headers, body) and response (status, reason, headers, then each body chunk as the caller reads
it, so streamed downloads are not consumed), tagged with a per-exchange id and the module that
made it. Same lines here, with two differences: every line goes through the server's redacting
formatter, and the literal secrets of the query being run (its ``config`` keys, secret params)
are masked too, wherever a module put them (URL, header, body). Streamed request bodies (files,
generators) are named, not logged.

The module is known through a context variable that the dispatcher sets around each handler
call, in the module's thread or task, only while tracing is on.
"""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar, Token
from functools import wraps
from typing import Any

from misp_modules.lib.redact import redact

LOGGER = logging.getLogger("misp-modules.http")
_MODULE: ContextVar[str] = ContextVar("http_trace_module", default="unknown")
_SECRETS: ContextVar[tuple[str, ...]] = ContextVar("http_trace_secrets", default=())
enabled = False  # read by the dispatcher: module context is set only while tracing


def enter(module: str, secrets: list[str]) -> tuple[Token, Token]:
    """The running handler belongs to ``module``; its query's literal secrets are ``secrets``."""
    return _MODULE.set(module), _SECRETS.set(tuple(secrets))


def leave(tokens: tuple[Token, Token]) -> None:
    _MODULE.reset(tokens[0])
    _SECRETS.reset(tokens[1])


def _log(message: str, *args: Any) -> None:
    LOGGER.debug(message, *args, extra={"secrets": _SECRETS.get()})


def install() -> None:
    """Start tracing (once per process, before modules make requests)."""
    global enabled
    from requests.adapters import HTTPAdapter

    enabled = True
    if getattr(HTTPAdapter.send, "_misp_http_trace", False):
        return
    send = HTTPAdapter.send

    @wraps(send)
    def traced_send(adapter, request, *args, **kwargs):
        label = f"HTTP {uuid.uuid4().hex} module={_MODULE.get()}"
        _log("%s request: %s %s\nHeaders: %r", label, request.method, request.url, redact(dict(request.headers)))
        body = request.body
        if body is None or isinstance(body, (str, bytes)):
            _log("%s request body: %r", label, body)
        else:
            _log("%s request body: streamed (%s), not logged", label, type(body).__name__)
        try:
            response = send(adapter, request, *args, **kwargs)
        except Exception:
            _log("%s request failed", label)
            raise
        _log("%s response: %s %s\nHeaders: %r", label, response.status_code, response.reason,
             redact(dict(response.headers)))
        _trace_body(response.raw, label, _SECRETS.get())
        return response

    traced_send._misp_http_trace = True  # type: ignore[attr-defined]
    HTTPAdapter.send = traced_send


def _trace_body(raw: Any, label: str, secrets: tuple[str, ...]) -> None:
    """Log the response body chunk by chunk, when and as the caller reads it."""
    def log_chunk(chunk: Any) -> None:
        LOGGER.debug("%s response body chunk: %r", label, chunk, extra={"secrets": secrets})

    for name in ("read", "read1"):
        read = getattr(raw, name, None)
        if read is None:
            continue

        def traced(*args, _read=read, **kwargs):
            chunk = _read(*args, **kwargs)
            log_chunk(chunk)
            return chunk

        setattr(raw, name, wraps(read)(traced))
    read_chunked = getattr(raw, "read_chunked", None)
    if read_chunked is not None:
        @wraps(read_chunked)
        def traced_chunked(*args, **kwargs):
            for chunk in read_chunked(*args, **kwargs):
                log_chunk(chunk)
                yield chunk

        raw.read_chunked = traced_chunked


__all__ = ["install", "enter", "leave", "enabled", "LOGGER"]
