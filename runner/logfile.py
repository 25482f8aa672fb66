"""MISP's workflow log (docs/misp-behaviour.md §5.13): error messages always, progress only in debug mode.

Every message is kept for the report (``log``: the always-logged ones, MISP's DB ``Log`` rows)
and, with ``--log-file``, appended in MISP's ``workflow-execution.log`` line format::

    [2024-10-21 10:59:21] Workflow(event-publish:3). Execution stopped. \\n<errors>

(server local time; a message may span several lines). Each walk (the main run, every
concurrent branch) keeps its own entries through :meth:`WorkflowLog.scoped`; all of them share
one file.

MISP's concurrent-task job has no logger until something logs an error (``logExecutionError``
creates it; only ``__runWorkflow`` creates it up front): in debug mode its first progress
message crashes the job (misp-behaviour.md §15.6). A job's log (``scoped(job=True)``) raises
:class:`LoggerCrash` there, so the runner stops the branch where MISP's job dies, with a clear
error.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from runner.errors import RunAborted
from runner.textsafe import printable


class _File:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.handle = None

    def write(self, text: str) -> None:
        if not self.path:
            return
        with self.lock:
            if self.handle is None:
                self.handle = open(self.path, "a", encoding="utf-8")
            self.handle.write(text)
            self.handle.flush()

    def close(self) -> None:
        with self.lock:
            if self.handle is not None:
                self.handle.close()
                self.handle = None


LOGGER_CRASH = ("MISP's concurrent-task job crashes here in debug mode: its first progress message finds no "
                "logger (Call to a member function createLogEntry() on null, misp-behaviour.md §15.6), after "
                "this node ran; nothing after it runs in this branch")


class LoggerCrash(RunAborted):
    """MISP's job dies writing a debug message without a logger (see the module docstring)."""


class WorkflowLog:
    def __init__(self, trigger_id: str, workflow_id: Any, debug: bool = False, path: str | None = None,
                 _file: _File | None = None, logger_ready: bool = True) -> None:
        self.trigger_id = trigger_id
        self.workflow_id = workflow_id
        self.debug_enabled = debug
        self.entries: list[tuple[str, str]] = []  # (level, message), in order
        self._file = _file or _File(path)
        self._logger_ready = logger_ready

    def scoped(self, job: bool = False) -> WorkflowLog:
        """A log for one walk: own entries, same file. ``job``: a concurrent-task job, whose
        logger MISP creates only at its first error."""
        return WorkflowLog(self.trigger_id, self.workflow_id, self.debug_enabled, _file=self._file,
                           logger_ready=not job)

    def error(self, message: str) -> None:
        """Always logged (MISP: a DB Log row and a log-file line)."""
        self._logger_ready = True
        self._write("error", message)

    def debug(self, message: str) -> None:
        """Logged only when the workflow's debug mode is on; :class:`LoggerCrash` where MISP's
        job has no logger yet."""
        if self.debug_enabled:
            if not self._logger_ready:
                raise LoggerCrash(LOGGER_CRASH)
            self._write("debug", message)

    def errors(self) -> list[str]:
        return [m for level, m in self.entries if level == "error"]

    def messages(self) -> list[str]:
        """Everything written to MISP's log, in order (progress messages only in debug mode)."""
        return [m for _, m in self.entries]

    def line(self, message: str, when: float | None = None) -> str:
        """MISP's line; control characters from the data escaped (a message keeps its line
        breaks: MISP's messages span lines by design)."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
        return printable(f"[{stamp}] Workflow({self.trigger_id}:{self.workflow_id}). {message}", keep_newlines=True) + "\n"

    def _write(self, level: str, message: str) -> None:
        self.entries.append((level, message))
        self._file.write(self.line(message))

    def close(self) -> None:
        self._file.close()
