"""The automation service's test harness: a real ``redis-server`` and ``misp-workflow serve``
in subprocesses, on free 127.0.0.1 ports, always stopped.

``RedisServer`` runs Debian's ``redis-server`` with the durability the service's docs ask for
(``appendonly yes``, ``appendfsync always``) in a temporary folder, and can be killed
(SIGKILL) and started again on the same data. ``ServiceProcess`` reads the service's startup
lines (``API on http://127.0.0.1:<port>``, ``ready``) instead of sleeping, and keeps its log.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.support.harness import REPO_ROOT, server_env, to_toml

TOKEN = "test-token-0123456789abcdef"  # an [api] token (at least 16 characters)
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
               interval: float = 0.02) -> Any:
    """Poll ``condition`` until it returns something truthy (returned), or fail after ``timeout``
    seconds: for states only observable by asking (a row in the history, a key in Redis)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout}s (last value {value!r})")
        time.sleep(interval)


class _Lines:
    """Lines of a subprocess's output, kept, and waited on."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.eof = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.eof = True
            self._cond.notify_all()

    def text(self) -> str:
        with self._cond:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float, count: int = 1) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = list(regex.finditer("".join(self.lines)))
                if len(found) >= count:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{''.join(self.lines)}")
                self._cond.wait(left)

    def join(self, timeout: float = 5) -> None:
        self._thread.join(timeout)


class RedisServer:
    """``redis-server`` on a free port, AOF with fsync on every write, data in a temp folder."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mw-redis-")
        self.dir = self._tmp.name
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        for _attempt in range(5):
            port = self.port or free_port()
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", self.dir,
                 "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes",
                 "--daemonize", "no", "--loglevel", "notice"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.lines = _Lines(self.proc.stdout)
            try:
                self.lines.wait_for(r"Ready to accept connections", 30)
                self.port = port
                return
            except AssertionError:
                self.proc.kill()
                self.proc.wait(5)
                if "Address already in use" not in self.lines.text() or self.port:
                    raise
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown save, only what the AOF already holds survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc is not None and self.proc.stdout is not None:
            self.lines.join()
            self.proc.stdout.close()

    def stop(self) -> None:
        self.kill()
        self._tmp.cleanup()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def write_config(folder: Path, config: Mapping[str, Any]) -> Path:
    path = folder / "automation.toml"
    path.write_text(to_toml(config))
    return path


class ServiceProcess:
    """``misp-workflow serve`` in a subprocess (context manager; stopped on exit)."""

    def __init__(self, config_path: Path | str, *args: str, env: Mapping[str, str] | None = None,
                 wait_ready: bool = True) -> None:
        self.args = ["serve", "--config", str(config_path), *args]
        if "--role" not in args or "worker" not in args:
            self.args += ["--port", "0"] if "--port" not in args else []
        self.proc = subprocess.Popen([sys.executable, "-m", "runner.cli", *self.args], cwd=REPO_ROOT,
                                     env=server_env(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace")
        self.lines = _Lines(self.proc.stdout)
        self.port = 0
        if wait_ready:
            try:
                self.wait_ready()
            except BaseException:
                self.stop()
                raise

    def wait_ready(self) -> None:
        self.lines.wait_for(r"misp-workflow serve: ready", START_TIMEOUT)
        found = re.search(r"(?:API|metrics) on http://127\.0\.0\.1:(\d+)", self.lines.text())
        self.port = int(found.group(1)) if found else 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def logs(self) -> str:
        return self.lines.text()

    def wait_for_log(self, pattern: str, timeout: float = 30, count: int = 1) -> re.Match:
        return self.lines.wait_for(pattern, timeout, count)

    def request(self, method: str, path: str, body: Any = None, token: str | None = TOKEN,
                timeout: float = 30) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode("utf-8", "replace")

    def run_done(self, run_id: str, timeout: float = 60) -> dict:
        """Wait for the run to be in the history (through the API) and return it."""
        def done() -> Any:
            status, body = self.request("GET", f"/api/runs/{run_id}")
            return body if status == 200 and body.get("finished_at") else None
        return wait_until(done, timeout, f"run {run_id} finished")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(15)

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self.lines.join()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.lines.join()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
