"""The runner against module servers that misbehave, and MISP's request for misp-modules
(misp-behaviour.md §11). The module server here is a local fake speaking the /modules + /query protocol, so
every failure mode can be produced on demand."""

from __future__ import annotations

import json
import threading

import pytest

from misp_modules.contract.client import ModuleCallError, ModuleClient
from runner.catalog import Catalog
from runner.engine import Runner, RunOptions
from runner.loader import workflow_from_document
from runner.paths import PathTable
from runner.report import text
from tests.support import graphs as G
from tests.support.catalog import ENTRIES
from tests.support.fakes.base import FakeService, Response

EVENT = {"Event": {"id": "7", "uuid": "u-7", "info": "x", "org_id": "1", "orgc_id": "1",
                   "Tag": [{"name": "tlp:white"}],
                   "Attribute": [{"id": "1", "uuid": "a-1", "type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e",
                                  "Tag": [{"name": "tlp:red"}]},
                                 {"id": "2", "uuid": "a-2", "type": "ip-dst", "value": "192.0.2.1"}]}}

MATTERMOST = {"name": "mattermost", "type": "action_mod", "mispattributes": {}, "meta": {
    "module-type": ["action"], "name": "Mattermost", "description": "notify",
    "config": {"blocking": False, "support_filters": True, "expect_misp_core_format": False, "params": {
        "Mattermost hostname": {"type": "string", "value": "chat.example.org"},
        "message_template": {"type": "large_string", "jinja_supported": True},
        "Data extraction path": {"type": "hash_path", "value": "Event.Tag.{n}.name"}}}}}
GATE = {"name": "policyGate", "type": "action_mod", "mispattributes": {}, "meta": {
    "module-type": ["action"], "name": "Gate", "description": "blocking gate",
    "config": {"blocking": True, "support_filters": False, "expect_misp_core_format": False, "params": {}}}}


class FakeModuleServer(FakeService):
    """``/modules`` from the test catalog; ``/query`` answers ``self.answers[module]``."""

    def __init__(self) -> None:
        self.answers: dict[str, Response] = {}
        super().__init__()

    def handle(self, request):
        if request.path == "/modules":
            return Response.json(ENTRIES + [MATTERMOST, GATE])
        body = request.json()
        return self.answers.get(body["module"], Response.json({"result": True, "errors": []}))

    def queries(self, module: str) -> list[dict]:
        return [r.json() for r in self.requests if r.path == "/query" and r.json()["module"] == module]


@pytest.fixture
def fake():
    with FakeModuleServer() as server:
        yield server


def run(fake, nodes, trigger="event-publish", timeout=5.0, **options):
    client = ModuleClient(fake.url, timeout=timeout)
    try:
        catalog = Catalog.from_modules(client.modules())
        wf = workflow_from_document(G.workflow(nodes, trigger), "t.json")
        return Runner(catalog, client, RunOptions(timeout=timeout, **options)).run(wf, EVENT)
    finally:
        client.close()


CHAIN = [G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3]}),
         G.node(3, "push-zmq", outputs={"output_1": []})]


@pytest.mark.parametrize("answer, reason", [
    (Response.text("<html><title>500: Internal Server Error</title></html>", 500, "text/html"),
     "the module server answered HTTP 500 to POST /query: <html><title>500: Internal Server Error</title></html>"),
    (Response.text("not json at all"), "the module server answered something that is not JSON: not json at all"),
    (Response.json([1, 2]), "the module server answered a JSON array, not an object"),
    (Response.json({"error": "Module 'webhook' failed: KeyError: 'url'"}),
     "Module 'webhook' failed: KeyError: 'url'"),
])
def test_garbage_is_a_node_error_with_the_reason(fake, answer, reason):
    fake.answers["webhook"] = answer
    result = run(fake, CHAIN)
    node = result.walk.trace[0]
    assert (node.status, node.result) == ("error", False)
    assert node.errors == [f"Error while executing module webhook. Error: {reason}"]
    assert result.log[0] == node.errors[0]
    assert result.walk.executed == ["2", "3"]  # non-blocking node on a blocking path: the walk goes on


