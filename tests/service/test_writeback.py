"""Write-back to MISP and the recursion guard, end to end: the service's runs write through the
real PyMISP to the MISP REST fake, which publishes on its ZeroMQ feed the messages MISP would
for each write; the service must recognise the ones its own writes caused."""

from __future__ import annotations

import json
import threading

from runner.service.backend_sqlite import SqliteBackend
from runner.service.config import MispConfig
from runner.service.misp import MispClients
from runner.service.writeback import EventRef, WriteBack, idempotency_uuid, prepare
from tests.service import workflows as wfs
from tests.service.conftest import base_config, misp_section
from tests.support.data import SMALL_EVENT
from tests.support.fakes.misp import API_KEY, MispFake
from tests.support.service import wait_until

UUID = "57c4445b-c548-4654-af0b-4be3950d210f"
FEED_TOPICS = ("misp_json_event", "misp_json_tag", "misp_json_self")


def stored_event(eid: str = "12") -> dict:
    event = json.loads(SMALL_EVENT.read_text())
    event["Event"].update(id=eid, timestamp="1700000000")
    return event


def runs(service, **filters) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return service.request("GET", f"/api/runs?{query}")[1]["runs"]


def test_a_self_writing_workflow_runs_once_per_outside_change(tmp_path, service_modules, start_service, misp, feed):
    misp.add_event(stored_event())
    wfs.write(tmp_path / "workflows", "tagger", wfs.tagger("workflow:curated"))
    service = start_service(base_config(tmp_path, service_modules.url, misp=misp_section(misp),
                                        feed={"url": feed.url}))
    feed.wait_subscribed(FEED_TOPICS)
    for n in (1, 2):
        misp.edit_externally(UUID, info=f"edited in MISP's UI ({n})")
        done = wait_until(lambda: (lambda r: r if len(r) == 2 * n else None)(runs(service)),
                          what=f"change {n}: its run and the skipped echo of its write")
        outcomes = sorted(r["outcome"] for r in done)
        assert outcomes == ["skipped"] * n + ["success"] * n, done
        if n == 1:
            misp.events[UUID]["Event"]["Tag"] = []  # someone removes the tag: the next change writes again
    attaches = [c for c in misp.calls("/tags/attachTagToObject")]
    assert attaches == [{"uuid": UUID, "tag": "workflow:curated", "local": 1}] * 2
    success = [r for r in runs(service) if r["outcome"] == "success"]
    assert [(r["changes"], r["written"]) for r in success] == [(2, 2)] * 2  # attach, touch
    skipped = [r for r in runs(service) if r["outcome"] == "skipped"]
    assert all("caused by this service's own write (run " in r["message"] for r in skipped)
    assert {r["message"].split("run ")[1].rstrip(")") for r in skipped} == {r["id"] for r in success}
    assert service.request("GET", "/healthz", token=None)[1]["queue"]["queued"] == 0
    assert API_KEY not in service.logs()


def test_the_breaker_bounds_runs_per_event_and_alerts(tmp_path, make_server, start_service):
    from tests.service.conftest import SERVICE_MODULES
    from tests.support.fakes.webhook import WebhookFake

    modules = make_server(custom_dir=SERVICE_MODULES, config={"server": {"outbound_allow": ["127.0.0.1"]}})
    with WebhookFake() as hook:
        wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
        config = base_config(tmp_path, modules.url, guard={"window": 3600, "max_runs_per_event": 3},
                             alerts={"module": "http_webhook", "params": {"url": f"{hook.url}/alerts"}})
        service = start_service(config)
        ids = [service.request("POST", "/api/runs", {"workflow": "guard", "data": stored_event()})[1]["id"]
               for _ in range(5)]
        done = [service.run_done(i) for i in ids]
        assert [d["outcome"] for d in done] == ["success"] * 3 + ["loop"] * 2
        assert "loop: 4 runs on event:12" in done[3]["message"]
        status, text = service.request("GET", "/metrics", token=None)
        assert 'misp_workflow_loops_total{workflow="guard"} 2.0' in text
        alerts = wait_until(lambda: (lambda r: r if len(r) == 2 else None)(
            [r for r in hook.requests if r.path == "/alerts"]), what="two loop alerts")
        body = alerts[0].json()
        assert body["Event"]["info"] == "misp-workflow: loop on event:12 in workflow guard"
        assert {a.json()["alert"]["run"] for a in alerts} == set(ids[3:]) and body["alert"]["kind"] == "loop"


def test_a_worker_killed_during_the_write_back_writes_once_on_redelivery(tmp_path, service_modules, start_service,
                                                                          misp, feed):
    misp.add_event(stored_event())
    wfs.write(tmp_path / "workflows", "tagger", wfs.tagger("workflow:curated"))
    config = base_config(tmp_path, service_modules.url, misp=misp_section(misp))
    hold = misp.holds["/tags/attachTagToObject"] = threading.Event()
    first = start_service(config)
    run_id = first.request("POST", "/api/runs", {"workflow": "tagger", "data": stored_event()})[1]["id"]
    assert misp.held.wait(60), "the write-back never reached MISP"
    first.kill()  # SIGKILL while MISP is applying the change: the service never hears the answer
    hold.set()  # MISP finishes the write
    wait_until(lambda: "workflow:curated" in [t["name"] for t in misp.events[UUID]["Event"].get("Tag") or []],
               what="MISP applied the tag")
    del misp.holds["/tags/attachTagToObject"]
    second = start_service(config)
    run = second.run_done(run_id)
    assert run["outcome"] == "success" and run["attempts"] == 2
    assert "resumed from a checkpoint" in " ".join(run["notes"])
    tags = [t["name"] for t in misp.events[UUID]["Event"]["Tag"]]
    assert tags.count("workflow:curated") == 1
    assert len(runs(second)) == 1


def test_adds_carry_an_idempotency_uuid_so_a_second_write_is_refused_as_a_duplicate(tmp_path):
    changes = prepare([{"op": "add_attribute", "event_uuid": UUID, "node": "3",
                        "attribute": {"type": "ip-dst", "value": "198.51.100.7", "category": "Network activity"}}],
                      "run-1")
    assert changes[0]["attribute"]["uuid"] == idempotency_uuid("run-1", 0) == prepare(changes, "run-1")[0]["attribute"]["uuid"]
    with MispFake(events=[stored_event()]) as fake:
        backend = SqliteBackend(tmp_path / "q.db")
        writeback = WriteBack(MispClients(MispConfig(url=fake.url, key=API_KEY, verify_tls=False)), backend,
                              enabled=True, own_write_ttl=60)
        event = EventRef("12", UUID)
        assert [w["state"] for w in writeback.apply("task-1", "run-1", changes, event)] == ["applied"]
        backend.written("task-1").clear()
        backend.close()
        fresh = SqliteBackend(tmp_path / "fresh.db")  # as if the mark had been lost with its worker
        writeback = WriteBack(MispClients(MispConfig(url=fake.url, key=API_KEY, verify_tls=False)), fresh,
                              enabled=True, own_write_ttl=60)
        again = writeback.apply("task-1", "run-1", changes, event)
        assert [w["state"] for w in again] == ["already"] and "MISP had it already" in again[0]["note"]
        added = [a for a in fake.events[UUID]["Event"]["Attribute"] if a.get("value") == "198.51.100.7"]
        assert len(added) == 1
        fresh.close()
