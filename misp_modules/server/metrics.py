"""``GET /metrics``: the numbers of ``/statistics`` in Prometheus' text format.

prometheus-client writes the format; the values are read at scrape time from the shared
counters of :mod:`.statistics` (all workers added up), through a collector of its own registry
(no process or GC collectors: with ``--workers`` they would describe whichever worker answered).
Series carry ``module`` and ``type`` labels; sum them for totals.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from misp_modules.server import statistics as st

PREFIX = "misp_modules"
OUTCOME_LABEL = {"successes": "success", "module_errors": "module_error", "exceptions": "exception",
                 "timeouts": "timeout"}


class StatisticsCollector:
    """A prometheus-client collector over :class:`~.statistics.Statistics`."""

    def __init__(self, stats: st.Statistics) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        labels = ["module", "type"]
        queries = CounterMetricFamily(f"{PREFIX}_queries", "Queries received per module", labels=labels)
        in_flight = GaugeMetricFamily(f"{PREFIX}_queries_in_flight", "Queries not answered yet", labels=labels)
        outcomes = CounterMetricFamily(f"{PREFIX}_query_outcomes", "Answered queries by outcome (success, "
                                       "module_error: an answer with error/errors, exception, timeout)",
                                       labels=[*labels, "outcome"])
        received = CounterMetricFamily(f"{PREFIX}_request_bytes", "Bytes of /query bodies received", labels=labels)
        sent = CounterMetricFamily(f"{PREFIX}_response_bytes", "Bytes of /query answers sent", labels=labels)
        duration = HistogramMetricFamily(f"{PREFIX}_query_duration_seconds", "Response time of /query",
                                         labels=labels)
        minimum = GaugeMetricFamily(f"{PREFIX}_query_duration_min_seconds", "Fastest response", labels=labels)
        maximum = GaugeMetricFamily(f"{PREFIX}_query_duration_max_seconds", "Slowest response", labels=labels)
        last = GaugeMetricFamily(f"{PREFIX}_query_duration_last_seconds", "Latest response time", labels=labels)
        last_query = GaugeMetricFamily(f"{PREFIX}_last_query_timestamp_seconds", "When the latest query came",
                                       labels=labels)
        for name, values in stats.module_counters().items():
            key = [name, stats.types[name]]
            queries.add_metric(key, values[st.QUERIES])
            in_flight.add_metric(key, max(0.0, values[st.QUERIES] - values[st.COMPLETED]))
            for outcome, label in OUTCOME_LABEL.items():
                outcomes.add_metric([*key, label], values[st.OUTCOME_FIELD[outcome]])
            received.add_metric(key, values[st.REQUEST_BYTES])
            sent.add_metric(key, values[st.RESPONSE_BYTES])
            running, buckets = 0.0, []
            for index, bound in enumerate(st.LATENCY_BUCKETS):
                running += values[st.BUCKETS_AT + index]
                buckets.append((str(float(bound)), running))
            buckets.append(("+Inf", values[st.COMPLETED]))
            duration.add_metric(key, buckets, values[st.DURATION_TOTAL])
            if values[st.COMPLETED]:
                minimum.add_metric(key, values[st.DURATION_MIN])
                maximum.add_metric(key, values[st.DURATION_MAX])
                last.add_metric(key, values[st.DURATION_LAST])
            if values[st.LAST_QUERY_AT]:
                last_query.add_metric(key, values[st.LAST_QUERY_AT])
        start = GaugeMetricFamily(f"{PREFIX}_start_time_seconds", "When the server started (Unix time)")
        start.add_metric([], stats.started_at)
        yield from (queries, in_flight, outcomes, received, sent, duration, minimum, maximum, last, last_query,
                    start)


def registry_for(stats: st.Statistics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatisticsCollector(stats))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text format (``text/plain; version=0.0.4``)."""
    return generate_latest(registry)


__all__ = ["StatisticsCollector", "registry_for", "exposition", "CONTENT_TYPE_LATEST"]
