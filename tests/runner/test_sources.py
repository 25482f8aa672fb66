"""Events from a live MISP (``run --event-id``, through the real PyMISP against the MISP REST
fake) and from MISP's ZeroMQ feed (``watch``, through pyzmq on a local publisher)."""

from __future__ import annotations

import json

import pytest
import zmq

from tests.support.cli import misp_workflow, start_misp_workflow
from tests.support.data import PAP_TLP_BLUEPRINT, SMALL_EVENT
from tests.support.fakes.misp import API_KEY, MispFake

PAP_TLP = PAP_TLP_BLUEPRINT
EVENT = json.loads(SMALL_EVENT.read_text())


def red_event(uuid: str, eid: str) -> dict:
    data = json.loads(json.dumps(EVENT))
    data["Event"].update({"uuid": uuid, "id": eid})
    data["Event"]["Attribute"][0]["Tag"] = [{"name": "PAP:RED", "colour": "#cc0033", "exportable": True}]
    return data


@pytest.fixture
def misp(tmp_path):
    with MispFake(events=[red_event("11111111-2222-4333-8444-555555555555", "77")]) as fake:
        config = tmp_path / "settings.toml"
        config.write_text(f'[misp]\nurl = "{fake.url}"\nkey = "{API_KEY}"\nverify_tls = false\n')
        yield fake, config


def test_event_id_fetched_through_pymisp(module_server, misp):
    fake, config = misp
    done = misp_workflow("run", PAP_TLP, "--event-id", "77", "--config", config, "--modules-url", module_server.url, "--json")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["outcome"] == "blocked" and doc["event"]["Event"]["uuid"] == "11111111-2222-4333-8444-555555555555"
    assert "GET /events/view/77" in fake.paths()


def test_event_id_unknown_or_misp_not_configured(module_server, misp):
    fake, config = misp
    done = misp_workflow("run", PAP_TLP, "--event-id", "999", "--config", config, "--modules-url", module_server.url)
    assert done.returncode == 2 and done.stderr.startswith("misp-workflow run: MISP has no event 999")
    assert API_KEY not in done.stderr
    done = misp_workflow("run", PAP_TLP, "--event-id", "77", "--modules-url", module_server.url)
    assert done.returncode == 2 and "needs a MISP connection" in done.stderr and done.stderr.count("\n") == 1


def test_watch_runs_the_workflow_on_each_feed_event(module_server):
    context = zmq.Context.instance()
    publisher = context.socket(zmq.XPUB)  # XPUB: we see the subscription arrive, no sleeping
    publisher.setsockopt(zmq.LINGER, 0)
    publisher.setsockopt(zmq.RCVTIMEO, 20000)
    port = publisher.bind_to_random_port("tcp://127.0.0.1")
    watcher = start_misp_workflow("watch", PAP_TLP, "--zmq", f"tcp://127.0.0.1:{port}", "--modules-url",
                                  module_server.url, "--json", "--max-events", "3")
    try:
        assert publisher.recv() == b"\x01misp_json_event"  # the watcher subscribed
        publisher.send(b"misp_json_event " + json.dumps(red_event("aaaaaaaa-2222-4333-8444-555555555555", "1")).encode())
        publisher.send(b"misp_json_event " + json.dumps(EVENT).encode())
        publisher.send(b"misp_json_event not json")
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        publisher.close()
    assert watcher.returncode == 0, err
    lines = out.splitlines()
    first, second = (json.loads(line) for line in lines[:2])
    assert (first["outcome"], first["executed"]) == ("blocked", ["54"])
    assert (second["outcome"], second["executed"]) == ("success", [])
    assert lines[2].endswith("misp_json_event: skipped a message that is not an event")