def test_slow_module_times_out_into_a_node_error(fake):
    fake.answers["webhook"] = Response.json({"result": True})
    fake.answers["webhook"].delay = 30  # the fake waits until it is closed
    result = run(fake, CHAIN, timeout=0.5)
    node = result.walk.trace[0]
    assert node.status == "error" and "did not answer within 1.5 s" in node.errors[0]
    assert node.duration < 10


def test_server_down_is_a_node_error_not_a_success(fake):
    lister = ModuleClient(fake.url, timeout=2)
    catalog = Catalog.from_modules(lister.modules())
    lister.close()
    fake.close()
    wf = workflow_from_document(G.workflow(CHAIN), "t.json")
    client = ModuleClient(fake.url, timeout=2)
    result = Runner(catalog, client, RunOptions()).run(wf, EVENT)
    assert [n.status for n in result.walk.trace] == ["error", "error"]
    assert result.walk.trace[0].errors == [f"Error while executing module webhook. Error: cannot connect to "
                                           f"the module server at {fake.url} (connection refused)"]


def test_module_list_unreachable_raises(fake):
    url = fake.url
    fake.close()
    with pytest.raises(ModuleCallError, match="cannot connect"):
        ModuleClient(url, timeout=1).modules()


def test_blocking_misp_module_blocks_only_with_error_and_a_timeout_blocks_too(fake):
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "policy_gate", outputs={"output_1": [3]}),
             G.node(3, "webhook", outputs={"output_1": []})]
    fake.answers["policyGate"] = Response.json({"data": False})  # MISP: not a failure
    result = run(fake, nodes)
    assert result.outcome == "success" and result.walk.executed == ["2", "3"]
    fake.answers["policyGate"] = Response.json({"error": "not allowed"})
    result = run(fake, nodes)
    assert (result.outcome, result.walk.executed) == ("failure", ["2"])
    assert result.errors == ["Node `policy_gate` (2) from Workflow `Workflow for trigger event-publish` (1) "
                             "returned the following error: not allowed"]
    fake.answers["policyGate"] = Response.text("<html>502</html>", 502, "text/html")  # MISP: success!
    result = run(fake, nodes)
    assert result.outcome == "failure" and result.walk.trace[0].status == "error"


def test_misp_module_request_is_misps_body(fake):
    node = G.node(2, "mattermost", params={"mattermost_hostname": "chat.local", "message_template": "{{ Event.info }}!",
                                           "data_extraction_path": "Event.Tag.{n}.name", "ignored": "x"},
                  filters={"selector": "Event._AttributeFlattened.{n}", "value": "tlp:red", "operator": "in",
                           "path": "Tag.{n}.name"}, outputs={"output_1": []})
    result = run(fake, [G.trigger(1, "event-publish", [2]), node])
    assert result.outcome == "success"
    (body,) = fake.queries("mattermost")
    assert body["params"] == {"mattermost_hostname": "chat.local", "message_template": "x!",
                              "data_extraction_path": "Event.Tag.{n}.name"}
    assert body["matchingData"] == {"Data Extraction Path": ["tlp:white"]}
    assert [i["id"] for i in body["filteredItems"]] == ["1"]  # the attribute tagged tlp:red
    assert body["data"]["Event"]["_AttributeFlattened"][0]["_allTags"][0] == {"name": "tlp:white", "inherited": True}
    assert body["node"]["id"] == "2" and body["trigger"]["id"] == "event-publish" and body["dry_run"] is False


