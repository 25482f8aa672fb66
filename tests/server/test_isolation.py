"""No query can freeze, kill or bloat the server (issue #13): code that holds the GIL, calls
``os._exit``, segfaults or leaks runs in worker processes (``isolation = "process"``, the default
for ``-c`` and upstream's modules); templates render with a CPU budget, off the loop; a blocking
async handler on the loop is reported; a task ignoring its cancellation gives its slot back.

Latency is asserted as MISP needs it: ``/modules`` answered many times, each within MISP's own
1 s timeout, while the hog provably still runs (its query has not been answered)."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.data import HOG_MODULES
from tests.support.harness import Background

MISP_TIMEOUT = 1.0  # s MISP gives GET /modules
ROUNDS = 20


def hog_server(make_server, modules: dict | None = None, server: dict | None = None, debug: bool = False):
    return make_server(custom_dir=HOG_MODULES, extra_args=["-d"] if debug else [], config={
        "server": {"shutdown_grace": 0.5, **(server or {})}, "modules": modules or {}})


def assert_server_answers_while(server, pending: Background) -> None:
    """/modules, /healthcheck and another module answer within MISP's timeout, every time,
    while ``pending`` (the hog's query) is still unanswered."""
    for _ in range(ROUNDS):
        for path in ("/modules", "/healthcheck"):
            started = time.perf_counter()
            status, _headers, body = server.request("GET", path, timeout=MISP_TIMEOUT * 5)
            assert status == 200 and json.loads(body)
            assert time.perf_counter() - started < MISP_TIMEOUT, path
    started = time.perf_counter()
    assert server.query({"module": "hog", "mode": "pid"}, timeout=5)[0] == 200  # the pool's other worker
    assert time.perf_counter() - started < 5 * MISP_TIMEOUT  # forking a worker included
    assert pending.results == [None], "the hog must still be running"


@pytest.mark.parametrize("mode", ["regex", "bigint", "spin"])
def test_a_module_holding_the_gil_does_not_stall_the_server(make_server, mode):
    server = hog_server(make_server)
    hog = Background(server, [{"module": "hog", "mode": mode, "id": "h1"}])
    server.wait_for_log(rf"hog {mode} started h1")
    assert_server_answers_while(server, hog)


def test_os_exit_in_a_handler_costs_only_its_query(make_server):
    server = hog_server(make_server)
    status, answer = server.query({"module": "hog", "mode": "exit"})
    assert status == 200
    assert answer == {"error": "Module 'hog' failed: its worker process died while running the query (os._exit, "
                               "a crash or a kill; the server log says how it ended)"}
    server.wait_for_log(r"Worker process \d+ of module hog exited with code 1")
    assert server.query({"module": "hog", "mode": "pid"})[0] == 200
    assert server.get("/healthcheck") == (200, {"status": True})


def test_a_segfault_costs_only_its_query(make_server):
    server = hog_server(make_server)
    status, answer = server.query({"module": "hog", "mode": "segv"})
    assert status == 200 and "its worker process died" in answer["error"]
    server.wait_for_log(r"Worker process \d+ of module hog was killed by signal 11 \(SIGSEGV\)")
    assert server.query({"module": "hog", "mode": "pid"})[0] == 200


def test_a_leaking_module_is_replaced_at_its_memory_limit(make_server):
    limit = 300
    server = hog_server(make_server, {"hog": {"memory_limit": limit, "concurrency": 1}})
    answers = [server.query({"module": "hog", "mode": "leak", "mb": 50}, timeout=30)[1] for _ in range(12)]
    assert all("error" not in a for a in answers), answers
    assert len({a["pid"] for a in answers}) >= 2  # replaced at least once
    assert max(a["rss_mb"] for a in answers) < limit + 60  # never far past the limit: 12 x 50 MB were asked
    server.wait_for_log(r"Module hog: worker process \d+ uses \d+ MB, above its memory limit \(300 MB\): replaced")


def test_a_query_going_past_the_memory_limit_is_stopped(make_server):
    server = hog_server(make_server, {"hog": {"memory_limit": 200}})
    status, answer = server.query({"module": "hog", "mode": "balloon", "mb": 400}, timeout=30)
    assert status == 200
    assert answer["error"] == ("Module 'hog' failed: its worker process went past its memory limit (200 MB, "
                               "[modules.hog] memory_limit or [server] worker_memory_limit)")
    assert server.query({"module": "hog", "mode": "pid"})[0] == 200


def test_a_blocking_async_handler_in_a_worker_process_does_not_stall_the_server(make_server):
    server = hog_server(make_server)
    blocker = Background(server, [{"module": "async_blocker", "hold": 30, "id": "b1"}])
    server.wait_for_log(r"blocker started b1")
    assert_server_answers_while(server, blocker)


def test_a_blocking_async_handler_on_the_loop_is_reported(make_server):
    server = hog_server(make_server, {"async_blocker": {"isolation": "thread"}})
    status, answer = server.query({"module": "async_blocker", "hold": 1.5, "id": "b2"})
    assert status == 200 and answer["data"] is True
    line = server.wait_for_log(r"The event loop has not turned for \d+ ms: module 'async_blocker' blocks it "
                               r"\(\S+async_blocker\.py:\d+ in dict_handler\)").group()
    assert "isolation = \"process\"" in server.logs()[server.logs().index(line):]
    server.wait_for_log(r"The event loop was stalled for \d+ ms \(module 'async_blocker'")


def test_a_task_ignoring_its_cancellation_gives_its_slot_back(make_server):
    server = hog_server(make_server)
    assert server.query({"module": "stubborn", "hold": 60, "timeout": 0.3, "id": "s1"}) == \
        (200, {"error": "Timeout: module 'stubborn' did not answer within 0.3 s"})
    server.wait_for_log(r"stubborn ignores its cancellation s1")
    server.wait_for_log(r"Module stubborn: a timed-out query ignores its cancellation; its slot is given back")
    # concurrency 1 and s1 still runs, yet the next query gets the slot
    assert server.query({"module": "stubborn", "hold": 0, "id": "s2", "timeout": 10}) == \
        (200, {"data": True, "id": "s2"})


# (big-integer squaring is refused before it is computed: tests/server/test_template_bounds.py)
TEMPLATE_HOGS = [
    "{% set l = range(1000)|list %}{% for a in l %}{% for b in l %}{% for c in l %}{% endfor %}{% endfor %}"
    "{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
]


@pytest.mark.parametrize("template", TEMPLATE_HOGS, ids=["nested-loops", "macro-fan-out"])
def test_template_bombs_do_not_stall_the_server(make_server, template):
    # a CPU budget long enough that the render provably still runs while /modules is asked;
    # -d logs the request when it reaches the module
    server = hog_server(make_server, {"jinja_template_rendering": {"timeout": 120}}, {"template_cpu_seconds": 60},
                        debug=True)
    text = json.dumps({"template": template, "data": {}})
    bomb = Background(server, [{"module": "jinja_template_rendering", "text": text}])
    server.wait_for_log(r"MISP QueryModule jinja_template_rendering request")
    assert_server_answers_while(server, bomb)


def test_async_notification_templates_render_off_the_loop(make_server):
    server = hog_server(make_server, server={"template_cpu_seconds": 60}, debug=True)
    params = {"bot_token": "123456:ABCdef", "chat_id": "42", "message_template": TEMPLATE_HOGS[0]}
    bomb = Background(server, [{"module": "telegram", "params": params, "data": {}}])
    server.wait_for_log(r"MISP QueryModule telegram request")
    # telegram's handler is async: rendered on the loop, this template would stall everything
    assert_server_answers_while(server, bomb)
