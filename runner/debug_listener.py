"""MISP's debug-mode receiver (the job of MISP's ``tools/misp-workflows/webhook-listener.py``),
storing each run as a JSON capture that ``misp-workflow run --replay`` can replay.

MISP POSTs ``/<trigger_id>/init?type=…``, then ``/exec/<module>?result=…`` per node, then
``/end?outcome=…`` (docs/misp-behaviour.md §5.14); the body is JSON whatever the content type says. One capture
per run::

    {"trigger_id": "event-publish", "for_path": "blocking", "started": "...",
     "original": <raw data at the trigger>, "normalized": <roaming data>,
     "steps": [{"path": "/exec/tag-if", "result": "success", "source": {...}, "timestamp": "...",
                "errors": [...], "data": <roaming data after the node>}, ...],
     "outcome": "blocked", "walk_result": {...}, "branch_steps": [...]}

A capture is written when its run starts (so a run that never sends ``/end``, e.g. a failed
trigger condition, can still be replayed) and rewritten when it ends; ``/exec`` posts that
arrive after ``/end`` (concurrent branches) are added as ``branch_steps``.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from misp_modules.contract.wire import dumps
from runner.errors import InputError
from runner.jsonio import read_json

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
PAGE = b"<html><body><p>misp-workflow debug listener: received</p></body></html>"


class CaptureStore:
    """Groups posts into runs, one file per run under ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._open: dict[str, dict] = {}     # trigger → capture being recorded
        self._last: dict[str, dict] = {}     # trigger → last finished capture (branch posts)
        self._count = 0
        self.written: list[Path] = []

    def receive(self, path: str, body: Any) -> str:
        """Record one POST; returns a one-line description."""
        parts = urlsplit(path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/") if s]
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if not segments:
            return "ignored: no trigger in the path"
        trigger, kind = segments[0], (segments[1] if len(segments) > 1 else "")
        with self._lock:
            if kind == "init":
                if trigger in self._open:  # the previous run never ended (e.g. trigger condition)
                    self._write(self._open.pop(trigger))
                capture = {"trigger_id": trigger, "for_path": query.get("type"), "started": _now(),
                           "original": _field(body, "original"), "normalized": _field(body, "normalized"),
                           "steps": [], "outcome": None}
                self._open[trigger] = capture
                self._write(capture)
                return f"{trigger}: run started ({query.get('type')})"
            if kind == "exec":
                step = {"path": "/" + "/".join(segments[1:]), "module": segments[2] if len(segments) > 2 else "",
                        "result": query.get("result"), **({"message": query["message"]} if "message" in query else {})}
                if isinstance(body, dict):
                    step.update({k: body[k] for k in ("source", "timestamp", "errors", "data") if k in body})
                capture = self._open.get(trigger)
                if capture is not None:
                    capture["steps"].append(step)
                    where = "run"
                else:
                    capture = self._last.get(trigger)
                    if capture is None:  # debug mode turned on mid-run, or a branch job only
                        capture = {"trigger_id": trigger, "for_path": None, "started": _now(), "original": None,
                                   "normalized": None, "steps": [], "outcome": None}
                        self._last[trigger] = capture
                    capture.setdefault("branch_steps", []).append(step)
                    self._write(capture)
                    where = "branch"
                node = step.get("source", {}).get("node_id", "") if isinstance(step.get("source"), dict) else ""
                return f"{trigger}: {where} node {node} {step['module']} → {step['result']}"
            if kind == "end":
                capture = self._open.pop(trigger, None) or {"trigger_id": trigger, "started": _now(),
                                                             "original": None, "steps": []}
                capture["outcome"] = query.get("outcome")
                capture["walk_result"] = _field(body, "data")
                capture["ended"] = _now()
                self._last[trigger] = capture
                self._write(capture)
                return f"{trigger}: run ended: {capture['outcome']}"
            return f"{trigger}: ignored {parts.path}"

    def flush(self) -> None:
        with self._lock:
            for capture in self._open.values():
                self._write(capture)

    def _write(self, capture: dict) -> None:
        path = capture.get("_file")
        if path is None:
            self._count += 1
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            path = self.directory / f"{stamp}-{_SAFE.sub('_', capture['trigger_id'])}-{self._count}.json"
            self.written.append(path)
            capture["_file"] = path
        path.write_bytes(dumps({k: v for k, v in capture.items() if k != "_file"}, indent=True))


def _field(body: Any, name: str) -> Any:
    if isinstance(body, dict):
        data = body.get("data")
        if name == "data":
            return data
        return data.get(name) if isinstance(data, dict) else None
    return None


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def make_server(host: str, port: int, store: CaptureStore, echo: Callable[[str], None] | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            try:
                line = store.receive(self.path, body)
            except Exception as exc:  # noqa: BLE001 - keep listening whatever one post holds
                log.exception("could not record %s", self.path)
                line = f"could not record {self.path}: {exc}"
            if echo:
                echo(line)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        do_GET = do_PUT = do_POST

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def load_capture(path: str) -> dict:
    """A capture written by :class:`CaptureStore`; :class:`InputError` if it is not one."""
    capture = read_json(path, "capture")
    if not isinstance(capture, dict) or "trigger_id" not in capture or "original" not in capture:
        raise InputError(f"not a debug-listener capture: {path} (expected `trigger_id` and `original`)")
    if capture["original"] is None:
        raise InputError(f"the capture {path} holds no trigger data (its run's /init was not received)")
    return capture
