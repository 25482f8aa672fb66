"""Prometheus metrics of one service process (prometheus-client), served at ``/metrics``.

Counters and histograms count what this process did; the queue gauges are read from the
backend at scrape time, so every process reports the same, shared depth.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

PREFIX = "misp_workflow"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class _QueueCollector:
    def __init__(self, depth: Callable[[], dict[str, int]]) -> None:
        self.depth = depth

    def collect(self):
        family = GaugeMetricFamily(f"{PREFIX}_queue_depth", "Tasks on the queue by state", labels=["state"])
        dead = GaugeMetricFamily(f"{PREFIX}_dead_letters", "Tasks and messages in the dead letters")
        try:
            depth = self.depth()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the backend is down
            return
        for state in ("queued", "delayed", "running"):
            family.add_metric([state], depth.get(state, 0))
        dead.add_metric([], depth.get("dead", 0))
        yield family
        yield dead


class Metrics:
    def __init__(self, depth: Callable[[], dict[str, int]] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter(f"{PREFIX}_runs", "Runs finished, by workflow and outcome", ["workflow", "outcome"],
                            registry=r)
        self.duration = Histogram(f"{PREFIX}_run_duration_seconds", "Time a run took in the runner", ["workflow"],
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.intake_to_done = Histogram(f"{PREFIX}_intake_to_done_seconds",
                                        "From a task's intake (feed, API, action, schedule) to its end",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.retries = Counter(f"{PREFIX}_retries", "Runs put back for a retry", ["workflow"], registry=r)
        self.dead = Counter(f"{PREFIX}_dead_lettered", "Tasks moved to the dead letters", ["reason"], registry=r)
        self.loops = Counter(f"{PREFIX}_loops", "Runs refused by the per-event breaker", ["workflow"], registry=r)
        self.skipped = Counter(f"{PREFIX}_own_writes_skipped", "Feed messages caused by the service's own writes",
                               registry=r)
        self.written = Counter(f"{PREFIX}_changes_written", "Changes written to MISP, by state", ["state"],
                               registry=r)
        self.feed = Counter(f"{PREFIX}_feed_messages", "Feed messages received, by topic and result",
                            ["topic", "result"], registry=r)
        self.feed_lag = Histogram(f"{PREFIX}_feed_lag_seconds",
                                  "From MISP's timestamp of a change to the feed message's arrival",
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.feed_last = Gauge(f"{PREFIX}_feed_last_message_timestamp_seconds",
                               "When the last feed message (status included) arrived", registry=r)
        self.feed_connected = Gauge(f"{PREFIX}_feed_up", "1 while the feed has spoken within [feed] silence_alarm",
                                    registry=r)
        self.alerts = Counter(f"{PREFIX}_alerts", "Alerts sent through the notification module", ["result"],
                              registry=r)
        self.started = Gauge(f"{PREFIX}_start_time_seconds", "When this process started", registry=r)
        self.started.set(time.time())
        if depth is not None:
            r.register(_QueueCollector(depth))

    def render(self) -> bytes:
        return generate_latest(self.registry)
