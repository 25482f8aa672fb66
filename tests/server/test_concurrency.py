"""Per-module lanes: a slow or hung module fills only its own slots; `/modules` and other
modules keep answering; timeouts cover queueing; async modules are cancelled."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.data import SERVER_MODULES
from tests.support.harness import Background


def slow_server(make_server, concurrency: int = 2, isolation: str = "process"):
    return make_server(custom_dir=SERVER_MODULES, config={
        "server": {"shutdown_grace": 0.2},
        "modules": {"slow": {"concurrency": concurrency, "isolation": isolation}},
    })


def test_modules_and_other_modules_answer_while_a_module_is_saturated(make_server):
    server = slow_server(make_server)
    hung = Background(server, [{"module": "slow", "hold": 4, "id": f"h{i}", "timeout": 30} for i in range(5)])
    server.wait_for_log(r"slow started h\d", count=2)  # both slots taken, 3 queued

    for _ in range(20):
        started = time.perf_counter()
        status, _, body = server.request("GET", "/modules", timeout=1)  # MISP's limit for /modules
        assert status == 200 and json.loads(body)
        assert time.perf_counter() - started < 1.0

    # Another module is not queued behind the hung one (upstream's shared pool would be).
    assert server.query({"module": "notifier", "timeout": 2}) == (200, {"data": True})
    assert server.query({"module": "echo", "return": 1, "timeout": 2}) == (200, 1)
    hung.join(0)


def test_a_full_lane_answers_busy_within_the_request_timeout(make_server):
    server = slow_server(make_server)
    Background(server, [{"module": "slow", "hold": 3, "id": f"b{i}"} for i in range(2)])
    server.wait_for_log(r"slow started b\d", count=2)
    status, answer = server.query({"module": "slow", "hold": 0, "timeout": 0.3})
    assert status == 200
    assert answer == {"error": "Timeout: module 'slow' is busy (2 queries in progress, limit 2) and had "
                               "no free slot within 0.3 s"}


def test_a_timed_out_query_in_a_worker_process_frees_its_slot_at_once(make_server):
    server = slow_server(make_server, concurrency=1)
    assert server.query({"module": "slow", "hold": 30, "timeout": 0.5, "id": "late"}) == \
        (200, {"error": "Timeout: module 'slow' did not answer within 0.5 s"})
    server.wait_for_log(r"Module slow: worker process \d+ stopped \(its query passed its deadline\)")
    # the worker was killed: the only slot is free for the next query, served by a new worker
    assert server.query({"module": "slow", "hold": 0, "id": "after", "timeout": 20}) == \
        (200, {"data": True, "id": "after"})
    assert "slow finished late" not in server.logs()


def test_a_timed_out_sync_query_in_a_thread_keeps_its_slot_until_it_returns(make_server):
    server = slow_server(make_server, concurrency=1, isolation="thread")
    assert server.query({"module": "slow", "hold": 1.5, "timeout": 0.2, "id": "late"}) == \
        (200, {"error": "Timeout: module 'slow' did not answer within 0.2 s"})
    # the thread still runs: the only slot is taken
    assert "is busy" in server.query({"module": "slow", "hold": 0, "timeout": 0.2})[1]["error"]
    server.wait_for_log(r"Module slow: timed-out query finished late")
    assert server.query({"module": "slow", "hold": 0, "id": "after"}) == (200, {"data": True, "id": "after"})


def test_queued_queries_are_served_in_turn(make_server):
    server = slow_server(make_server, concurrency=1)
    queued = Background(server, [{"module": "slow", "hold": 0.2, "id": f"q{i}", "timeout": 20} for i in range(4)])
    results = queued.join()
    assert sorted(r[1]["id"] for r in results) == ["q0", "q1", "q2", "q3"]
    assert all(r[0] == 200 and r[1]["data"] is True for r in results)


def test_async_module_is_cancelled_on_timeout(custom_server):
    status, answer = custom_server.query({"module": "async_slow", "hold": 30, "timeout": 0.2, "id": "c1"})
    assert answer == {"error": "Timeout: module 'async_slow' did not answer within 0.2 s"}
    custom_server.wait_for_log(r"async cancelled c1")
    custom_server.wait_for_log(r"Module async_slow: timed-out query cancelled")


def test_async_modules_run_concurrently_on_the_event_loop(custom_server):
    # 20 queries of 1 s each, 3 s allowed: only concurrent execution answers them all in time.
    many = Background(custom_server, [{"module": "async_slow", "hold": 1, "id": f"a{i}", "timeout": 3}
                                      for i in range(20)])
    results = many.join()
    assert all(r[0] == 200 and r[1]["data"] is True for r in results), results


def test_async_raw_handler_gets_bytes(custom_server):
    assert custom_server.query({"module": "async_raw"}) == (200, {"data": True, "got": "bytes", "module": "async_raw"})


@pytest.mark.parametrize("target, payload, check", [
    ("jinja_template_rendering", {"text": json.dumps({"template": "{{ a }}!", "data": {"a": "hi"}})},
     lambda inner: inner == {"results": [{"types": ["text"], "values": ["hi!"]}]}),
    ("no_such_module", {}, lambda inner: inner == {"error": "Unknown module 'no_such_module' (GET /modules "
                                                           "lists the loaded modules)"}),
    ("boom", {"params": {"bot_token": "t"}}, lambda inner: inner["error"].startswith("Module 'boom' failed")),
    ("echo", {"return": {"0": "php"}}, lambda inner: inner == {"0": "php"}),
])
@pytest.mark.parametrize("caller", ["inprocess", "inprocess_sync"])
def test_in_process_query_module_uses_the_query_path(custom_server, caller, target, payload, check):
    status, answer = custom_server.query({"module": caller, "target": target, "payload": payload})
    assert status == 200 and answer["data"] is True
    assert check(answer["inner"]), answer


@pytest.mark.parametrize("caller", ["inprocess", "inprocess_sync"])
def test_in_process_query_module_honours_timeouts(custom_server, caller):
    status, answer = custom_server.query({"module": caller, "target": "async_slow",
                                          "payload": {"hold": 30, "id": "inner"}, "inner_timeout": 0.2})
    assert answer["inner"] == {"error": "Timeout: module 'async_slow' did not answer within 0.2 s"}
