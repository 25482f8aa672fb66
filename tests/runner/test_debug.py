"""MISP's debug protocol both ways (misp-behaviour.md §5.14) and the workflow log format (§5.13)."""

from __future__ import annotations

import json
import re
import threading

import pytest

from runner.debug import DebugPoster, DebugPostError
from runner.debug_listener import CaptureStore, load_capture, make_server
from runner.errors import InputError
from runner.logfile import WorkflowLog
from tests.support.fakes.base import FakeService, Response


class Recorder(FakeService):
    def handle(self, request):
        return Response.text("ok")


def test_poster_sends_misp_paths_bodies_and_content_type():
    with Recorder() as fake:
        poster = DebugPoster(fake.url, "event-publish")
        node = {"id": 3, "data": {"id": "tag-if", "saved_filters": {"selector": ""}, "indexed_params": {"scope": "event"}}}
        poster.init("blocking", {"Event": {"id": "1"}}, {"Event": {"id": "1", "_AttributeFlattened": []}})
        poster.exec("tag-if", "success", {"Event": {}}, node)
        poster.exec("push-zmq", "error", {"Event": {}}, node, message="Connection refused: 5 s")
        poster.end("blocked", {"executed_nodes": []})
    paths = [r.path + ("?" + "&".join(f"{k}={v[0]}" for k, v in r.query.items()) if r.query else "")
             for r in fake.requests]
    assert paths == ["/event-publish/init?type=blocking", "/event-publish/exec/tag-if?result=success",
                     "/event-publish/exec/push-zmq?result=error&message=Connection refused: 5 s",
                     "/event-publish/end?outcome=blocked"]
    assert all(r.header("Content-Type") == "application/x-www-form-urlencoded" for r in fake.requests)
    init, exec_, _, end = (r.json() for r in fake.requests)
    assert init["source"] == {"node_id": "", "module_id": "", "filters": "", "parameters": ""}
    assert init["data"] == {"original": {"Event": {"id": "1"}}, "normalized": {"Event": {"id": "1", "_AttributeFlattened": []}}}
    assert exec_["source"] == {"node_id": 3, "module_id": "tag-if", "filters": {"selector": ""},
                               "parameters": {"scope": "event"}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", exec_["timestamp"])
    assert "errors" not in exec_ and end["data"] == {"executed_nodes": []}


def test_unreachable_debug_url_is_a_clear_error():
    """MISP's run dies there (§15.6); the error names the URL, the cause and the way out."""
    with Recorder() as fake:
        url = fake.url
    poster = DebugPoster(url, "event-publish", timeout=1)
    with pytest.raises(DebugPostError, match=r"POST to http://127\.0\.0\.1:\d+/event-publish/exec/x failed "
                                             r"\(connection refused\).*debug-listener"):
        poster.exec("x", "success", {})  # the fake is closed: connection refused
    assert poster.failures == 1


@pytest.fixture
def listener(tmp_path):
    store = CaptureStore(tmp_path / "caps")
    server = make_server("127.0.0.1", 0, store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", store
    server.shutdown()
    server.server_close()


def test_listener_stores_one_capture_per_run_and_branch_posts_after_the_end(listener):
    url, store = listener
    poster = DebugPoster(url, "event-publish")
    poster.init("blocking", {"Event": {"id": "7"}}, {"Event": {"id": "7", "_AttributeFlattened": []}})
    poster.exec("tag-if", "success", {"Event": {"id": "7"}}, {"id": 2, "data": {"id": "tag-if"}})
    poster.end("success", {"executed_nodes": []})
    poster.exec("webhook", "partial-success", {"Event": {"id": "7"}}, {"id": 5, "data": {"id": "webhook"}},
                errors=["down"])
    assert len(store.written) == 1
    capture = load_capture(str(store.written[0]))
    assert capture["trigger_id"] == "event-publish" and capture["for_path"] == "blocking"
    assert capture["original"] == {"Event": {"id": "7"}} and capture["outcome"] == "success"
    assert [(s["module"], s["result"]) for s in capture["steps"]] == [("tag-if", "success")]
    assert [(s["module"], s["errors"]) for s in capture["branch_steps"]] == [("webhook", ["down"])]


def test_a_run_without_end_is_kept_and_replayable(listener):
    url, store = listener
    poster = DebugPoster(url, "tag-attached-after-save")
    poster.init("non-blocking", {"Tag": {"id": 1}}, {"Event": {}})  # condition failed: no /end
    poster.init("non-blocking", {"Tag": {"id": 2}}, {"Event": {}})
    assert len(store.written) == 2
    assert load_capture(str(store.written[0]))["original"] == {"Tag": {"id": 1}}


def test_load_capture_rejects_other_files(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"Event": {}}))
    with pytest.raises(InputError, match="not a debug-listener capture"):
        load_capture(str(path))


def test_log_file_lines_follow_misp_format(tmp_path):
    path = tmp_path / "workflow-execution.log"
    log = WorkflowLog("event-publish", 3, debug=False, path=str(path))
    log.error("Execution stopped. \nNode `stop-execution` (4) ...")
    log.debug("Started executing workflow")  # not in debug mode: not written
    branch = log.scoped()
    branch.error("Error while executing workflow concurrent task. \nx")
    log.close()
    text = path.read_text()
    stamp = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] Workflow\(event-publish:3\)\. "
    assert re.fullmatch(stamp + r"Execution stopped\. \nNode `stop-execution` \(4\) \.\.\.\n" +
                        stamp + r"Error while executing workflow concurrent task\. \nx\n", text)
    assert log.errors() == ["Execution stopped. \nNode `stop-execution` (4) ..."]
    assert branch.errors() == ["Error while executing workflow concurrent task. \nx"]
