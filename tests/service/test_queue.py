"""The queue's contract (runner/service/backend.py), on both backends: the embedded SQLite
file in a temp folder and a real redis-server (AOF, fsync always) started for the test."""

from __future__ import annotations

import threading
import time

import pytest

from runner.service.backend_redis import RedisBackend
from runner.service.backend_sqlite import SqliteBackend
from runner.service.tasks import Task
from tests.support.service import RedisServer


@pytest.fixture(params=["sqlite", "redis"])
def make_backend(request, tmp_path):
    """``make_backend(lease=...)``: a fresh backend of the parametrised kind (closed at teardown)."""
    opened = []
    redis_server = RedisServer() if request.param == "redis" else None

    def make(lease: float = 30.0):
        if redis_server is not None:
            backend = RedisBackend(redis_server.url, namespace=f"t{len(opened)}", lease=lease)
        else:
            backend = SqliteBackend(tmp_path / f"q{len(opened)}.db", lease=lease, poll=0.02)
        opened.append(backend)
        return backend

    make.kind = request.param
    make.redis = redis_server
    yield make
    for backend in opened:
        backend.close()
    if redis_server is not None:
        redis_server.stop()


def task(key: str, n: int = 0, data: bytes | None = b'{"Event": {}}') -> Task:
    return Task(workflow=f"wf{n}", source="api", key=key, data=data)


def test_put_claim_ack_keeps_the_task_whole(make_backend):
    q = make_backend()
    t = task("event:1", data=b'{"Event": {"id": "1", "info": "x"}}')
    assert q.put(t)
    got = q.claim("w1", timeout=5)
    assert got.task.id == t.id and got.task.data == t.data and got.task.attempts == 1
    assert q.depth()["running"] == 1
    assert q.claim("w2", timeout=0.1) is None  # leased: not delivered twice
    q.ack(got)
    assert q.depth() == {"queued": 0, "delayed": 0, "running": 0, "dead": 0}
    assert q.get(t.id) is None


def test_one_key_runs_one_at_a_time_in_order_other_keys_in_parallel(make_backend):
    q = make_backend()
    a = [task("event:A", i) for i in range(3)]
    b = task("event:B")
    for t in (a[0], a[1], b, a[2]):
        q.put(t)
    first = q.claim("w1", timeout=5)
    second = q.claim("w2", timeout=5)
    assert {first.task.id, second.task.id} == {a[0].id, b.id}  # A's second waits for A's first
    assert q.claim("w3", timeout=0.1) is None
    q.ack(first if first.task.id == a[0].id else second)
    nxt = q.claim("w3", timeout=5)
    assert nxt.task.id == a[1].id
    q.ack(nxt)
    assert q.claim("w3", timeout=5).task.id == a[2].id


def test_a_lease_that_runs_out_is_delivered_again(make_backend):
    q = make_backend(lease=1.0)
    t = task("event:1")
    q.put(t)
    lost = q.claim("dead-worker", timeout=5)  # its worker dies: no ack, no heartbeat
    assert lost.task.attempts == 1
    again = q.claim("w2", timeout=10)
    assert again is not None and again.task.id == t.id and again.task.attempts == 2
    q.ack(again)
    assert q.depth()["running"] == 0


def test_heartbeat_keeps_the_lease(make_backend):
    q = make_backend(lease=1.0)
    q.put(task("event:1"))
    held = q.claim("w1", timeout=5)
    stop = threading.Event()

    def beat():
        while not stop.wait(0.2):
            assert q.heartbeat(held)

    beater = threading.Thread(target=beat)
    beater.start()
    try:
        assert q.claim("w2", timeout=2.5) is None  # more than two leases long
    finally:
        stop.set()
        beater.join()
    q.ack(held)


def test_retry_waits_its_back_off_first_in_its_line(make_backend):
    q = make_backend()
    first, second = task("event:1", 1), task("event:1", 2)
    q.put(first)
    q.put(second)
    got = q.claim("w1", timeout=5)
    q.retry(got, "module server down", delay=0.5)
    started = time.monotonic()
    again = q.claim("w1", timeout=10)
    assert again.task.id == first.id and again.task.attempts == 2  # not overtaken by the second
    assert time.monotonic() - started >= 0.4
    q.ack(again)
    assert q.claim("w1", timeout=5).task.id == second.id


