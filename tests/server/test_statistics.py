"""GET /statistics (upstream 3.1's document) and GET /metrics (Prometheus), one and two workers."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.data import SERVER_MODULES
from tests.support.harness import Background

# upstream 3.1.1's misp_modules/statistics.py: _Counters.snapshot() keys, in order
COUNTER_KEYS = ["queries", "completed", "in_flight", "successes", "errors", "module_errors", "exceptions",
                "timeouts", "success_rate", "error_rate", "request_bytes", "response_bytes", "last_query_at",
                "last_completed_at", "response_time_seconds"]
BUCKET_KEYS = ["0.01", "0.05", "0.1", "0.5", "1", "5", "10", "30", "60", "300", "+Inf"]


def send(server, payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    status, _headers, answer = server.request("POST", "/query", body)
    assert status == 200
    return body, answer


@pytest.mark.parametrize("workers", [1, 2])
def test_statistics_count_every_outcome_like_upstream(make_server, workers):
    server = make_server(custom_dir=SERVER_MODULES, config={"modules": {"slow": {"timeout": 0.5}}},
                         extra_args=["--workers", str(workers)])
    sizes_in, sizes_out = 0, 0
    for payload in [{"module": "echo", "return": {"a": 1}}, {"module": "echo", "return": {"a": 2}},
                    {"module": "echo", "return": {"error": "no such thing"}},
                    {"module": "echo", "return": {"errors": ["bad param"]}},
                    {"module": "boom"}, {"module": "slow", "hold": 3}]:
        body, answer = send(server, payload)
        if payload["module"] == "echo":
            sizes_in, sizes_out = sizes_in + len(body), sizes_out + len(answer)
    send(server, {"module": "not_a_module"})  # upstream does not count unknown modules either

    status, headers, raw = server.request("GET", "/statistics")
    assert status == 200 and headers["content-type"] == "application/json" and headers["cache-control"] == "no-store"
    doc = json.loads(raw)
    assert list(doc) == ["started_at", "uptime_seconds", "totals", "modules"]
    echo = doc["modules"]["echo"]
    assert list(echo) == ["type", *COUNTER_KEYS]
    assert echo["type"] == "expansion"
    assert (echo["queries"], echo["completed"], echo["in_flight"], echo["successes"], echo["module_errors"],
            echo["errors"]) == (4, 4, 0, 2, 2, 2)
    assert (echo["request_bytes"], echo["response_bytes"]) == (sizes_in, sizes_out)
    assert echo["success_rate"] == 0.5
    times = echo["response_time_seconds"]
    assert list(times) == ["count", "total", "min", "max", "average", "last", "buckets"]
    assert list(times["buckets"]) == BUCKET_KEYS and times["buckets"]["+Inf"] == 4 and times["count"] == 4
    assert 0 < times["min"] <= times["average"] <= times["max"]
    assert doc["modules"]["boom"]["exceptions"] == 1 and doc["modules"]["slow"]["timeouts"] == 1
    assert doc["modules"]["slow"]["response_time_seconds"]["buckets"]["0.1"] == 0
    assert doc["modules"]["slow"]["response_time_seconds"]["buckets"]["300"] == 1
    never = doc["modules"]["count"]
    assert never["queries"] == 0 and never["last_query_at"] is None and never["response_time_seconds"]["min"] is None
    assert "not_a_module" not in doc["modules"]
    totals = doc["totals"]
    assert (totals["queries"], totals["successes"], totals["module_errors"], totals["exceptions"],
            totals["timeouts"]) == (6, 2, 2, 1, 1)

    status, headers, text = server.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    label = (("module", "echo"), ("type", "expansion"))
    assert samples[("misp_modules_queries_total", label)] == 4
    assert samples[("misp_modules_query_outcomes_total", (("module", "echo"), ("outcome", "module_error"),
                                                          ("type", "expansion")))] == 2
    assert samples[("misp_modules_request_bytes_total", label)] == sizes_in
    assert samples[("misp_modules_query_duration_seconds_count", label)] == 4
    assert samples[("misp_modules_query_duration_seconds_bucket", (("le", "+Inf"), *label))] == 4
    assert samples[("misp_modules_query_outcomes_total", (("module", "slow"), ("outcome", "timeout"),
                                                          ("type", "action_mod")))] == 1


def test_in_flight_queries_are_counted_until_answered(make_server):
    server = make_server(custom_dir=SERVER_MODULES)
    pending = Background(server, [{"module": "slow", "hold": 1, "id": "a"}])
    server.wait_for_log(r"slow started a")
    assert server.get("/statistics")[1]["modules"]["slow"]["in_flight"] == 1
    assert pending.join()[0][0] == 200
    slow = server.get("/statistics")[1]["modules"]["slow"]
    assert (slow["in_flight"], slow["successes"]) == (0, 1)
