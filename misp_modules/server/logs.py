"""Logging: upstream's format and loggers, with every line redacted.

Upstream prints ``%(asctime)s - %(name)s - %(levelname)s - %(message)s`` to stderr from the
``misp-modules``, ``tornado.access`` and ``py.warnings`` loggers; operators grep for those
lines, so they stay. The difference: the formatter passes the finished line (message *and*
traceback) through :func:`misp_modules.lib.redact.redact`, so no level, not even ``-d`` with
its request bodies, writes a token, key or password. A record may carry ``secrets`` (extra)
with literal values to mask as well, e.g. the secret params of the query that failed.

Logs are data, not a channel for whoever sends a request: values taken from a request go
through :func:`field` (control characters escaped, length bounded), and the formatter escapes
every control character but newline and tab, and indents the continuation lines of a record
(a traceback, a value with a newline), so no request can write a line that looks like one of
the server's own.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import time
from typing import Any, TextIO

from misp_modules.lib.redact import MASK, is_secret_key, redact

FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

log = logging.getLogger("misp-modules")
access_log = logging.getLogger("tornado.access")

FIELD_LIMIT = 200  # characters of one request value in a log line (a module name, a path)
ERROR_LIMIT = 1000  # characters of an error message in an access line

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_LINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # all but \t and \n
_CONTINUATION = re.compile(r"\n(?!  )")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or f"\\x{ord(char):02x}" if ord(char) < 0x100 \
        else f"\\u{ord(char):04x}"


def field(value: Any, limit: int = FIELD_LIMIT) -> str:
    """A request value as it may appear in a log line or an error message: control characters
    escaped (no forged line), at most ``limit`` characters (a 30 MB module name is not echoed)."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if _CONTROL.search(text):
        text = _CONTROL.sub(_escape, text)
    return f"{text}…(+{len(value if isinstance(value, str) else str(value)) - limit} characters)" if cut else text


def shown(value: str, limit: int = FIELD_LIMIT) -> str:
    """``repr``-like quoting of a request value for messages: ``'name'``, bounded and escaped."""
    return "'" + field(value, limit).replace("'", "\\'") + "'"


def guard_line(text: str) -> str:
    """A formatted record as one log entry: control characters other than newline and tab
    escaped, continuation lines indented (a newline in a value never starts a new entry)."""
    if _CONTROL_IN_LINE.search(text):
        text = _CONTROL_IN_LINE.sub(_escape, text)
    if "\n" in text:
        text = _CONTINUATION.sub("\n  ", text)
    return text


class RedactingFormatter(logging.Formatter):
    _second: int = -1
    _stamp: str = ""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(fmt, datefmt, *args, **kwargs)
        self.pattern = fmt  # the format it was given: :meth:`line` is right only for FORMAT

    def format(self, record: logging.LogRecord) -> str:
        return guard_line(redact(super().format(record), getattr(record, "secrets", ())))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self.timestamp(record.created)

    def timestamp(self, created: float) -> str:
        """Upstream's timestamp (``2024-01-02 03:04:05,678``), with strftime done once per
        second: at thousands of access-log lines per second it was a visible cost."""
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return f"{self._stamp},{int((created - second) * 1000):03d}"

    def line(self, name: str, levelname: str, message: str) -> str:
        """What :meth:`format` makes of a record of ``message`` (no args, no traceback, no
        secrets) logged now, without building the record."""
        return guard_line(redact(f"{self.timestamp(time.time())} - {name} - {levelname} - {message}"))


class ServerLogHandler(logging.StreamHandler):
    """The one handler of every logger of a server process, writing to stderr.

    Lines logged on the event loop's thread are written together once per loop iteration (under
    load, one write for dozens of access lines instead of one each); a line from any other
    thread first writes what is pending, so lines keep their order. ``flush()`` (also run by
    ``logging.shutdown()``) writes what is pending.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Buffer lines logged on ``loop``'s thread (the caller's) until the loop's next turn."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def detach(self) -> None:
        """The loop is ending: write what is pending, then write each line as it comes."""
        self._loop = self._loop_thread = None
        self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record) + self.terminator)
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)

    def write_line(self, line: str) -> None:
        """Write one formatted line (with its newline)."""
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            if self._loop_thread is not None and threading.get_ident() == self._loop_thread:
                if len(self._pending) == 1:
                    self._loop.call_soon(self.flush)  # type: ignore[union-attr]
                return
            self._write_pending()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self.stream.write(text)
        if self.stream and hasattr(self.stream, "flush"):
            self.stream.flush()


_handler: ServerLogHandler | None = None  # the one setup() installed


def attach_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Buffer the server handler's lines logged on ``loop`` (see :class:`ServerLogHandler`)."""
    if _handler is not None:
        _handler.attach(loop)


def detach_loop() -> None:
    if _handler is not None:
        _handler.detach()


