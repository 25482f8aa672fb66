"""``--carry-module-data``: the data a MISP-facing misp-module returns reaches the next nodes only
when asked for. MISP reads nothing but ``error`` from a misp-module (misp-behaviour.md §6.4, §11.2), so by
default the runner ignores that data too and a workflow decides as it does in MISP.

The workflow: ``hashlookup_curation`` (a MISP-facing action; the hashlookup fake knows the
attribute's MD5, so the module returns the data with ``to_ids`` off), then ``generic-if``
"the attribute's ``to_ids`` equals 1". MISP still sees ``to_ids`` true and takes *then*; with
the option the IF sees the curated data and takes *else*.
"""

from __future__ import annotations

import json
import subprocess

from tests.support import graphs as G
from tests.support.cli import misp_workflow, run_json
from tests.support.intel import KNOWN, attribute, raw_event

EVENT = raw_event([attribute(1, "md5", KNOWN[0]["MD5"].lower(), category="Payload delivery")])
WORKFLOW = G.workflow([
    G.trigger(1, "event-publish", [2]),
    G.node(2, "hashlookup_curation", params={}, outputs={"output_1": [3]}),
    G.logic_if(3, "generic-if", params={"hash_path": "Event.Attribute.0.to_ids", "operator": "equals", "value": "1"}),
])


def run(server, tmp_path, *options: str) -> subprocess.CompletedProcess:
    workflow, data = tmp_path / "workflow.json", tmp_path / "event.json"
    workflow.write_text(json.dumps(WORKFLOW))
    data.write_text(json.dumps(EVENT))
    return misp_workflow("run", workflow, "--data", data, "--modules-url", server.url, *options)


def run_doc(server, tmp_path, *options: str) -> dict:
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps(WORKFLOW))
    return run_json(workflow, EVENT, tmp_path, server.url, *options)


def test_misp_behaviour_by_default_module_data_ignored(intel_server, hl_fake, tmp_path):
    doc = run_doc(intel_server, tmp_path)
    curation, condition = doc["nodes"]
    assert curation["node"] == "2" and curation["result"] is True
    assert curation.get("data_ignored") is True and "data_carried" not in curation and "data_changed" not in curation
    assert (condition["module"], condition["result"], condition["output"]) == ("generic-if", True, "output_1")
    assert doc["data"]["Event"]["Attribute"][0]["to_ids"] is True
    # the stored event changed all the same: the module reported its changes
    assert doc["event"]["Event"]["Attribute"][0]["to_ids"] is False


def test_carried_module_data_changes_the_decision(intel_server, hl_fake, tmp_path):
    doc = run_doc(intel_server, tmp_path, "--carry-module-data")
    curation, condition = doc["nodes"]
    assert curation["data_carried"] is True and curation["data_changed"] is True and "data_ignored" not in curation
    assert (condition["module"], condition["result"], condition["output"]) == ("generic-if", False, "output_2")
    assert doc["data"]["Event"]["Attribute"][0]["to_ids"] is False
    assert doc["event"]["Event"]["Attribute"][0]["to_ids"] is False


def test_readable_trace_says_whether_data_was_carried(intel_server, hl_fake, tmp_path):
    plain = run(intel_server, tmp_path)
    carried = run(intel_server, tmp_path, "--carry-module-data")
    assert plain.returncode == carried.returncode == 0, plain.stderr + carried.stderr
    line = next(x for x in plain.stdout.splitlines() if "hashlookup_curation" in x)
    assert "returned data ignored, as MISP does" in line and "carried" not in line
    line = next(x for x in carried.stdout.splitlines() if "hashlookup_curation" in x)
    assert "data carried (--carry-module-data)" in line and "ignored" not in line
    assert "3 generic-if → output_1 (then)" in plain.stdout
    assert "3 generic-if → output_2 (else)" in carried.stdout


def test_watch_accepts_the_option():
    done = misp_workflow("watch", "--help")
    assert done.returncode == 0 and "--carry-module-data" in done.stdout