def test_misp_module_without_match_gets_whole_data_and_unset_params_are_empty(fake):
    node = G.node(2, "mattermost", filters={"selector": "Event._AttributeFlattened.{n}", "value": "nothing",
                                            "operator": "in", "path": "Tag.{n}.name"}, outputs={"output_1": []})
    run(fake, [G.trigger(1, "event-publish", [2]), node])
    (body,) = fake.queries("mattermost")
    assert body["filteredItems"] == body["data"]  # MISP's fallback: nothing matched, the whole data
    assert body["params"] == {"mattermost_hostname": "", "message_template": "", "data_extraction_path": ""}
    assert body["matchingData"] == {"Data Extraction Path": body["data"]}  # empty path: the whole data


def test_runner_module_data_replaces_roaming_data_but_misp_module_data_is_ignored(fake):
    fake.answers["webhook"] = Response.json({"result": True, "errors": [], "data": {"Event": {"id": "new"}}})
    fake.answers["mattermost"] = Response.json({"data": {"Event": {"id": "ignored"}}})
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3]}),
             G.node(3, "mattermost", outputs={"output_1": [4]}), G.node(4, "push-zmq", outputs={"output_1": []})]
    result = run(fake, nodes)
    assert fake.queries("mattermost")[0]["data"] == {"Event": {"id": "new"}}
    assert fake.queries("push_zmq")[0]["data"] == {"Event": {"id": "new"}} and result.data == {"Event": {"id": "new"}}


def test_changes_are_reported_with_their_node_and_folded_into_the_stored_event(fake):
    fake.answers["tag_operation"] = Response.json({"result": True, "errors": [], "changes": [
        {"op": "attach_tag", "scope": "event", "uuid": "u-7", "tag": "tlp:clear", "local": True,
         "relationship_type": None}]})
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "tag_operation", outputs={"output_1": []})]
    result = run(fake, nodes)
    assert result.stored.changes == [{"op": "attach_tag", "scope": "event", "uuid": "u-7", "tag": "tlp:clear",
                                      "local": True, "relationship_type": None, "node": "2"}]
    assert [t["name"] for t in result.stored.event["Event"]["Tag"]] == ["tlp:white", "tlp:clear"]
    assert [t["name"] for t in result.data["Event"]["Tag"]] == ["tlp:white"]  # roaming data unchanged


def test_connections_are_reused(fake):
    result = run(fake, CHAIN)
    assert result.outcome == "success"
    ports = {r.headers.get("Host") for r in fake.requests}
    assert len(fake.requests) == 3 and len(ports) == 1


def test_one_client_serves_threads(fake):
    client = ModuleClient(fake.url, timeout=5)
    errors = []

    def work():
        try:
            for _ in range(20):
                assert client.query({"module": "webhook"})[0]["result"] is True
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    assert errors == [] and len([r for r in fake.requests if r.path == "/query"]) == 80


def test_a_connection_the_server_closed_while_idle_is_replaced_once():
    """The server answers keep-alive, then closes the socket: the next request fails on the
    reused connection before any answer and is sent again on a new one."""
    import socketserver

    served = []

    class OneShot(socketserver.BaseRequestHandler):
        def handle(self):
            data = b""
            while b"\r\n\r\n" not in data:
                data += self.request.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int([line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0].split(b":")[1])
            while len(body) < length:
                body += self.request.recv(65536)
            served.append(json.loads(body))
            answer = b'{"result": true, "errors": []}'
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(answer)).encode() + b"\r\n\r\n" + answer)
            # returning closes the socket although the answer promised keep-alive

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), OneShot)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = ModuleClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=5)
        for i in range(3):
            assert client.query({"module": "m", "i": i})[0] == {"result": True, "errors": []}
        assert [b["i"] for b in served] == [0, 1, 2]  # each sent exactly once
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_stored_event_goes_to_modules_that_need_it_with_the_changes_so_far(fake):
    fake.answers["tag_operation"] = Response.json({"result": True, "errors": [], "changes": [
        {"op": "attach_tag", "scope": "event", "uuid": "u-7", "tag": "tlp:clear", "local": True,
         "relationship_type": None}]})
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "reload-full-event", outputs={"output_1": [3]}),
             G.node(3, "tag_operation", outputs={"output_1": [4]}), G.node(4, "reload-full-event", outputs={"output_1": []})]
    run(fake, nodes)
    first, second = fake.queries("reload_full_event")
    assert [t["name"] for t in first["stored_event"]["Event"]["Tag"]] == ["tlp:white"]
    assert [t["name"] for t in second["stored_event"]["Event"]["Tag"]] == ["tlp:white", "tlp:clear"]
    assert "stored_event" not in fake.queries("tag_operation")[0]


