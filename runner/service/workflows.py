"""The workflow folder: MISP workflow exports bound to their triggers, plus ad-hoc workflows.

Layout (docs/service.md, "Workflows")::

    workflows/
      block-red.json          # a MISP export: bound to its trigger (Workflow.trigger_id)
      curate.json             # a blueprint: no trigger, run on demand only
      adhoc/enrich.json       # anything under adhoc/ runs on demand only, whatever its trigger

A workflow's name is its file name without ``.json`` (``adhoc/`` kept out of it); names are
unique. As in MISP, one workflow serves a trigger (docs/misp-behaviour.md §5.1: the first whose
trigger matches): when two files claim one trigger the first by name is bound and the other is
reported, not run. A workflow's version is the SHA-256 of its file (16 hex digits), recorded
with every run. The folder is re-read when a file changes (checked at most every
``check_interval`` seconds), so a run always uses the file as it is on disk.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.service import execution

ADHOC = "adhoc"


class UnknownWorkflow(LookupError):
    """No workflow by that name (the message lists what exists)."""


@dataclass(frozen=True)
class WorkflowFile:
    name: str
    path: str
    version: str
    content: bytes = field(repr=False)
    trigger: str | None          # the trigger it is stored for (None: a blueprint)
    bound: bool                  # runs on its trigger's events (else on demand only)
    problem: str | None = None   # why it cannot run (invalid file) or is not bound

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "trigger": self.trigger, "bound": self.bound,
                "file": os.path.basename(self.path), "problem": self.problem}


def version_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def _trigger_of(content: bytes, path: str) -> tuple[str | None, str | None]:
    """``(trigger, problem)``: the trigger an export is stored for (None for a blueprint), or
    why the runner refuses the file."""
    try:
        workflow = execution.load_workflow(content, path)
    except execution.WorkflowInvalid as exc:
        return None, str(exc)
    return (execution.workflow_trigger(workflow) if execution.workflow_kind(workflow) == "workflow" else None), None


def pinned(name: str, content: bytes) -> WorkflowFile:
    """A kept version of workflow ``name`` (its file's bytes), to run instead of the folder's
    current file: never bound to a trigger, named ``<name>@<version>`` in messages."""
    version = version_of(content)
    path = f"{name}@{version}"
    trigger, problem = _trigger_of(content, path)
    return WorkflowFile(name, path, version, content, trigger, False, problem)


class WorkflowFolder:
    def __init__(self, root: str | Path, *, check_interval: float = 1.0) -> None:
        self.root = Path(root)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._signature: tuple = ()
        self._checked = float("-inf")
        self._files: dict[str, WorkflowFile] = {}
        self._loaded: dict[tuple[str, str], Any] = {}  # (version, trigger) -> runner workflow

    # -- reading the folder --------------------------------------------------------------
    def _scan(self) -> Iterator[tuple[str, Path, bool]]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*.json"), key=lambda p: p.stem):
            yield path.stem, path, True
        adhoc = self.root / ADHOC
        if adhoc.is_dir():
            for path in sorted(adhoc.glob("*.json"), key=lambda p: p.stem):
                yield path.stem, path, False

    def refresh(self, force: bool = False) -> None:
        """Re-read the folder when a file was added, removed or changed."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < self.check_interval:
                return
            self._checked = now
            entries = []
            for name, path, top in self._scan():
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                entries.append((name, str(path), top, st.st_mtime_ns, st.st_size))
            signature = tuple(entries)
            if signature == self._signature and not force:
                return
            self._signature = signature
            self._files = self._read(entries)

    def _read(self, entries: list[tuple]) -> dict[str, WorkflowFile]:
        files: dict[str, WorkflowFile] = {}
        bound_to: dict[str, str] = {}
        for name, path, top, _mtime, _size in entries:
            try:
                content = Path(path).read_bytes()
            except OSError as exc:
                files.setdefault(name, WorkflowFile(name, path, "", b"", None, False, f"cannot read: {exc}"))
                continue
            if name in files:
                files[f"{name}@{path}"] = WorkflowFile(name, path, version_of(content), content, None, False,
                                                       f"duplicate name: {files[name].path} has it")
                continue
            trigger, problem = _trigger_of(content, path)
            bound = bool(top and trigger and problem is None)
            if bound and trigger in bound_to:
                problem = f"trigger `{trigger}` is already served by workflow `{bound_to[trigger]}` (MISP runs one " \
                          "workflow per trigger)"
                bound = False
            if bound:
                bound_to[trigger] = name
            files[name] = WorkflowFile(name, path, version_of(content), content, trigger, bound, problem)
        return files

    # -- lookups ------------------------------------------------------------------------------
    def all(self) -> list[WorkflowFile]:
        self.refresh()
        with self._lock:
            return list(self._files.values())

    def bound_to(self, trigger: str) -> list[WorkflowFile]:
        """The workflows that run on ``trigger``'s events (MISP: at most one)."""
        return [f for f in self.all() if f.bound and f.trigger == trigger]

    def get(self, name: str) -> WorkflowFile:
        self.refresh()
        with self._lock:
            found = self._files.get(name)
            known = sorted(k for k in self._files if "@" not in k)
        if found is None:
            raise UnknownWorkflow(f"no workflow named `{name}` in {self.root} (known: {', '.join(known) or 'none'})")
        return found

    def runnable(self, wf: WorkflowFile, trigger: str | None) -> tuple[Any, str]:
        """The runner's workflow for ``wf`` and the trigger it runs for: its own trigger, or,
        for a blueprint, ``trigger``. :class:`execution.WorkflowInvalid` when it cannot run."""
        if wf.problem and not wf.problem.startswith("trigger `"):
            raise execution.WorkflowInvalid(wf.problem)
        run_trigger = wf.trigger or trigger
        if not run_trigger:
            raise execution.WorkflowInvalid(f"workflow `{wf.name}` is a blueprint: a run must name its trigger")
        if wf.trigger and trigger and trigger != wf.trigger:
            raise execution.WorkflowInvalid(f"workflow `{wf.name}` belongs to trigger `{wf.trigger}`, not `{trigger}`")
        key = (wf.version, run_trigger)
        with self._lock:
            loaded = self._loaded.get(key)
        if loaded is None:
            loaded = execution.load_workflow(wf.content, wf.path, None if wf.trigger else run_trigger)
            with self._lock:
                if len(self._loaded) > 256:
                    self._loaded.clear()
                self._loaded[key] = loaded
        return loaded, run_trigger