def test_dead_letters_keep_the_task_and_its_error_and_can_be_requeued(make_backend):
    q = make_backend()
    t, nxt = task("event:1", 1), task("event:1", 2)
    q.put(t)
    q.put(nxt)
    q.dead(q.claim("w1", timeout=5), "gave up after 5 attempts: MISP unreachable")
    assert q.claim("w1", timeout=5).task.id == nxt.id  # the line goes on
    [letter] = [d for d in q.dead_letters() if d.task is not None]
    assert letter.task.id == t.id and letter.error.startswith("gave up") and letter.task.data == t.data
    assert q.requeue_dead(t.id).id == t.id
    assert q.get(t.id)[1] == "queued"
    rid = q.reject(b"not json", "misp_json_event: not JSON", "feed:misp_json_event")
    assert any(d.id == rid and d.raw == b"not json" for d in q.dead_letters())
    assert q.requeue_dead(rid) is None


def test_release_gives_the_task_back_at_once_uncounted(make_backend):
    q = make_backend()
    q.put(task("event:1"))
    got = q.claim("w1", timeout=5)
    q.release(got)
    again = q.claim("w2", timeout=5)
    assert again.task.id == got.task.id and again.task.attempts == 1


def test_dedupe_refuses_the_same_key_within_its_ttl(make_backend):
    q = make_backend()
    assert q.put(task("event:1"), dedupe="misp_json_event|u|1700000000", dedupe_ttl=60)
    assert not q.put(task("event:1"), dedupe="misp_json_event|u|1700000000", dedupe_ttl=60)
    assert q.put(task("event:1"), dedupe="misp_json_event|u|1700000001", dedupe_ttl=60)
    assert q.depth()["queued"] == 2


def test_cancel_drops_a_waiting_task_only(make_backend):
    q = make_backend()
    running, waiting = task("event:1", 1), task("event:1", 2)
    q.put(running)
    q.put(waiting)
    got = q.claim("w1", timeout=5)
    assert not q.cancel(running.id)
    assert q.cancel(waiting.id)
    q.ack(got)
    assert q.claim("w1", timeout=0.2) is None


def test_run_state_records(make_backend):
    q = make_backend()
    q.add_own_write("event:1", 100, 103, "run-1", ttl=60)
    assert [q.own_write("event:1", ts) for ts in (100, 101, 103, 104)] == [None, "run-1", "run-1", None]
    q.add_fingerprint("tag|1|tlp:white", "run-1", ttl=60)
    assert q.take_fingerprint("tag|1|tlp:white") == "run-1"
    assert q.take_fingerprint("tag|1|tlp:white") is None  # one message per write
    now = time.time()
    assert [q.count_run("event:9", 10, now + i) for i in range(3)] == [1, 2, 3]
    assert q.count_run("event:9", 10, now + 20) == 1  # the window moved on
    assert q.claim_slot("hourly", 7) and not q.claim_slot("hourly", 7) and q.claim_slot("hourly", 8)
    q.put(t := task("event:2"))
    q.save_checkpoint(t.id, b"state")
    q.mark_written(t.id, 0, "applied")
    assert q.load_checkpoint(t.id) == b"state" and q.written(t.id) == {0: "applied"}
    q.ack(q.claim("w", timeout=5))
    assert q.load_checkpoint(t.id) is None and q.written(t.id) == {}


def test_a_redis_restart_loses_nothing_acknowledged(tmp_path):
    with RedisServer() as server:
        q = RedisBackend(server.url, namespace="restart", lease=1.0)
        tasks = [task(f"event:{i % 7}", i) for i in range(50)]
        for t in tasks:
            assert q.put(t)
        leased = q.claim("w1", timeout=5)  # in flight when Redis dies
        server.kill()  # SIGKILL: no save on shutdown, only the AOF
        server.start()
        q.close()
        q = RedisBackend(server.url, namespace="restart", lease=1.0)
        seen = []
        while len(seen) < len(tasks):
            got = q.claim("w2", timeout=10)
            assert got is not None, f"lost after the restart: {len(tasks) - len(seen)} task(s)"
            seen.append(got.task.id)
            q.ack(got)
        assert sorted(seen) == sorted(t.id for t in tasks)
        assert seen.count(leased.task.id) == 1
        q.close()
