"""Logging: upstream's format and loggers, with every line redacted.

Upstream prints ``%(asctime)s - %(name)s - %(levelname)s - %(message)s`` to stderr from the
``misp-modules``, ``tornado.access`` and ``py.warnings`` loggers; operators grep for those
lines, so they stay. The difference: the formatter passes the finished line (message *and*
traceback) through :func:`misp_modules.lib.redact.redact`, so no level, not even ``-d`` with
its request bodies, writes a token, key or password. A record may carry ``secrets`` (extra)
with literal values to mask as well, e.g. the secret params of the query that failed.
"""

from __future__ import annotations

import logging
import sys
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
        """Upstream's timestamp (``2024-01-02 03:04:05,678``), with strftime done once per
        second: at thousands of access-log lines per second it was a visible cost."""
        second = int(record.created)
        if second != self._second:
            self._stamp = super().formatTime(record, datefmt)[:-4]  # drop ",mmm"
            self._second = second
        return f"{self._stamp},{int(record.msecs):03d}"


def setup(debug: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """Configure logging for the server process; returns the handler (tests may swap it)."""
    logging.captureWarnings(True)
    # The format uses none of these; skipping them makes each record (one per request) cheaper.
    logging._srcfile = None  # no caller lookup (a stack walk) per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
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
