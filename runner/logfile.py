"""MISP's workflow log (docs/misp-behaviour.md §5.13): error messages always, progress only in debug mode.

Every message is kept for the report (``log``: the always-logged ones, MISP's DB ``Log`` rows)
and, with ``--log-file``, appended in MISP's ``workflow-execution.log`` line format::

    [2024-10-21 10:59:21] Workflow(event-publish:3). Execution stopped. \\n<errors>

(server local time; a message may span several lines). Each walk (the main run, every
concurrent branch) keeps its own entries through :meth:`WorkflowLog.scoped`; all of them share
one file.
"""

from __future__ import annotations

import threading
import time
from typing import Any


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


class WorkflowLog:
    def __init__(self, trigger_id: str, workflow_id: Any, debug: bool = False, path: str | None = None,
                 _file: _File | None = None) -> None:
        self.trigger_id = trigger_id
        self.workflow_id = workflow_id
        self.debug_enabled = debug
        self.entries: list[tuple[str, str]] = []  # (level, message), in order
        self._file = _file or _File(path)

    def scoped(self) -> WorkflowLog:
        """A log for one walk: own entries, same file."""
        return WorkflowLog(self.trigger_id, self.workflow_id, self.debug_enabled, _file=self._file)

    def error(self, message: str) -> None:
        """Always logged (MISP: a DB Log row and a log-file line)."""
        self._write("error", message)

    def debug(self, message: str) -> None:
        """Logged only when the workflow's debug mode is on."""
        if self.debug_enabled:
            self._write("debug", message)

    def errors(self) -> list[str]:
        return [m for level, m in self.entries if level == "error"]

    def messages(self) -> list[str]:
        """Everything written to MISP's log, in order (progress messages only in debug mode)."""
        return [m for _, m in self.entries]

    def line(self, message: str, when: float | None = None) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
        return f"[{stamp}] Workflow({self.trigger_id}:{self.workflow_id}). {message}\n"

    def _write(self, level: str, message: str) -> None:
        self.entries.append((level, message))
        self._file.write(self.line(message))

    def close(self) -> None:
        self._file.close()
