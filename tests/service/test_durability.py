"""Nothing lost, nothing doubled: workers SIGKILLed mid-run, a Redis SIGKILLed and restarted,
runs of one event kept in order. Real processes throughout: ``misp-workflow serve`` (intake
and worker roles), redis-server with its AOF, the module server, MISP's REST fake."""

from __future__ import annotations

import json

from tests.service import workflows as wfs
from tests.service.conftest import base_config, misp_section
from tests.support.data import SMALL_EVENT
from tests.support.fakes.misp import MispFake
from tests.support.service import wait_until

UUID = "57c4445b-c548-4654-af0b-4be3950d210f"


def event(eid: str, uuid: str = UUID) -> dict:
    data = json.loads(SMALL_EVENT.read_text())
    data["Event"].update(id=eid, uuid=uuid, timestamp="1700000000")
    return data


def entered(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_run_survives_its_worker_being_killed_mid_run(tmp_path, service_modules, start_service):
    gate, mark = tmp_path / "gate", tmp_path / "entered"
    with MispFake(events=[event("12")]) as misp:
        wfs.write(tmp_path / "workflows", "gated", wfs.gated(mark, gate, tag="workflow:done"))
        config = base_config(tmp_path, service_modules.url, misp=misp_section(misp))
        first = start_service(config)
        run_id = first.request("POST", "/api/runs", {"workflow": "gated", "data": event("12")})[1]["id"]
        wait_until(lambda: entered(mark) == 1, what="the run is inside the gate node")
        first.kill()
        gate.touch()
        second = start_service(config)
        run = second.run_done(run_id)
        assert run["outcome"] == "success" and run["attempts"] == 2
        assert len(second.request("GET", "/api/runs")[1]["runs"]) == 1
        assert [c["tag"] for c in misp.calls("/tags/attachTagToObject")] == ["workflow:done"]


def test_redis_workers_lose_nothing_across_a_worker_kill_and_a_redis_restart(tmp_path, service_modules,
                                                                               start_service, redis_server):
    gate, mark = tmp_path / "gate", tmp_path / "entered"
    wfs.write(tmp_path / "workflows", "gated", wfs.gated(mark, gate))
    config = base_config(tmp_path, service_modules.url, queue={"backend": "redis", "url": redis_server.url,
                                                               "lease": 3})
    intake = start_service(config, "--role", "intake")
    workers = [start_service(config, "--role", "worker", "--workers", "1") for _ in range(2)]
    same = [intake.request("POST", "/api/runs", {"workflow": "gated", "data": event("7")})[1]["id"] for _ in range(4)]
    others = [intake.request("POST", "/api/runs", {"workflow": "gated", "data": event(str(100 + i),
                                                   f"00000000-0000-4000-8000-{i:012d}")})[1]["id"] for i in range(8)]
    wait_until(lambda: entered(mark) == 2, what="both workers inside the gate node")
    workers[0].kill()  # SIGKILL: its run stays leased
    redis_server.kill()  # and Redis dies too, with every task queued
    redis_server.start()
    gate.touch()
    workers.append(start_service(config, "--role", "worker", "--workers", "1"))
    every = same + others
    done = {i: intake.run_done(i, timeout=120) for i in every}
    assert all(d["outcome"] == "success" for d in done.values())
    listed = intake.request("GET", "/api/runs?limit=100")[1]["runs"]
    assert sorted(r["id"] for r in listed) == sorted(every)  # each exactly once
    assert sum(d["attempts"] for d in done.values()) == len(every) + 1  # the killed worker's run, twice
    assert intake.request("GET", "/api/dead-letters")[1]["dead_letters"] == []
    ordered = sorted((done[i] for i in same), key=lambda d: d["started_at"])
    assert [d["id"] for d in ordered] == same  # one event: in the order queued
    for earlier, later in zip(ordered, ordered[1:]):
        assert later["started_at"] >= earlier["finished_at"]  # and one at a time


def test_graceful_shutdown_requeues_the_run_in_hand(tmp_path, service_modules, start_service):
    gate, mark = tmp_path / "gate", tmp_path / "entered"
    wfs.write(tmp_path / "workflows", "gated", wfs.gated(mark, gate))
    config = base_config(tmp_path, service_modules.url, service={"shutdown_grace": 0.5})
    first = start_service(config)
    run_id = first.request("POST", "/api/runs", {"workflow": "gated", "data": event("12")})[1]["id"]
    wait_until(lambda: entered(mark) == 1, what="the run is inside the gate node")
    first.terminate()
    first.wait_for_log(r"still running after 0 s: released to the queue|still running after 1 s: released")
    gate.touch()
    assert first.wait(60) == 0
    second = start_service(config)
    run = second.run_done(run_id)
    assert run["outcome"] == "success"
