"""``--workers N``: N server processes on one port, started and stopped together.

Each worker binds its own listening socket with ``SO_REUSEPORT``, so the kernel spreads
connections evenly (with one shared socket, the busiest process tends to accept them all).
The parent keeps the port reserved with bound, non-listening sockets (they receive no
connections), restarts a worker that crashes, and on SIGTERM/SIGINT passes the signal on and
waits for every worker to finish its in-flight queries.

A worker never outlives the parent, even one killed with SIGKILL (which it cannot pass on):
each asks the kernel for SIGTERM when the parent dies (``PR_SET_PDEATHSIG``,
:mod:`.parent_death`), and also stops when the pipe the parent holds open reaches end-of-file
(:data:`parent_watch_fd`, watched by the worker's event loop). Otherwise the workers kept
serving on the port, and the next start failed with "address already in use".
"""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import socket
from collections.abc import Callable

import tornado.netutil

from misp_modules.server.parent_death import die_with_parent

log = logging.getLogger("misp-modules")

parent_watch_fd: int | None = None  # in a worker: end-of-file here means the parent is gone


def reserve_port(port: int, address: str) -> tuple[list[socket.socket], int]:
    """Check the port is free (a plain bind fails against any listener, SO_REUSEPORT or not),
    then hold it with SO_REUSEPORT sockets that never listen. Raises OSError like a bind."""
    probe = tornado.netutil.bind_sockets(port, address)
    port = probe[0].getsockname()[1]
    for sock in probe:
        sock.close()
    held: list[socket.socket] = []
    try:
        for family, kind, proto, _name, sockaddr in _addresses(port, address):
            sock = socket.socket(family, kind, proto)
            held.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL and sockaddr[0] == "::1":
                    held.pop().close()  # "localhost" on a host without IPv6 loopback
                    continue
                raise
    except BaseException:
        for sock in held:
            sock.close()
        raise
    return held, port


def _addresses(port: int, address: str) -> list[tuple]:
    seen, found = set(), []
    for res in sorted(socket.getaddrinfo(address or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                                         0, socket.AI_PASSIVE), key=lambda r: r[0]):
        if res not in seen:
            seen.add(res)
            found.append(res)
    return found


def worker_sockets(port: int, address: str) -> list[socket.socket]:
    """A worker's own listening sockets on the reserved port."""
    return tornado.netutil.bind_sockets(port, address, backlog=1024, reuse_port=True)


def supervise(workers: int, reserved: list[socket.socket], serve: Callable[[int, Callable[[], None]], int],
              on_ready: Callable[[], None]) -> int:
    """Fork ``workers`` processes running ``serve(slot, ready)`` (``slot``: 0..workers-1, kept by a
    restarted worker); each calls ``ready()`` once it listens, and ``on_ready`` runs in the parent
    when all have. Returns the exit code."""
    children: dict[int, int] = {}
    stopping = False
    ready_r, ready_w = os.pipe()
    alive_r, alive_w = os.pipe()  # the parent holds the write end for as long as it lives
    parent = os.getpid()

    def spawn(slot: int) -> None:
        global parent_watch_fd
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            die_with_parent(signal.SIGTERM, parent)
            os.close(alive_w)
            parent_watch_fd = alive_r
            os.close(ready_r)
            for sock in reserved:
                sock.close()
            code = 1
            try:
                code = serve(slot, lambda: _tell_ready(ready_w))
            except BaseException:  # noqa: BLE001 - a worker must never return into the parent's code
                log.exception("Worker process failed")
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = slot

    def forward(signum: int, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for slot in range(workers):
        spawn(slot)
    worst = 0
    if _wait_ready(ready_r, workers, children):
        on_ready()
    else:
        log.error("A worker process exited during startup; stopping the others")
        forward(signal.SIGTERM, None)
        worst = 1
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        slot = children.pop(pid, None)
        if slot is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            worst = max(worst, code if code > 0 else 0)
            continue
        log.error("Worker process %d exited unexpectedly (code %d); starting a new one", pid, code)
        spawn(slot)
    os.close(ready_r)
    os.close(ready_w)
    os.close(alive_r)
    os.close(alive_w)
    for sock in reserved:
        sock.close()
    return worst


def _tell_ready(fd: int) -> None:
    os.write(fd, b"1")


def _wait_ready(fd: int, count: int, children: dict[int, int]) -> bool:
    """Wait until ``count`` workers said they listen; False as soon as one dies first."""
    got = 0
    while got < count:
        readable, _, _ = select.select([fd], [], [], 0.2)
        if readable:
            got += len(os.read(fd, count - got))
            continue
        pid, _status = os.waitpid(-1, os.WNOHANG)
        if pid:
            children.pop(pid, None)
            return False
    return True
