"""The ZeroMQ ingester: one subscription to MISP's feed, every message made durable on arrival.

MISP's publisher (``mispzmq.py``) binds a PUB socket and sends ``<topic> <JSON>`` frames,
optionally behind ZeroMQ's PLAIN mechanism (``Plugin.ZeroMQ_username`` / ``_password``:
here ``[feed] username`` / ``password``). After 10 s without data it sends a
``misp_json_self`` status (``{"status": ..., "uptime": ...}``), which is how the ingester
knows the feed is alive while MISP is quiet; a socket monitor reports connections and
authentication failures. Captured frames of MISP's own publisher: tests/data/zmq/.

Each message is parsed (:mod:`.feedmap`) and becomes one task per bound workflow, put on the
queue before the next message is read; a message that cannot be a trigger's data (not JSON,
not the topic's object, too large) is logged and kept in the dead letters, and the ingester
goes on. When the queue is unreachable the ingester holds the message and retries; ZeroMQ
buffers what arrives meanwhile, up to ``[feed] receive_hwm`` messages.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from runner.service.feedmap import SELF_TOPIC, FeedMessageInvalid

if TYPE_CHECKING:  # pragma: no cover
    from runner.service.app import Service

log = logging.getLogger("misp-workflow.service")


class FeedIngester:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.config = service.config.feed
        self.last_message_at: float | None = None
        self.last_status: dict[str, Any] | None = None
        self.connected = False
        self.auth_failed = False
        self.messages = 0
        self.rejected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def health(self) -> dict[str, Any]:
        age = None if self.last_message_at is None else round(time.time() - self.last_message_at, 3)
        alive = age is not None and age < self.config.silence_alarm
        from misp_modules.lib.http import public_url

        return {"url": public_url(self.config.url or ""), "connected": self.connected, "alive": alive,
                "last_message_age_s": age, "last_status": self.last_status, "auth_failed": self.auth_failed,
                "messages": self.messages, "rejected": self.rejected}

    # -- the loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        import zmq
        from zmq.utils.monitor import recv_monitor_message

        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, self.config.receive_hwm)
        if self.config.username:
            sock.plain_username = self.config.username.encode()
            sock.plain_password = (self.config.password or "").encode()
        monitor = sock.get_monitor_socket()
        sock.connect(self.config.url)
        for topic in (*self.config.topics, SELF_TOPIC):
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        log.info("feed: subscribed to %s (%s)", self.health()["url"], ", ".join(self.config.topics))
        try:
            while not self._stop.is_set():
                events = dict(poller.poll(500))
                if monitor in events:
                    self._monitor(recv_monitor_message(monitor))
                if sock in events:
                    self._one(sock.recv())
                self.service.metrics.feed_connected.set(1 if self.health()["alive"] else 0)
        finally:
            sock.disable_monitor()
            monitor.close()
            sock.close()

    def _monitor(self, event: dict) -> None:
        import zmq

        kind = event.get("event")
        if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.connected, self.auth_failed = True, False
            log.info("feed: connected to %s", self.health()["url"])
        elif kind == zmq.EVENT_DISCONNECTED:
            self.connected = False
            log.warning("feed: disconnected from %s", self.health()["url"])
        elif kind == getattr(zmq, "EVENT_HANDSHAKE_FAILED_AUTH", -1):
            self.connected, self.auth_failed = False, True
            log.error("feed: MISP refused the ZeroMQ credentials ([feed] username / password)")

    def _one(self, frame: bytes) -> None:
        svc = self.service
        now = time.time()
        self.last_message_at = now
        svc.metrics.feed_last.set(now)
        self.messages += 1
        topic_bytes, _, payload = frame.partition(b" ")
        topic = topic_bytes.decode("utf-8", "replace")
        if topic == SELF_TOPIC:
            try:
                status = orjson.loads(payload)
                self.last_status = status if isinstance(status, dict) else {"status": status}
            except orjson.JSONDecodeError:
                self.last_status = {"status": payload[:200].decode("utf-8", "replace")}
            svc.metrics.feed.labels(topic, "status").inc()
            return
        failures = 0
        while not self._stop.is_set():
            try:
                queued, duplicates = svc.intake.feed_message(topic, payload)
                svc.metrics.feed.labels(topic, "queued" if queued else "duplicate" if duplicates else "no-run").inc()
                return
            except FeedMessageInvalid as exc:
                self.rejected += 1
                svc.metrics.feed.labels(topic, "invalid").inc()
                log.warning("feed: skipped a %s message (%d bytes): %s", topic, len(payload), exc)
                self._keep_rejected(payload, f"{topic}: {exc}", topic)
                return
            except Exception as exc:  # noqa: BLE001 - the queue is down: hold the message, retry
                failures += 1
                log.warning("feed: cannot queue a %s message yet (%s: %s); retrying", topic, type(exc).__name__, exc)
                self._stop.wait(min(5.0, 0.1 * 2 ** min(failures, 6)))

    def _keep_rejected(self, payload: bytes, error: str, topic: str) -> None:
        try:
            self.service.backend.reject(payload, error, f"feed:{topic}")
        except Exception as exc:  # noqa: BLE001 - keeping a bad message must not stop the feed
            log.warning("feed: could not keep the rejected message: %s", type(exc).__name__)
