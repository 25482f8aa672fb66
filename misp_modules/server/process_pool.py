"""The event loop's side of process isolation: each ``isolation = "process"`` module's pool of
worker processes (forked by :mod:`.forkserver`).

A module's pool has at most ``concurrency`` workers, each running one query at a time; they
are forked on first need, so a module never queried costs no process, and a worker idle for
``[server] worker_idle_timeout`` is stopped. Everything here is non-blocking: a request is
handed to a worker with one ``sendmsg`` (the rest when the socket drains), the answer is read
when the socket is readable, and the loop never runs module code or serialises an answer.

A worker is killed and replaced (the next query forks a new one) when:

- its query passes its deadline: the query is answered "Timeout" and the slot is free at once
  (a thread could only be abandoned, still holding its slot);
- it goes past its memory limit (``[server] worker_memory_limit``, ``[modules.<name>]
  memory_limit``, in MB): checked after each query from the RSS the worker reports, and every
  second for busy workers with psutil; a query that takes it past the limit is answered with an
  error;
- it dies (``os._exit``, a segfault, the OOM killer): its query is answered with an error, the
  log says how it ended.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import psutil

from misp_modules.server import forkserver
from misp_modules.server.forkserver import ENDED, LENGTH, REPLY, SPAWNED, ForkServer

if TYPE_CHECKING:
    from misp_modules.server.dispatch import Call

log = logging.getLogger("misp-modules")

MONITOR_INTERVAL = 1.0  # s between two looks at the busy workers' memory and the idle ones' age
_READ = 1 << 18


class WorkerFailed(Exception):
    """A worker process could not answer its query (it died, or went past its memory limit), or
    the module raised there (``logged``: the worker logged the traceback, redacted)."""

    def __init__(self, message: str, logged: bool = False) -> None:
        super().__init__(message)
        self.logged = logged


class Spawner:
    """Asks the fork server for workers and hands each to the pool that asked, in order."""

    def __init__(self, fork: ForkServer, loop: asyncio.AbstractEventLoop) -> None:
        self.fork = fork
        self.loop = loop
        self.broken = False
        self._waiting: collections.deque[Callable[[int, socket.socket | None], None]] = collections.deque()
        self.names: dict[int, str] = {}  # live workers' pids -> module, for the log
        self.killed: set[int] = set()  # pids the server stopped itself (no warning when they end)
        loop.add_reader(fork.control.fileno(), self._readable)

    def spawn(self, name: str, ready: Callable[[int, socket.socket | None], None]) -> None:
        """Fork a worker for module ``name``; ``ready(pid, sock)`` runs on the loop once it exists
        (``sock`` None: the fork server is gone)."""
        if self.broken:
            self.loop.call_soon(ready, 0, None)
            return
        try:
            self.fork.control.send(name.encode())
        except OSError:
            self._lost()
            self.loop.call_soon(ready, 0, None)
            return
        self._waiting.append(ready)

    def _readable(self) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.fork.control, 64, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            if not data:
                self._lost()
                return
            if data[:1] == b"S":
                _tag, pid = SPAWNED.unpack(data)
                sock = socket.socket(fileno=fds[0])
                ready = self._waiting.popleft()
                ready(pid, sock)
            elif data[:1] == b"D":
                _tag, pid, status = ENDED.unpack(data)
                self._ended(pid, status)

    def _ended(self, pid: int, status: int) -> None:
        name = self.names.pop(pid, "?")
        if pid in self.killed:
            self.killed.discard(pid)
            return
        if os.WIFSIGNALED(status):
            how = f"was killed by signal {os.WTERMSIG(status)} ({signal.Signals(os.WTERMSIG(status)).name})"
        else:
            how = f"exited with code {os.waitstatus_to_exitcode(status)}"
        log.warning("Worker process %d of module %s %s", pid, name, how)

    def _lost(self) -> None:
        if self.broken:
            return
        self.broken = True
        log.error("The module fork server is gone: modules with isolation = \"process\" cannot run "
                  "until the server restarts")
        try:
            self.loop.remove_reader(self.fork.control.fileno())
        except (ValueError, OSError):
            pass
        while self._waiting:
            self.loop.call_soon(self._waiting.popleft(), 0, None)

    def kill(self, pid: int) -> None:
        self.killed.add(pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        try:
            self.loop.remove_reader(self.fork.control.fileno())
        except (ValueError, OSError):
            pass
        self.fork.close()


class Worker:
    """One worker process, seen from the loop: its socket, its query, what it has sent so far."""

    __slots__ = ("pool", "pid", "sock", "fd", "call", "inbox", "outbox", "idle_since", "writing")

    def __init__(self, pool: WorkerPool, pid: int, sock: socket.socket) -> None:
        self.pool = pool
        self.pid = pid
        self.sock = sock
        self.fd = sock.fileno()
        sock.setblocking(False)
        self.call: Call | None = None
        self.inbox = bytearray()
        self.outbox: list[memoryview] = []
        self.idle_since = time.monotonic()
        self.writing = False
        pool.loop.add_reader(self.fd, self._readable)

    def run(self, call: Call) -> None:
        self.call = call
        raw = call.raw_body()
        self.outbox = [memoryview(LENGTH.pack(len(raw))), memoryview(raw)]
        self._flush()

    def _flush(self) -> None:
        outbox = self.outbox
        while outbox:
            try:
                sent = self.sock.sendmsg(outbox)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                outbox.clear()  # it died: end-of-file on the reading side says so
                break
            while sent and outbox:
                if sent >= len(outbox[0]):
                    sent -= len(outbox.pop(0))
                else:
                    outbox[0] = outbox[0][sent:]
                    sent = 0
        if outbox and not self.writing:
            self.writing = True
            self.pool.loop.add_writer(self.fd, self._flush)
        elif not outbox and self.writing:
            self.writing = False
            self.pool.loop.remove_writer(self.fd)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.pool.died(self)
            return
        inbox = self.inbox
        inbox += data
        if len(inbox) < LENGTH.size:
            return
        size = LENGTH.unpack_from(inbox)[0]
        if len(inbox) < LENGTH.size + size:
            return
        header = bytes(inbox[LENGTH.size:LENGTH.size + REPLY.size])
        body = bytes(inbox[LENGTH.size + REPLY.size:LENGTH.size + size])
        del inbox[:LENGTH.size + size]
        self.pool.answered(self, header, body)

    def close(self) -> None:
        """Stop watching the socket and close it (the process gets end-of-file, or was killed)."""
        loop = self.pool.loop
        try:
            loop.remove_reader(self.fd)
            if self.writing:
                loop.remove_writer(self.fd)
        except (ValueError, OSError):
            pass
        self.sock.close()


class WorkerPool:
    """One module's worker processes: at most ``limit``, one query each."""

    def __init__(self, name: str, spawner: Spawner | None, limit: int, memory_limit: int,
                 idle_timeout: float, settle: Callable[[Call], None]) -> None:
        self.name = name
        self.spawner = spawner
        self.loop = spawner.loop if spawner is not None else None
        self.limit = limit
        self.memory_limit = memory_limit  # bytes
        self.idle_timeout = idle_timeout
        self._settle = settle
        self.workers: dict[int, Worker] = {}
        self.idle: list[Worker] = []
        self.starting = 0
        self.waiting: collections.deque[Call] = collections.deque()

    def submit(self, call: Call) -> None:
        """Run ``call`` in an idle worker, or in the next one that is free or forked."""
        if self.spawner is None:
            call.error = WorkerFailed("module worker processes are not available in this process")
            self.loop_soon(call)
            return
        while self.idle:
            worker = self.idle.pop()
            if worker.pid in self.workers:
                worker.run(call)
                return
        self.waiting.append(call)
        if len(self.workers) + self.starting < self.limit:
            self.starting += 1
            self.spawner.spawn(self.name, self._spawned)

    def loop_soon(self, call: Call) -> None:
        asyncio.get_running_loop().call_soon(self._settle, call)

    def _spawned(self, pid: int, sock: socket.socket | None) -> None:
        self.starting -= 1
        if sock is None:  # the fork server is gone
            while self.waiting:
                call = self.waiting.popleft()
                call.error = WorkerFailed("no worker process could be started (the fork server is gone)")
                self._settle(call)
            return
        self.spawner.names[pid] = self.name  # type: ignore[union-attr]
        worker = Worker(self, pid, sock)
        self.workers[pid] = worker
        self._next(worker)

    def _next(self, worker: Worker) -> None:
        while self.waiting:
            call = self.waiting.popleft()
            if not call.concluded:
                worker.run(call)
                return
        worker.idle_since = time.monotonic()
        self.idle.append(worker)

    def answered(self, worker: Worker, header: bytes, body: bytes) -> None:
        call = worker.call
        worker.call = None
        outcome, module_error, took, rss = REPLY.unpack(header)
        if call is None:
            return
        call.took = took
        if call.started is None:
            call.started = time.perf_counter() - took
        if outcome == forkserver.OK:
            call.body = body
            call.module_error = bool(module_error)
        elif outcome == forkserver.NOT_SERIALISABLE:
            from misp_modules.server.answers import NotSerialisable

            call.error = NotSerialisable(body.decode("utf-8", "replace"))
        else:
            call.error = WorkerFailed(body.decode("utf-8", "replace"), logged=True)
        if rss > self.memory_limit:
            log.info("Module %s: worker process %d uses %d MB, above its memory limit (%d MB): replaced",
                     self.name, worker.pid, rss >> 20, self.memory_limit >> 20)
            self._remove(worker, kill=True)
        else:
            self._next(worker)
        self._settle(call)

    def died(self, worker: Worker) -> None:
        """End-of-file from a worker: it is gone (its exit status is logged by the spawner)."""
        self._remove(worker, kill=False)
        call = worker.call
        if call is not None:
            worker.call = None
            call.error = WorkerFailed("its worker process died while running the query (os._exit, a crash "
                                      "or a kill; the server log says how it ended)")
            self._settle(call)
        self._refill()

    def abort(self, call: Call) -> bool:
        """``call``'s query gave up (its deadline): kill the worker running it. True when the call
        held a worker (or waited for one) and so its slot is free now."""
        for worker in self.workers.values():
            if worker.call is call:
                worker.call = None
                log.warning("Module %s: worker process %d stopped (its query passed its deadline)",
                            self.name, worker.pid)
                self._remove(worker, kill=True)
                self._refill()
                return True
        try:
            self.waiting.remove(call)
            return True
        except ValueError:
            return False

    def _refill(self) -> None:
        """Queries wait for a worker and fewer are coming than they need: fork more."""
        while self.waiting and len(self.workers) + self.starting < min(self.limit, len(self.waiting) + len(self.workers)):
            self.starting += 1
            self.spawner.spawn(self.name, self._spawned)  # type: ignore[union-attr]

    def _remove(self, worker: Worker, kill: bool) -> None:
        if self.workers.pop(worker.pid, None) is None:
            return
        if worker in self.idle:
            self.idle.remove(worker)
        if kill:
            self.spawner.kill(worker.pid)  # type: ignore[union-attr]
        worker.close()

    def check(self, now: float) -> None:
        """Every ``MONITOR_INTERVAL``: busy workers above their memory limit are killed (their
        query answered with an error), workers idle for too long are stopped."""
        for worker in list(self.workers.values()):
            if worker.call is None:
                if now - worker.idle_since > self.idle_timeout:
                    self._remove(worker, kill=True)
                continue
            try:
                rss = psutil.Process(worker.pid).memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            if rss > self.memory_limit:
                call = worker.call
                worker.call = None
                log.warning("Module %s: worker process %d stopped: it used %d MB, above its memory limit "
                            "(%d MB)", self.name, worker.pid, rss >> 20, self.memory_limit >> 20)
                self._remove(worker, kill=True)
                call.error = WorkerFailed(f"its worker process went past its memory limit ({self.memory_limit >> 20} "
                                          f"MB, [modules.{self.name}] memory_limit or [server] worker_memory_limit)")
                self._settle(call)
                self._refill()

    def shutdown(self) -> None:
        for worker in list(self.workers.values()):
            self._remove(worker, kill=worker.call is not None)
