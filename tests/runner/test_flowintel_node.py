"""MISP's ``flowintel-create-case`` node end to end: the real ``misp-workflow`` CLI against the
real module server (docs/misp-behaviour.md §16.11)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support import graphs as G
from tests.support.cli import run_json
from tests.support.data import SMALL_EVENT
from tests.support.fakes.flowintel import API_KEY, FlowintelFake
from tests.support.harness import ModuleServer

ARBITRARY_ON = {"misp_webhook": {"rest_client_enable_arbitrary_urls": True}}


@pytest.fixture(scope="module")
def flowintel() -> Iterator[FlowintelFake]:
    with FlowintelFake() as fake:
        yield fake


def _run(tmp_path, server: ModuleServer, url: str, codes: tuple[int, ...] = (0,)) -> dict:
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(G.workflow([
        G.trigger(1, "event-publish", [2]),
        G.node(2, "flowintel-create-case", params={"url": url, "apikey": API_KEY}, outputs={"output_1": [3]}),
        G.node(3, "push-zmq")])))
    return run_json(wf, json.loads(SMALL_EVENT.read_text()), tmp_path, server.url, "--mock", "3=true", codes=codes)


def test_misp_crash_fails_the_node_and_sends_nothing(tmp_path, flowintel) -> None:
    flowintel.reset()
    with ModuleServer(config={"modules": ARBITRARY_ON}) as srv:
        doc = _run(tmp_path, srv, flowintel.url, codes=(3,))
    node = doc["nodes"][0]
    assert node["node"] == "2" and node["result"] is False and node["status"] == "error"
    assert doc["executed"] == ["2"] and doc["outcome"] == "failure"  # MISP's run ends at the node
    assert any("isOk() on null" in e for e in node["errors"])
    assert flowintel.requests == [] and API_KEY not in json.dumps(doc)


def test_send_request_records_the_case_reference(tmp_path, flowintel) -> None:
    flowintel.reset()
    config = {"modules": {**ARBITRARY_ON, "flowintel_create_case": {"send_request": True,
                                                                    "outbound_allow": ["127.0.0.1"]}}}
    with ModuleServer(config=config) as srv:
        doc = _run(tmp_path, srv, flowintel.url)
    info = json.loads(SMALL_EVENT.read_text())["Event"]["info"]
    assert doc["executed"] == ["2", "3"] and doc["nodes"][0]["result"] is True
    assert flowintel.requests[0].json()["title"] == info  # the default `{{ Event.info }}`, rendered
    [change] = [c for c in doc["changes"] if c["op"] == "add_object"]
    assert change["node"] == "2" and change["object"]["name"] == "flowintel-case"
    assert change["object"]["Attribute"][0]["value"] == f"{flowintel.url}/case/1"
    assert API_KEY not in json.dumps(doc)
