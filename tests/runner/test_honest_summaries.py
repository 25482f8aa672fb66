"""What the text trace tells that MISP keeps quiet: lookups that all failed, an empty selection
MISP reports as a failed node, and data that would drive the terminal or forge log lines."""

from __future__ import annotations

import json
import socket

import pytest

from misp_modules.contract.reply import EMPTY_SELECTION
from tests.support import graphs as G
from tests.support.cli import misp_workflow
from tests.support.data import BLUEPRINTS, EVENTS
from tests.support.harness import ModuleServer

HASHLOOKUP = next(BLUEPRINTS.glob("blueprint_disable-to_ids-flag-for-existing-hash-in-hashlookup*.json"))
RANSOM = EVENTS / "57c4445b-c548-4654-af0b-4be3950d210f.json"


@pytest.fixture(scope="module")
def dead_hashlookup_server():
    """The module server with hashlookup pointed at a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    config = {"services": {"hashlookup": dead}, "modules": {"hashlookup": {"cache_ttl": 0, "http_timeout": 1.0}}}
    with ModuleServer(config=config) as server:
        yield server


def test_every_lookup_failed_is_said_in_the_text_trace(dead_hashlookup_server):
    done = misp_workflow("run", HASHLOOKUP, "--data", RANSOM, "--modules-url", dead_hashlookup_server.url)
    assert done.returncode == 0, done.stderr  # MISP: success (the errors are enrichment data)
    line = next(x for x in done.stdout.splitlines() if "attach-enrichment" in x)
    assert "attach-enrichment: ok; data changed [warning: every lookup failed (" in line
    assert "first error:" in line


def test_an_empty_selection_says_why(dead_hashlookup_server):
    done = misp_workflow("run", HASHLOOKUP, "--data", RANSOM, "--modules-url", dead_hashlookup_server.url, "--json")
    nodes = {n["module"]: n for n in json.loads(done.stdout)["nodes"]}
    flag = nodes["attribute_ids_flag_operation"]  # no hash known to hashlookup: nothing selected
    assert (flag["status"], flag["errors"], flag["warnings"]) == ("partial-success", [], [EMPTY_SELECTION])
    text = misp_workflow("run", HASHLOOKUP, "--data", RANSOM, "--modules-url", dead_hashlookup_server.url).stdout
    assert f"attribute_ids_flag_operation: FAILED (partial-success) [warning: {EMPTY_SELECTION}]" in text


CONTROL = "red\x1b[31m\r\x07\x00\u2028"


def test_control_bytes_are_escaped_in_the_text_and_the_log_file(module_server, tmp_path):
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "stop-execution", params={"message": "{{ Event.info }}"})]
    workflow = tmp_path / "wf.json"
    workflow.write_text(json.dumps(G.workflow(nodes, name=f"wf {CONTROL}")))
    data = tmp_path / "event.json"
    data.write_text(json.dumps({"Event": {"id": "1", "info": f"info {CONTROL}\nfake line"}}))
    log = tmp_path / "workflow-execution.log"
    done = misp_workflow("run", workflow, "--data", data, "--modules-url", module_server.url, "--log-file", log)
    assert done.returncode == 1
    for text in (done.stdout, log.read_text()):
        assert not any(ch in text for ch in "\x1b\r\x07\x00\u2028")
        assert "red\\x1b[31m\\r\\x07\\x00\\u2028" in text
    assert "info red\\x1b[31m\\r\\x07\\x00\\u2028\\nfake line" in done.stdout  # one node, one line
    assert len(log.read_text().splitlines()) == 3  # MISP's message spans two lines, the data's \n stays