# --- the module's own time and the collector ----------------------------------------------------

@pytest.mark.parametrize("header, module_ms", [
    ('total;dur=20, module;dur=12.5;desc="handler"', 12.5),
    ("module;dur=0.25", 0.25),
    ("module;desc=no-duration", None),
    ("module;dur=soon", None),
    ("db;dur=3", None),
])
def test_module_time_from_server_timing(fake, header, module_ms):
    fake.answers["webhook"] = Response.json({"result": True, "errors": []}, headers={"Server-Timing": header})
    result = run(fake, CHAIN)
    node = result.walk.trace[0]
    line = next(x for x in text(result).splitlines() if " webhook: " in x)
    if module_ms is None:
        assert node.module_time is None and "module_ms" not in node.as_dict(PathTable())
        assert ", module " not in line
    else:
        assert node.module_time == pytest.approx(module_ms / 1000)
        assert node.as_dict(PathTable())["module_ms"] == module_ms
        assert line.endswith(f", module {module_ms:.1f} ms]")


class GcProbe(FakeModuleServer):
    """Records, for each query, whether the runner's process had the cyclic collector on (the
    fake serves from a thread of the test process, i.e. the runner's)."""

    def __init__(self) -> None:
        self.collector: list[bool] = []
        super().__init__()

    def handle(self, request):
        import gc

        if request.path == "/query":
            self.collector.append(gc.isenabled())
        return super().handle(request)


@pytest.mark.parametrize("enabled_before", [True, False])
def test_collector_paused_during_a_run_when_the_program_opts_in_and_restored(enabled_before):
    import gc

    with GcProbe() as probe:
        was = gc.isenabled()
        (gc.enable if enabled_before else gc.disable)()
        try:
            run(probe, CHAIN, pause_collector=True)
            after = gc.isenabled()
        finally:
            (gc.enable if was else gc.disable)()
    assert probe.collector == [False, False]
    assert after is enabled_before


def test_a_library_run_leaves_the_collector_alone():
    """``Runner.run`` from another program never switches its collector off (no opt-in)."""
    import gc

    with GcProbe() as probe:
        was = gc.isenabled()
        gc.enable()
        try:
            run(probe, CHAIN)
            after = gc.isenabled()
        finally:
            (gc.enable if was else gc.disable)()
    assert probe.collector == [True, True] and after is True


def test_the_commands_opt_into_pausing_the_collector():
    from runner.cli import Parser
    from runner.cmd_run import add_run_options, run_options
    from runner.mocks import Mocks
    from runner.options import add_module_options

    parser = Parser(prog="t")
    add_run_options(parser)
    add_module_options(parser)
    assert run_options(parser.parse_args([]), Mocks()).pause_collector is True


def test_credentials_in_the_url_are_basic_authentication_and_messages_show_the_callers_url(fake):
    base = fake.url.replace("http://", "http://user:p%40ss@")
    client = ModuleClient(base, timeout=5, name="the forward server", shown=fake.url)
    try:
        client.modules()
        assert fake.requests[-1].header("Authorization") == "Basic dXNlcjpwQHNz"  # user:p@ss
        fake.answers["tag_if"] = Response(500, b"down")
        with pytest.raises(ModuleCallError) as failure:
            client.query({"module": "tag_if"})
        assert str(failure.value).startswith("the forward server answered HTTP 500") and "p%40ss" not in str(failure.value)
    finally:
        client.close()