class AccessLog:
    """Upstream's access line (``200 POST /query (127.0.0.1) 3.12ms``), plus ``module=`` for
    queries and ``error=`` when the server (not the module) produced an error. One place for
    the format, used by ``/query`` and by the application's other handlers.

    When the access logger writes only to the server's handler with its own format (always,
    unless something reconfigured logging), the line is formatted and handed to the handler
    directly: the same text, without a ``LogRecord`` and the logging machinery per request.
    """

    def __init__(self, logger: logging.Logger = access_log) -> None:
        self.logger = logger

    def query(self, status: int, uri: str, remote_ip: str, took_ms: float, module: str | None,
              error: str | None) -> None:
        self.line(status, f"POST {uri} ({remote_ip})", took_ms, module, error)

    def line(self, status: int, summary: str, took_ms: float, module: str | None = None,
             error: str | None = None) -> None:
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        summary = field(summary, 2 * FIELD_LIMIT)
        if module is None:
            message = "%d %s %.2fms" % (status, summary, took_ms)
        elif error is None:
            message = "%d %s %.2fms module=%s" % (status, summary, took_ms, field(module))
        else:  # an error the server produced (unknown module, timeout, module raised...)
            message = "%d %s %.2fms module=%s error=%r" % (status, summary, took_ms, field(module),
                                                            field(error, ERROR_LIMIT))
        handler = self._direct_handler(level)
        if handler is None:
            logger.log(level, "%s", message)
        else:
            handler.write_line(handler.formatter.line(logger.name, logging.getLevelName(level),  # type: ignore[union-attr]
                                                      message) + handler.terminator)

    def _direct_handler(self, level: int) -> ServerLogHandler | None:
        logger = self.logger
        handlers = logger.handlers
        if len(handlers) != 1 or logger.propagate or logger.filters:
            return None
        handler = handlers[0]
        formatter = handler.formatter
        if (type(handler) is not ServerLogHandler or handler.filters or level < handler.level
                or type(formatter) is not RedactingFormatter or formatter.pattern != FORMAT):
            return None
        return handler


def setup(debug: bool = False, stream: TextIO | None = None) -> ServerLogHandler:
    """Configure logging for the server process; returns the handler (tests may swap it)."""
    logging.captureWarnings(True)
    # The format uses none of these; skipping them makes each record cheaper (logging's documented
    # switches; the access line, one per request, bypasses records altogether: AccessLog).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _handler
    handler = _handler = ServerLogHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT))
    levels = {
        "misp-modules": logging.DEBUG if debug else logging.INFO,
        "misp_modules": logging.DEBUG if debug else logging.INFO,  # modules' own loggers (__name__)
        "tornado.access": logging.INFO,
        "py.warnings": logging.ERROR,
    }
    for name, level in levels.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [handler]  # third-party libraries: warnings and errors, redacted too
    root.setLevel(logging.WARNING)
    return handler


DEBUG_BODY_LIMIT = 4096  # characters of a request body that ``-d`` logs
_DEBUG_DEPTH = 32  # levels of a request body that ``-d`` shows
_DEBUG_STRING = 512  # characters of one string of it


def request_preview(request: Any, secret_params: frozenset[str] | tuple[str, ...] = (),
                    limit: int = DEBUG_BODY_LIMIT) -> str:
    """What ``-d`` logs of a request: a bounded prefix, whatever the body.

    Built by a walk that stops once ``limit`` characters are reached (a 50 MB body costs what
    4 KB does), and at ``_DEBUG_DEPTH`` levels (a body nested 1,000 deep is shown as ``…``):
    it never raises, and never takes the loop for long. Values under credential-named keys and
    the params the module declares secret (``secret_params``: a webhook URL, its headers) are
    masked whole; the caller's log record masks the rest (patterns, literal secrets)."""
    budget = [limit]
    out: list[str] = []

    def emit(text: str) -> bool:
        budget[0] -= len(text)
        out.append(text)
        return budget[0] > 0

    def walk(value: Any, depth: int, secret: bool, params: bool = False) -> bool:
        if secret and value not in (None, ""):
            return emit('"' + MASK + '"')
        if isinstance(value, str):
            text = value if len(value) <= _DEBUG_STRING else value[:_DEBUG_STRING] + f"…(+{len(value) - _DEBUG_STRING})"
            return emit(_json_string(text))
        if depth >= _DEBUG_DEPTH and isinstance(value, (dict, list)):
            return emit('"…"')
        if isinstance(value, dict):
            if not emit("{"):
                return False
            for index, (key, item) in enumerate(value.items()):
                if (index and not emit(",")) or not emit(_json_string(field(str(key), _DEBUG_STRING)) + ":"):
                    return False
                hidden = is_secret_key(key) or (params and key in secret_params)
                if not walk(item, depth + 1, hidden, depth == 0 and key == "params"):
                    return False
            return emit("}")
        if isinstance(value, list):
            if not emit("["):
                return False
            for index, item in enumerate(value):
                if (index and not emit(",")) or not walk(item, depth + 1, False):
                    return False
            return emit("]")
        return emit(_json_scalar(value))

    try:
        complete = walk(request, 0, False)
    except Exception as exc:  # noqa: BLE001 - the debug log never fails a request
        return f"(not shown: {type(exc).__name__})"
    text = "".join(out)
    if not complete or len(text) > limit:
        text = text[:limit] + f"…(body shown up to {limit} characters)"
    return text


def _json_string(text: str) -> str:
    import orjson

    return orjson.dumps(text).decode()


def _json_scalar(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _json_string(type(value).__name__)
