"""Logging: upstream's format and loggers, with every line redacted.

Upstream prints ``%(asctime)s - %(name)s - %(levelname)s - %(message)s`` to stderr from the
``misp-modules``, ``tornado.access`` and ``py.warnings`` loggers; operators grep for those
lines, so they stay. The difference: the formatter passes the finished line (message *and*
traceback) through :func:`misp_modules.lib.redact.redact`, so no level, not even ``-d`` with
its request bodies, writes a token, key or password. A record may carry ``secrets`` (extra)
with literal values to mask as well, e.g. the secret params of the query that failed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import TextIO

from misp_modules.lib.redact import redact

FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

log = logging.getLogger("misp-modules")
access_log = logging.getLogger("tornado.access")


class RedactingFormatter(logging.Formatter):
    _second: int = -1
    _stamp: str = ""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), getattr(record, "secrets", ()))

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
        return redact(f"{self.timestamp(time.time())} - {name} - {levelname} - {message}")


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
        if module is None:
            message = "%d %s %.2fms" % (status, summary, took_ms)
        elif error is None:
            message = "%d %s %.2fms module=%s" % (status, summary, took_ms, module)
        else:  # an error the server produced (unknown module, timeout, module raised...)
            message = "%d %s %.2fms module=%s error=%r" % (status, summary, took_ms, module, error)
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
                or type(formatter) is not RedactingFormatter or formatter._fmt != FORMAT):
            return None
        return handler


def setup(debug: bool = False, stream: TextIO | None = None) -> ServerLogHandler:
    """Configure logging for the server process; returns the handler (tests may swap it)."""
    logging.captureWarnings(True)
    # The format uses none of these; skipping them makes each record (one per request) cheaper.
    logging._srcfile = None  # no caller lookup (a stack walk) per record
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
