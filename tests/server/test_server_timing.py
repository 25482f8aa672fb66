"""`Server-Timing: module;dur=<ms>` on `/query` answers that reached a module: the handler's
own time, without the time the query waited for a slot in the module's lane."""

from __future__ import annotations

import json
import re
import time

from tests.support.data import SERVER_MODULES
from tests.support.harness import Background

TIMING = re.compile(r"module;dur=(\d+\.\d{3})")


def module_ms(headers: dict[str, str]) -> float:
    value = headers.get("server-timing")
    assert value is not None, f"no Server-Timing header in {headers}"
    match = TIMING.fullmatch(value)
    assert match, f"unexpected Server-Timing value {value!r}"
    return float(match.group(1))


def post(server, payload: dict | bytes) -> tuple[int, dict[str, str], object]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, headers, data = server.request("POST", "/query", body, {"Content-Type": "application/json"})
    return status, headers, json.loads(data)


def test_queueing_is_not_module_time(make_server):
    server = make_server(custom_dir=SERVER_MODULES, config={"modules": {"slow": {"concurrency": 1}}})
    first = Background(server, [{"module": "slow", "hold": 1.0, "id": "first", "timeout": 20}])
    server.wait_for_log(r"slow started first")  # the only slot is taken for about 1 s
    started = time.perf_counter()
    status, headers, answer = post(server, {"module": "slow", "hold": 0.1, "id": "second", "timeout": 20})
    total_ms = 1000 * (time.perf_counter() - started)
    assert (status, answer) == (200, {"data": True, "id": "second"})
    own = module_ms(headers)
    assert 100 <= own < 900  # its own 0.1 s hold, not the wait behind "first"
    assert total_ms - own >= 500  # the wait was there, in the total only
    assert first.join()[0] == (200, {"data": True, "id": "first"})


def test_sync_async_and_upstream_style_modules_are_timed(custom_server):
    status, headers, answer = post(custom_server, {"module": "notifier"})
    assert (status, answer) == (200, {"data": True}) and module_ms(headers) >= 0
    status, headers, answer = post(custom_server, {"module": "async_slow", "hold": 0.2, "id": "t"})
    assert status == 200 and answer["id"] == "t"
    # the handler's 200 ms wait is in its time (the loop's timers may fire up to a few ms early:
    # uvloop rounds to the millisecond from a clock read at the start of the loop's turn)
    assert module_ms(headers) >= 190


def test_errors_of_a_module_that_ran_are_timed(custom_server):
    status, headers, answer = post(custom_server, {"module": "boom"})
    assert status == 200 and answer["error"].startswith("Module 'boom' failed")
    assert module_ms(headers) >= 0
    # a timeout: how long the module ran before the server gave up
    status, headers, answer = post(custom_server, {"module": "async_slow", "hold": 30, "timeout": 0.3})
    assert answer == {"error": "Timeout: module 'async_slow' did not answer within 0.3 s"}
    assert module_ms(headers) >= 250


def test_answers_that_reached_no_module_have_no_server_timing(custom_server):
    for payload, status in (({"module": "no_such_module"}, 200), ({"module": "broken"}, 200),
                            (b"[1]", 400), (b"{", 400), ({"module": "echo", "blob": "x" * (300 * 1024)}, 413)):
        got, headers, answer = post(custom_server, payload)
        assert got == status and "error" in answer
        assert "server-timing" not in headers


def test_busy_lane_answer_has_no_server_timing(make_server):
    server = make_server(custom_dir=SERVER_MODULES, config={"modules": {"slow": {"concurrency": 1}}})
    holder = Background(server, [{"module": "slow", "hold": 1.5, "id": "holder", "timeout": 20}])
    server.wait_for_log(r"slow started holder")
    status, headers, answer = post(server, {"module": "slow", "hold": 0, "timeout": 0.2})
    assert status == 200 and "is busy" in answer["error"]
    assert "server-timing" not in headers
    holder.join()
