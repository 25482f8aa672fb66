"""``misp-workflow`` end to end: the real CLI (a subprocess) against the real module server."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from tests.support import graphs as G
from tests.support.cli import misp_workflow, start_misp_workflow
from tests.support.data import BLUEPRINTS, SMALL_EVENT

PAP_TLP = BLUEPRINTS / "blueprint_pap_red-and-tlp_red-blocking_1661328258.json"
EVENT_FILE = SMALL_EVENT


@pytest.fixture
def red_event(tmp_path) -> Path:
    event = json.loads(EVENT_FILE.read_text())
    event["Event"]["Attribute"][2]["Tag"] = [{"name": "PAP:RED", "colour": "#cc0033", "exportable": True}]
    path = tmp_path / "red.json"
    path.write_text(json.dumps(event))
    return path


def test_blocked_run_readable_and_json(module_server, red_event):
    done = misp_workflow("run", PAP_TLP, "--data", red_event, "--modules-url", module_server.url)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "1 event-publish (trigger)"
    assert lines[2].startswith("  53 tag-if → output_1 (then)")
    assert lines[3].startswith("    54 stop-execution: FAILED (partial-success): Execution stopped")
    assert "Outcome: blocked — Node `stop-execution` (54) from Workflow `Workflow for trigger event-publish` (1) " \
           "returned the following error: Execution stopped" in done.stdout
    done = misp_workflow("run", PAP_TLP, "--data", red_event, "--modules-url", module_server.url, "--json")
    doc = json.loads(done.stdout)
    assert done.returncode == 1 and doc["outcome"] == "blocked" and doc["success"] is False
    assert [(n["node"], n["module"], n["kind"], n["status"]) for n in doc["nodes"]] == [
        ("53", "tag-if", "logic", "success"), ("54", "stop-execution", "action", "partial-success")]
    assert doc["nodes"][0]["output"] == "output_1" and doc["executed"] == ["54"] and doc["failed"] == ["54"]
    assert doc["changes"] == [] and doc["branches"] == []
    assert doc["event"] == json.loads(red_event.read_text())  # nothing stored changed
    assert doc["data"]["Event"]["_AttributeFlattened"][2]["_allTags"][-1]["name"] == "PAP:RED"
    assert doc["caller_log"]["title"] == "Publishing stopped by a blocking workflow."


def test_clean_event_succeeds(module_server):
    done = misp_workflow("run", PAP_TLP, "--data", EVENT_FILE, "--modules-url", module_server.url, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["outcome"] == "success" and doc["message"] == "" and doc["executed"] == []


@pytest.mark.parametrize("make, problem", [
    (lambda d: None, "workflow file not found: {wf}"),
    (lambda d: d.joinpath("wf.json").write_text("{oops"), "invalid JSON in workflow file {wf} (line 1, column 2)"),
    (lambda d: d.joinpath("wf.json").write_text('{"Event": {}}'), "not a MISP workflow: {wf} has no `Workflow`"),
])
def test_bad_workflow_is_one_line_exit_2(module_server, tmp_path, make, problem):
    make(tmp_path)
    wf = tmp_path / "wf.json"
    done = misp_workflow("run", wf, "--data", EVENT_FILE, "--modules-url", module_server.url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("misp-workflow run: " + problem.format(wf=wf))
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_bad_event_is_one_line_exit_2(module_server, tmp_path):
    for content, problem in (("[1]", "not a MISP event: {ev} holds a JSON array"),
                             ('{"Attribute": []}', "not a MISP event: {ev} has no `Event` key"),
                             ("", "event file is empty: {ev}")):
        ev = tmp_path / "ev.json"
        ev.write_text(content)
        done = misp_workflow("run", PAP_TLP, "--data", ev, "--modules-url", module_server.url)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("misp-workflow run: " + problem.format(ev=ev)) and done.stderr.count("\n") == 1


def test_pymisp_event_without_its_wrapper_runs_like_the_wrapped_one(module_server, red_event, tmp_path):
    """``MISPEvent.to_json()`` has no ``Event`` key; MISP's REST API wraps the same event."""
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(json.loads(red_event.read_text())["Event"]))
    wrapped = misp_workflow("run", PAP_TLP, "--data", red_event, "--modules-url", module_server.url, "--json")
    done = misp_workflow("run", PAP_TLP, "--data", bare, "--modules-url", module_server.url, "--json")
    assert done.returncode == wrapped.returncode == 1, done.stderr
    doc, expected = json.loads(done.stdout), json.loads(wrapped.stdout)
    assert doc["outcome"] == "blocked" and doc["data"] == expected["data"] and doc["nodes"][0]["output"] == "output_1"


