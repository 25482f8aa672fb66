"""Run the real module server in a subprocess and talk HTTP to it.

Usage::

    with ModuleServer(custom_dir=str(tmp_path), config={"server": {"default_timeout": 5}}) as srv:
        status, answer = srv.query({"module": "trivial"})

The server binds a free port (``-p 0``) on 127.0.0.1; the harness reads the port from its
startup line (``MISP modules server started on 127.0.0.1:<port>``), so there is no sleep and no
fixed port. The subprocess runs the working copy (the repository root is put first on
``PYTHONPATH``), and everything it logs is kept for :meth:`ModuleServer.logs`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.data import REPO_ROOT  # noqa: E402  (re-exported)

READY = re.compile(r"MISP modules server started on (\S+):(\d+)")
START_TIMEOUT = 30.0


class ServerFailed(RuntimeError):
    """The server exited (or never became ready); the message carries its log."""


def server_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server subprocess: the working copy first on the import path."""
    # The developer's own deployment settings must never leak into a test server (a real
    # MISP_KEY would let write-back modules reach a real MISP): tests pass what they need.
    merged = {k: v for k, v in os.environ.items()
              if k not in ("MISP_MODULES_CONFIG", "MISP_URL", "MISP_KEY", "MISP_VERIFY_TLS")
              and not k.upper().startswith("MISP_MODULES__")}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), merged.get("PYTHONPATH")]))
    merged["PYTHONUNBUFFERED"] = "1"
    merged.update(env or {})
    return merged


def run_server_command(args: Sequence[str], *, env: Mapping[str, str] | None = None,
                       timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python -m misp_modules ARGS`` to completion (for ``-t`` and startup failures)."""
    return subprocess.run([sys.executable, "-m", "misp_modules", *args], cwd=REPO_ROOT,
                          env=server_env(env), capture_output=True, text=True, timeout=timeout)


def to_toml(config: Mapping[str, Any]) -> str:
    """Just enough TOML for server configs: nested tables of strings, numbers, booleans, lists."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, Mapping):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(f"cannot write {type(v).__name__} to TOML")

    def table(prefix: list[str], data: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
        tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
        if prefix and (scalars or not tables):
            lines.append("[" + ".".join(json.dumps(p) for p in prefix) + "]")
        for k, v in scalars.items():
            lines.append(f"{json.dumps(str(k))} = {value(v)}")
        for k, v in tables.items():
            table(prefix + [str(k)], v)

    table([], config)
    return "\n".join(lines) + "\n"


class ModuleServer:
    """A running ``misp-modules`` subprocess (context manager; always stopped on exit).
    ``prefix``: a command the server runs under (``prlimit --nofile=256 --``)."""

    def __init__(self, *, custom_dir: str | None = None, config: dict | None = None,
                 config_path: str | None = None, env: dict | None = None,
                 extra_args: Sequence[str] = (), prefix: Sequence[str] = ()) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mm-server-")
        args = ["-p", "0", "-l", "127.0.0.1"]
        if custom_dir is not None:
            args += ["-c", str(custom_dir)]
        if config is not None:
            config_path = os.path.join(self._tmp.name, "config.toml")
            Path(config_path).write_text(to_toml(config))
        if config_path is not None:
            args += ["--config", str(config_path)]
        args += list(extra_args)
        self.args = args
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._new_line = threading.Condition(self._lock)
        self._eof = False
        self._ready = threading.Event()
        self.port = 0
        self.url = ""
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "misp_modules", *args], cwd=REPO_ROOT, env=server_env(env),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            encoding="utf-8", errors="replace", bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._new_line:
                self._lines.append(line)
                self._new_line.notify_all()
            if not self._ready.is_set():
                match = READY.search(line)
                if match:
                    self.port = int(match.group(2))
                    self.url = f"http://127.0.0.1:{self.port}"
                    self._ready.set()
        with self._new_line:
            self._eof = True
            self._new_line.notify_all()
        self._ready.set()  # EOF: wake the waiter, which then sees the process is gone

    def _wait_ready(self) -> None:
        if not self._ready.wait(START_TIMEOUT):
            raise ServerFailed(f"server not ready within {START_TIMEOUT:g}s:\n{self.logs()}")
        if not self.port:
            self.proc.wait(10)
            raise ServerFailed(f"server exited with code {self.proc.returncode} before it was ready:\n{self.logs()}")

    # -- HTTP -------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        """One HTTP exchange on a fresh connection: ``(status, headers, body)``."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def query(self, payload: dict | bytes, timeout: float = 30) -> tuple[int, Any]:
        """POST /query; ``(status, decoded JSON)`` (the raw text if the answer is not JSON)."""
        body = payload if isinstance(payload, (bytes, bytearray)) else json.dumps(payload).encode()
        status, _headers, data = self.request("POST", "/query", bytes(body),
                                              {"Content-Type": "application/json"}, timeout)
        return status, _decode(data)

    def get(self, path: str, timeout: float = 30) -> tuple[int, Any]:
        status, _headers, data = self.request("GET", path, timeout=timeout)
        return status, _decode(data)

    def modules(self) -> list[dict]:
        status, answer = self.get("/modules")
        if status != 200:
            raise ServerFailed(f"GET /modules answered {status}: {answer!r}")
        return answer

    # -- process ----------------------------------------------------------------------------

    def logs(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def wait_for_log(self, pattern: str, timeout: float = 10, count: int = 1) -> re.Match:
        """Block until ``count`` log matches of ``pattern`` (regex) exist, woken by each new
        line; for events that leave no HTTP trace (a module started, shutdown, late failures).
        Returns the last match."""
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._new_line:
            while True:
                matches = list(regex.finditer("".join(self._lines)))
                if len(matches) >= count:
                    return matches[-1]
                left = end - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(f"no log line matching {pattern!r} within {timeout}s:\n{self.logs()}")
                self._new_line.wait(left)

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def terminate(self) -> None:
        """Send SIGTERM (graceful shutdown) without waiting."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._tmp.cleanup()

    def __enter__(self) -> ModuleServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Background:
    """Queries sent from threads; their answers (or errors) are collected for later checks."""

    def __init__(self, server, payloads: list[dict]) -> None:
        self.results: list[Any] = [None] * len(payloads)
        self.threads = [threading.Thread(target=self._run, args=(server, i, p), daemon=True)
                        for i, p in enumerate(payloads)]
        for thread in self.threads:
            thread.start()

    def _run(self, server, index: int, payload: dict) -> None:
        try:
            self.results[index] = server.query(payload, timeout=60)
        except OSError as exc:  # the server went away (test teardown)
            self.results[index] = exc

    def join(self, timeout: float = 30) -> list[Any]:
        for thread in self.threads:
            thread.join(timeout)
        return self.results


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
