"""Connection hygiene: no client can hold the server's connections, memory or file descriptors.

Tornado's ``HTTPServer`` never times a connection out by default, accepts as many as the process
has file descriptors, and when ``accept()`` fails with "too many open files" its accept handler
raises on every loop turn (the listening socket stays readable): 200 slowloris connections
stayed open for ever, and at a 256 descriptor limit 300 idle connections made ``/healthcheck``
time out and wrote 40 MB of log lines in 8 s. Here:

- **timeouts** (Tornado's own): a request's headers must arrive within ``[server] idle_timeout``
  of the connection becoming idle (keep-alive and slow headers alike), its body within
  ``body_timeout``;
- **a cap on connections** (``max_connections``, kept below the descriptor limit): at the cap,
  a new connection takes the place of the connection idle the longest (no request in progress:
  a keep-alive or a slowloris one), so MISP's next request always gets in; when every
  connection is busy with a request, the new one is answered 503 and closed;
- **a cap on request bodies in memory** (``max_bodies_in_memory``, bytes, all requests together):
  a body that does not fit is answered 503 before it is read (``Content-Length``) or dropped as
  it arrives (chunked); freed heap is given back to the system after large bodies (glibc's
  ``malloc_trim``), so a burst does not leave the process at its peak;
- **descriptor exhaustion**: ``accept()`` failing with ``EMFILE``/``ENFILE``/``ENOBUFS``/``ENOMEM``
  pauses accepting with a growing back-off (the kernel's backlog keeps the clients waiting) and
  writes one line per minute, not one per loop turn.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import resource
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from tornado import httpserver
from tornado.http1connection import HTTP1ServerConnection
from tornado.iostream import IOStream

log = logging.getLogger("misp-modules")

RESERVED_FDS = 64  # descriptors kept for everything else: module files, outbound sockets, workers
_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_BUSY_ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s")


def connection_cap(configured: int) -> int:
    """``configured``, lowered to what the descriptor limit leaves room for."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(8, min(configured, soft - RESERVED_FDS))


class Throttled:
    """One log line per ``interval`` seconds for a recurring condition, with a count."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last = -interval
        self._suppressed = 0

    def warn(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more times since the last such line)" if self._suppressed else ""
        self._last, self._suppressed = now, 0
        log.warning(message + more, *args)


class BodyBudget:
    """Bytes of request bodies held in memory, all requests together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._trim_due = False
        self._large = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        if size >= TRIM_AFTER:
            self._large += size
        return True

    def give(self, size: int) -> None:
        self.held -= size
        if self._large and self.held < TRIM_AFTER:
            self._large = 0
            if not self._trim_due:
                self._trim_due = True
                asyncio.get_running_loop().call_later(1.0, self._trim)

    def _trim(self) -> None:
        self._trim_due = False
        if self.held < TRIM_AFTER:
            release_free_memory()


TRIM_AFTER = 8 * 1024 * 1024  # bodies this large leave enough freed heap to be worth returning
_libc: Any = None


def release_free_memory() -> None:
    """Give freed heap back to the system (glibc; elsewhere nothing)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None)
        _libc.malloc_trim(0)
    except (OSError, AttributeError):
        _libc = False


class GuardedHTTPServer(httpserver.HTTPServer):
    """Tornado's ``HTTPServer`` with a connection cap, idle eviction and an accept back-off."""

    def initialize(self, *args: Any, max_connections: int = 1000, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(*args, **kwargs)
        self.max_connections = connection_cap(max_connections)
        self._order: dict[HTTP1ServerConnection, None] = {}  # oldest first
        self.busy: set[HTTP1ServerConnection] = set()  # connections with a request in progress
        self._at_cap = Throttled()
        self._exhausted = Throttled()

    # -- accepting ---------------------------------------------------------------------------

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = self._accept_with_backoff(sock)

    def _accept_with_backoff(self, sock: socket.socket) -> Callable[[], None]:
        """Tornado's accept handler, except that running out of descriptors pauses accepting."""
        loop = asyncio.get_running_loop()
        fd = sock.fileno()
        state = {"removed": False, "delay": 0.0, "timer": None}

        def accept() -> None:
            for _ in range(128):
                if state["removed"]:
                    return
                try:
                    connection, address = sock.accept()
                except BlockingIOError:
                    state["delay"] = 0.0
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as exc:
                    if exc.errno not in _EXHAUSTED:
                        raise
                    pause(exc)
                    return
                self._handle_connection(connection, address)

        def pause(exc: OSError) -> None:
            loop.remove_reader(fd)
            state["delay"] = min(1.0, max(0.05, 2 * state["delay"]))
            soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            self._exhausted.warn("Cannot accept connections: %s (descriptor limit %d, %d connections open); "
                                 "accepting again in %.0f ms", exc.strerror, soft, len(self._order),
                                 1000 * state["delay"])
            state["timer"] = loop.call_later(state["delay"], resume)

        def resume() -> None:
            state["timer"] = None
            if not state["removed"]:
                loop.add_reader(fd, accept)

        def remove() -> None:
            state["removed"] = True
            if state["timer"] is not None:
                state["timer"].cancel()
            try:
                loop.remove_reader(fd)
            except (ValueError, OSError):
                pass

        loop.add_reader(fd, accept)
        return remove

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        if len(self._order) >= self.max_connections and not self._make_room():
            self._at_cap.warn("Refusing a connection: all %d connections (server setting max_connections, "
                              "below the descriptor limit) have a request in progress", self.max_connections)
            body = b'{"error": "Server busy: too many connections with a request in progress"}'
            stream.write(_BUSY_ANSWER % (len(body), body)).add_done_callback(lambda _f: stream.close())
            return
        # Tornado's own handle_stream, keeping the order connections came in
        context = httpserver._HTTPRequestContext(stream, address, self.protocol, self.trusted_downstream)
        conn = HTTP1ServerConnection(stream, self.conn_params, context)
        self._connections.add(conn)
        self._order[conn] = None
        conn.start_serving(self)

    def _make_room(self) -> bool:
        """Close the connection idle the longest; False when every connection is busy."""
        for conn in self._order:
            if conn not in self.busy:
                del self._order[conn]
                conn.stream.close()
                return True
        return False

    def on_close(self, server_conn: object) -> None:
        self._order.pop(server_conn, None)  # type: ignore[call-overload]
        self.busy.discard(server_conn)  # type: ignore[arg-type]
        super().on_close(server_conn)  # type: ignore[arg-type]
