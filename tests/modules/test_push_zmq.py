"""push-zmq with real ZeroMQ sockets on 127.0.0.1: a SUB socket receives MISP's workflow message.

ZeroMQ drops what a PUB socket sends before the subscription reaches it, so each test publishes
again until the SUB socket gets a message, in a bounded loop that waits on the socket itself
(``poll``), never on a sleep.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import zmq

from misp_modules.modules.action_mod import push_zmq
from misp_modules.semantics.convert import to_core_format
from misp_modules.settings import Settings, get_settings, set_settings
from tests.support.data import EVENTS

EVENT = to_core_format(json.loads((EVENTS /
                                   "misp_event.json").read_text()))
ATTEMPTS = 50


def receive(sub: zmq.Socket, publish: Callable[[], dict]) -> tuple[str, object]:
    """Publish until ``sub`` receives a message (bounded); return (topic, decoded JSON)."""
    for _ in range(ATTEMPTS):
        answer = publish()
        assert answer["result"] is True, answer
        if sub.poll(100):
            topic, _, payload = sub.recv_string().partition(" ")
            return topic, json.loads(payload)
    raise AssertionError(f"no message after {ATTEMPTS} publications")


@pytest.fixture
def sub() -> Iterator[zmq.Socket]:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt_string(zmq.SUBSCRIBE, "misp_json_workflow")
    yield sock
    sock.close()


def test_subscriber_receives_the_extracted_data_through_the_server(make_server, sub) -> None:
    sub.bind("tcp://127.0.0.1:*")
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    server = make_server(config={"modules": {"push_zmq": {"zmq_endpoint": endpoint, "zmq_bind": False}}})

    def publish() -> dict:
        status, answer = server.query({"module": "push_zmq", "data": EVENT,
                                       "params": {"data_extraction_path": "Event.Attribute.{n}.value"}})
        assert status == 200
        return answer

    topic, payload = receive(sub, publish)
    assert topic == "misp_json_workflow"
    assert payload == [a["value"] for a in EVENT["Event"]["Attribute"]]


@pytest.fixture
def zmq_settings() -> Iterator[Callable[[dict], None]]:
    previous = get_settings()

    def use(table: dict) -> None:
        set_settings(Settings(modules={"push_zmq": table}))

    yield use
    push_zmq.close()
    set_settings(previous)


def test_bound_publisher_like_misps(zmq_settings, sub) -> None:
    """Default: the module binds (as MISP's publisher does) and subscribers connect."""
    zmq_settings({"zmq_endpoint": "tcp://127.0.0.1:*"})
    first = push_zmq.dict_handler({"data": {"Event": {"info": "x"}}, "params": {}})
    assert first["result"] is True
    sub.connect(push_zmq.bound_endpoint("tcp://127.0.0.1:*"))
    topic, payload = receive(sub, lambda: push_zmq.dict_handler({"data": {"Event": {"info": "élan/x"}},
                                                                "params": {"data_extraction_path": ""}}))
    assert (topic, payload) == ("misp_json_workflow", {"Event": {"info": "élan/x"}})


def test_missing_endpoint_and_bad_path_are_clear(zmq_settings) -> None:
    zmq_settings({})
    answer = push_zmq.dict_handler({"data": {"Event": {}}, "params": {}})
    assert answer["result"] is False and "[modules.push_zmq] zmq_endpoint" in answer["error"]
    zmq_settings({"zmq_endpoint": "tcp://127.0.0.1:*"})
    answer = push_zmq.dict_handler({"data": {"Event": {}}, "params": {"data_extraction_path": {"a": 1}}})
    assert answer["result"] is False and "Error while trying to extract data with path" in answer["error"]
    answer = push_zmq.dict_handler({"data": {"Event": {}}, "params": {"data_extraction_path": "Event.x"}})
    assert answer["result"] is True  # an empty extraction is still published, as in MISP


def test_unusable_endpoint_is_a_node_error(zmq_settings) -> None:
    zmq_settings({"zmq_endpoint": "nonsense://here"})
    answer = push_zmq.dict_handler({"data": {"Event": {}}, "params": {}})
    assert answer["result"] is False and "cannot publish on nonsense://here" in answer["error"]