def test_module_server_down_is_exit_3(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = misp_workflow("run", PAP_TLP, "--data", EVENT_FILE, "--modules-url", f"http://127.0.0.1:{port}")
    assert done.returncode == 3
    assert done.stderr == (f"misp-workflow run: cannot load the module list: cannot connect to the module server "
                           f"at http://127.0.0.1:{port} (connection refused)\n")


def test_log_file_and_mocks(module_server, red_event, tmp_path):
    log = tmp_path / "workflow-execution.log"
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(G.workflow([G.trigger(1, "event-publish", [2]),
                                         G.node(2, "push-zmq", outputs={"output_1": [3]}),
                                         G.node(3, "stop-execution", params={"message": "Stop {{ Event.info }}"})],
                                        wid=9, name="Guard")))
    done = misp_workflow("run", wf, "--data", red_event, "--modules-url", module_server.url, "--log-file", log,
               "--mock", '2={"success": false, "errors": ["zmq down"]}', "--json")
    doc = json.loads(done.stdout)
    assert done.returncode == 1
    info = json.loads(red_event.read_text())["Event"]["info"]
    assert doc["errors"] == ["Node `push-zmq` (2) from Workflow `Guard` (9) returned the following error: zmq down",
                             f"Node `stop-execution` (3) from Workflow `Guard` (9) returned the following error: Stop {info}"]
    assert doc["nodes"][0]["mocked"] is True and "mocked" not in doc["nodes"][1]
    text = log.read_text()
    assert re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] Workflow\(event-publish:9\)\. Execution stopped\. \n"
                    r"Node `push-zmq` \(2\)", text)


def test_debug_url_listener_and_replay(module_server, red_event, tmp_path):
    captures = tmp_path / "caps"
    listener = start_misp_workflow("debug-listener", "--port", "0", "--dir", captures, merge_stderr=True)
    try:
        first = listener.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", first).group(1))
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(listener.stdout), daemon=True)
        reader.start()
        done = misp_workflow("run", PAP_TLP, "--data", red_event, "--modules-url", module_server.url,
                   "--debug-url", f"http://127.0.0.1:{port}", "--json")
        assert done.returncode == 1
    finally:
        listener.terminate()
        listener.wait(10)
    (capture_file,) = sorted(captures.glob("*.json"))
    capture = json.loads(capture_file.read_text())
    assert capture["trigger_id"] == "event-publish" and capture["outcome"] == "blocked"
    assert capture["original"] == json.loads(red_event.read_text())
    assert [(s["module"], s["result"]) for s in capture["steps"]] == [("tag-if", "success"),
                                                                   ("stop-execution", "partial-success")]
    assert capture["steps"][1]["errors"] == ["Execution stopped"]
    assert [n["id"] for n in capture["walk_result"]["blocking_nodes"]] == [54]
    replay = misp_workflow("run", PAP_TLP, "--replay", capture_file, "--modules-url", module_server.url, "--json")
    assert replay.returncode == 1 and json.loads(replay.stdout)["executed"] == ["54"]


def test_validate_findings_and_exit_codes(module_server, tmp_path):
    cyclic = tmp_path / "cyclic.json"
    cyclic.write_text(json.dumps(G.workflow([G.trigger(1, "event-publish", [2]),
                                             G.node(2, "push-zmq", outputs={"output_1": [3]}),
                                             G.node(3, "tag_operation", outputs={"output_1": [2, 4]}),
                                             G.node(4, "push-zmq", outputs={"output_1": []})])))
    done = misp_workflow("validate", cyclic, "--modules-url", module_server.url)
    assert done.returncode == 3
    assert "error: node 2 (push-zmq): Cannot save a workflow containing a cycle: 2 (push-zmq) → 3 (tag_operation) " \
           "→ 2 (push-zmq)" in done.stdout
    assert "error: node 3 (tag_operation): Cannot save a workflow having more than one connection per output: " \
           "`output_1` connects to nodes 2, 4" in done.stdout
    done = misp_workflow("validate", PAP_TLP, "--modules-url", module_server.url, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["valid"] is True
    after = tmp_path / "after.json"
    after.write_text(json.dumps(G.workflow([G.trigger(1, "event-publish", [2]),
                                            G.node(2, "concurrent-task", "logic", outputs={"output_1": [3, 4]}),
                                            G.node(3, "push-zmq", outputs={"output_1": []}),
                                            G.node(4, "stop-execution")])))
    done = misp_workflow("validate", after, "--modules-url", module_server.url, "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["warnings"] == 1
    assert report["findings"] == [{"level": "warning", "code": "blocking-after-concurrent",
                                   "message": "This path leads to a blocking node from a non-blocking context "
                                              "(after concurrent-task node 2)",
                                   "node": "4", "module": "stop-execution", "edges": [["2", "4"]]}]
