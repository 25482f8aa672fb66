"""A ZeroMQ publisher speaking MISP's feed format, on a free 127.0.0.1 port.

What MISP's own publisher (``mispzmq.py``, MISP v2.5.1) does on the wire, checked against
frames captured from it (tests/data/zmq/README.md): each message is one frame
``<topic> <JSON>``; with a username the socket is a PLAIN server (``plain_server`` set
before bind) and a ZAP authenticator thread checks ``{username: password}``; after 10 s
without data it sends ``misp_json_self {"status": ..., "uptime": ...}``.

It binds an XPUB socket rather than a PUB: subscribers see no difference (XPUB sends exactly
as PUB does), and the test sees each subscription arrive, so it can wait for the subscriber
instead of sleeping (ZeroMQ drops what a PUB sends before the subscription is known).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator

STATUS_MESSAGES = ("And when you're dead I will be still alive.", "And believe me I am still alive.")


class FeedPublisher:
    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.context = zmq.Context()
        self.auth = None
        if username:
            self.auth = ThreadAuthenticator(self.context)
            self.auth.start()
            self.auth.configure_plain(domain="*", passwords={username: password or ""})
        self.socket = self.context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.XPUB_VERBOSE, 1)
        if username:
            self.socket.plain_server = True  # before bind, as mispzmq.py does
        self.port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.started = time.time()
        self.sent: list[bytes] = []
        self.subscriptions: set[bytes] = set()
        self._lock = threading.Lock()

    def wait_subscribed(self, topics: Iterable[str] = ("misp_json_event",), timeout: float = 30.0) -> None:
        """Block until a subscriber has subscribed to every topic (or fail after ``timeout``)."""
        wanted = {t.encode() for t in topics}
        deadline = time.monotonic() + timeout
        while not wanted <= self.subscriptions:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no subscriber for {sorted(wanted - self.subscriptions)} within {timeout}s")
            with self._lock:
                if self.socket.poll(int(min(left, 0.5) * 1000), zmq.POLLIN):
                    message = self.socket.recv()
                    if message[:1] == b"\x01":
                        self.subscriptions.add(message[1:])
                    elif message[:1] == b"\x00":
                        self.subscriptions.discard(message[1:])

    def publish(self, topic: str, message: Any) -> bytes:
        """Send ``<topic> <JSON>`` (``message`` bytes are sent as they are)."""
        payload = message if isinstance(message, (bytes, bytearray)) else json.dumps(message).encode()
        frame = topic.encode() + b" " + bytes(payload)
        with self._lock:
            self.socket.send(frame)
            self.sent.append(frame)
        return frame

    def status(self) -> bytes:
        uptime = int(time.time() - self.started)
        return self.publish("misp_json_self", {"status": STATUS_MESSAGES[uptime // 10 % 2], "uptime": uptime})

    def close(self) -> None:
        with self._lock:
            self.socket.close()
        if self.auth is not None:
            self.auth.stop()
        self.context.term()

    def __enter__(self) -> FeedPublisher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
