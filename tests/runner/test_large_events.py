"""Large events: the roaming data's encoding (each attribute once, sent in parts), the --json
document written a key at a time, and a body the module server refuses as too large."""

from __future__ import annotations

import io
import json
import socket
import threading

import orjson
import pytest

from misp_modules.contract.client import ModuleCallError, ModuleClient
from misp_modules.contract.wire import dumps
from misp_modules.semantics import convert, roaming
from runner.catalog import Catalog
from runner.engine import Runner, RunOptions
from runner.jsonio import dumps_shared
from runner.loader import workflow_from_document
from runner.report import document, write_document
from tests.support import graphs as G
from tests.support.data import EVENTS, load_event


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("*.json")))
def test_shared_encoding_is_the_plain_encoding(name):
    data = convert.normalize_for_trigger("event-publish", load_event(name))
    chunks = dumps_shared(data)
    assert b"".join(chunks) == dumps(data)
    flat = data["Event"]["_AttributeFlattened"]
    if len(flat) > 1:  # spelled from the other lists' encodings, not encoded again
        assert any(isinstance(c, memoryview) for c in chunks)


def test_shared_encoding_falls_back_for_other_shapes():
    data = convert.normalize_for_trigger("event-publish", load_event("HTML_event.json"))
    filtered = roaming.get_data(roaming.add_filter(data, "A", "Event._AttributeFlattened.{n}", "type", "in",
                                                   "link", []))
    for value in (filtered, {"Event": {"_AttributeFlattened": [{"a": 1}]}}, {1: "x"}, [1, 2], {"Event": []}):
        assert b"".join(dumps_shared(value)) == dumps(value)


def test_the_document_is_written_key_by_key(module_server):
    client = ModuleClient(module_server.url, timeout=10)
    nodes = [G.trigger(1, "event-publish", [2]),
             G.logic_if(2, "tag-if", params={"scope": "event", "condition": "in_or", "tags": ["tlp:red"]})]
    result = Runner(Catalog.from_modules(client.modules()), client).run(
        workflow_from_document(G.workflow(nodes), "t.json"), load_event("HTML_event.json"))
    client.close()
    for indent in (True, False):
        out = io.BytesIO()
        write_document(result, out, indent=indent)
        assert json.loads(out.getvalue()) == json.loads(dumps(document(result)))
        assert (out.getvalue().count(b"\n") > 10) is indent


def big_event(attributes: int) -> dict:
    return {"Event": {"id": "1", "info": "big", "Tag": [{"name": "tlp:red"}],
                      "Attribute": [{"id": str(i), "type": "text", "value": "x" * 200, "Tag": []}
                                    for i in range(attributes)]}}


def test_a_body_over_the_servers_limit_is_a_clear_error(make_server):
    server = make_server(config={"server": {"max_body_size": 100_000}})
    client = ModuleClient(server.url, timeout=10)
    nodes = [G.trigger(1, "event-publish", [2]),
             G.logic_if(2, "tag-if", then=[3], params={"scope": "event", "condition": "in_or", "tags": ["tlp:red"]}),
             G.node(3, "stop-execution")]
    result = Runner(Catalog.from_modules(client.modules()), client, RunOptions()).run(
        workflow_from_document(G.workflow(nodes), "t.json"), big_event(1000))
    client.close()
    node = result.walk.trace[0]
    assert node.undecided and result.outcome == "failure"  # a guard that could not decide: fail closed
    assert "the module server refused the" in node.errors[0] and "MB request as too large" in node.errors[0]
    assert "limit 100000 bytes" in node.errors[0] and "[server] max_body_size" in node.errors[0]


def test_a_server_that_resets_a_large_body_names_the_limit():
    """A server that stops reading and resets the connection mid-body (no answer readable)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def refuse() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)  # the headers and a little of the body
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # RST

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    client = ModuleClient(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=10)
    payload = [b'{"module":"tag_if","data":', orjson.dumps("x" * (9 * 1024 * 1024)), b"}"]
    with pytest.raises(ModuleCallError) as failed:
        client.query_bytes(payload)
    client.close()
    thread.join(5)
    listener.close()
    message = str(failed.value)
    assert "while receiving a 9.4 MB request" in message and "[server] max_body_size" in message
