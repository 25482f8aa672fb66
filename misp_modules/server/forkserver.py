"""The module worker processes' side: a fork server, and the loop each worker runs.

Code that can hold the GIL (a catastrophic regex in C, a big-integer computation), call
``os._exit``, crash the interpreter or leak memory cannot be made harmless by a thread: only
another process can. So modules with ``isolation = "process"`` run in worker processes, one
query at a time each, killed and replaced when a query passes its timeout or its worker's
memory limit (:mod:`.process_pool` is the event loop's side).

Workers are forked, not spawned: every module is already imported in the server, and a fork
shares those pages instead of importing 250 modules again. But forking the server itself once
its event loop, its module threads and uvloop's are running is unsafe (a lock held by another
thread stays held in the child forever). So right after the modules are loaded, while the
process is still single-threaded, the server forks this **fork server**: a single-threaded
process that only waits for "a worker for module X" on a ``SOCK_SEQPACKET`` socket, forks one,
and hands the server its end of a fresh socket pair (``SCM_RIGHTS``). It reaps its children and
tells the server how each ended (exit code or signal), for the log.

Nobody outlives the server: the fork server and each worker ask for ``SIGKILL`` when their
parent dies (:mod:`.parent_death`), and also exit on end-of-file from their socket.

The protocol on a worker's socket: frames of an 8-byte big-endian length and a payload. The
server sends the request body as received (the worker decodes it); the worker answers a fixed
header (:data:`REPLY`: outcome, module error flag, handler time, its RSS after the query) and
the serialised answer, or an error text. The answer is serialised in the worker, so the loop
only ever copies bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import socket
import struct
from collections.abc import Iterable

import orjson

from misp_modules.lib.redact import redact, request_secrets
from misp_modules.server import answers
from misp_modules.server.loader import LoadedModule, Registry
from misp_modules.server.parent_death import die_with_parent

log = logging.getLogger("misp-modules")

LENGTH = struct.Struct(">Q")
REPLY = struct.Struct(">BBdQ")  # outcome, module_error, took (s), rss (bytes)
OK, FAILED, NOT_SERIALISABLE = 0, 1, 2
SPAWNED = struct.Struct(">ci")  # b"S", pid (with the worker's socket as SCM_RIGHTS)
ENDED = struct.Struct(">cii")  # b"D", pid, wait status
_PAGE = os.sysconf("SC_PAGE_SIZE")


class ForkServer:
    """The server's handle on its fork server (created before the event loop starts)."""

    def __init__(self, pid: int, control: socket.socket) -> None:
        self.pid = pid
        self.control = control

    @classmethod
    def start(cls, registry: Registry, close: Iterable[socket.socket] = ()) -> ForkServer:
        """Fork the fork server now (the caller must still be single-threaded); ``close``: the
        listening sockets, which neither it nor the workers may hold."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ours.close()
                for sock in close:
                    sock.close()
                die_with_parent(signal.SIGKILL, parent)
                _serve_forks(registry, theirs)
                code = 0
            except BaseException:  # noqa: BLE001 - never return into the server's code
                log.exception("The module fork server failed")
            finally:
                os._exit(code)
        theirs.close()
        ours.setblocking(False)
        return cls(pid, ours)

    def close(self) -> None:
        """Stop it: end-of-file on its socket makes it exit (and its workers get SIGKILL)."""
        self.control.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _serve_forks(registry: Registry, control: socket.socket) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the server's to handle
    me = os.getpid()
    while True:
        readable, _, _ = select.select([control], [], [], 0.2)
        _reap(control)
        if not readable:
            continue
        name = control.recv(65536)
        if not name:
            return  # the server closed its end: it is stopping or gone
        module = registry.modules.get(name.decode())
        if module is None:
            continue
        server_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                control.close()
                server_end.close()
                die_with_parent(signal.SIGKILL, me)
                serve_queries(module, worker_end)
                code = 0
            except BaseException:  # noqa: BLE001
                log.exception("Worker process of module %s failed", module.name)
            finally:
                os._exit(code)
        worker_end.close()
        try:
            socket.send_fds(control, [SPAWNED.pack(b"S", pid)], [server_end.fileno()])
        except OSError:
            return
        finally:
            server_end.close()


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return
        try:
            control.send(ENDED.pack(b"D", pid, status))
        except OSError:
            return


# -- in a worker process ---------------------------------------------------------------------

def serve_queries(module: LoadedModule, sock: socket.socket) -> None:
    """A worker's life: read a request, run the handler, answer; until end-of-file."""
    from misp_modules.server import dispatch

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    dispatch.mark_worker_process(module.name)
    loop = asyncio.new_event_loop() if module.is_async else None
    reader = sock.makefile("rb", buffering=0)
    while True:
        raw = _read_frame(reader)
        if raw is None:
            return
        reply, body = run_one(module, raw, loop)
        _send_frame(sock, reply, body)


def run_one(module: LoadedModule, raw: bytes, loop: asyncio.AbstractEventLoop | None) -> tuple[bytes, bytes]:
    """One query in this worker: the reply header and the answer (or error text)."""
    from misp_modules.server.dispatch import Call

    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # the server checked it; cannot happen
        return REPLY.pack(FAILED, 0, 0.0, _rss()), f"ValueError: {exc}".encode()
    call = Call(module, request, raw, _no_end)
    if loop is None:
        call.run()
    else:
        try:
            loop.run_until_complete(call.run_async())
        except BaseException as exc:  # noqa: BLE001 - as call.run(): the module never ends the worker
            call.error = exc
    took = call.took or 0.0
    if call.body is not None:
        return REPLY.pack(OK, call.module_error, took, _rss()), call.body
    exc = call.error
    if isinstance(exc, answers.NotSerialisable):
        return REPLY.pack(NOT_SERIALISABLE, 0, took, _rss()), str(exc).encode("utf-8", "replace")
    secrets = request_secrets(request, module.secret_params)
    log.error("Something went wrong when processing query request (module %s)", module.name,
              exc_info=exc, extra={"secrets": secrets})
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)
    return REPLY.pack(FAILED, 0, took, _rss()), detail.encode("utf-8", "replace")


def _no_end(_call: object, _ended: bool) -> None:
    return None


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _read_frame(reader) -> bytes | None:
    header = _read_exactly(reader, LENGTH.size)
    if header is None:
        return None
    return _read_exactly(reader, LENGTH.unpack(header)[0])


def _read_exactly(reader, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = reader.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _send_frame(sock: socket.socket, header: bytes, body: bytes) -> None:
    try:
        sock.sendall(LENGTH.pack(len(header) + len(body)) + header)
        sock.sendall(body)
    except OSError:  # the server stopped waiting (it kills us next) or is gone
        os._exit(0)
