"""Upstream misp-modules 3.1's action conventions, with upstream's own module unchanged:
``osquery_pack_publish`` (``returns = "data"``, a ``dry_run`` param, answers
``{"result_key": ..., "data": ...}``) served from upstream's published tree (``--upstream``) and run
by ``misp-workflow run``.

MISP reads only ``error`` from such an answer (docs/misp-behaviour.md §11.2): the runner records the
result (trace and ``--json``), never takes it for roaming data, carries it under its key only with
``--carry-module-data``, and its ``--dry-run`` reaches the module through the ``dry_run`` param.
"""

from __future__ import annotations

import json

import pytest

from runner.cli import EXIT_FAILURE
from tests.support import graphs as G
from tests.support.cli import misp_workflow, run_json
from tests.support.harness import ModuleServer
from tests.support.intel import attribute, raw_event
from tests.support.upstream import unpacked_root

SHA256 = "a" * 64
EVENT = raw_event([attribute(1, "sha256", SHA256, category="Payload delivery"),
                   attribute(2, "ip-dst", "198.51.100.9")])
PACK = "misp-demo.conf"


def workflow(dry_run: str = "false", pack: str = "demo") -> dict:
    return G.workflow([
        G.trigger(1, "event-publish", [2]),
        G.node(2, "osquery_pack_publish", params={"pack_name": pack, "dry_run": dry_run, "overwrite": "false"},
               outputs={"output_1": [3]}),
        G.logic_if(3, "generic-if", params={"hash_path": "osquery_pack_publish.status", "operator": "equals",
                                            "value": "published"}),
    ])


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    return tmp_path_factory.mktemp("osquery-packs")


@pytest.fixture(scope="module")
def server(packs):
    with ModuleServer(extra_args=["--upstream", str(unpacked_root())],
                      env={"OSQUERY_PACK_DIRECTORY": str(packs)}) as running:
        yield running


@pytest.fixture(autouse=True)
def empty(packs):
    for path in packs.iterdir():
        path.unlink()


def run_doc(server, tmp_path, wf: dict, *options: str, codes: tuple[int, ...] = (0,)) -> dict:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(wf))
    return run_json(path, EVENT, tmp_path, server.url, *options, codes=codes)


def test_result_is_recorded_not_taken_for_roaming_data(server, packs, tmp_path):
    doc = run_doc(server, tmp_path, workflow())
    publish, condition = doc["nodes"]
    assert publish["result"] is True and publish["result_key"] == "osquery_pack_publish"
    assert publish["result_data"]["status"] == "published" and publish["result_data"]["filename"] == PACK
    assert publish.get("data_ignored") is True and "data_changed" not in publish
    assert doc["data"]["Event"]["uuid"] == EVENT["Event"]["uuid"] and "osquery_pack_publish" not in doc["data"]
    # MISP ignores the result: the IF does not see it
    assert (condition["result"], condition["output"]) == (False, "output_2")
    assert (packs / PACK).is_file()


def test_carried_result_is_keyed_beside_the_event(server, packs, tmp_path):
    doc = run_doc(server, tmp_path, workflow(), "--carry-module-data")
    publish, condition = doc["nodes"]
    assert publish["data_carried"] is True
    assert doc["data"]["osquery_pack_publish"]["status"] == "published"
    assert doc["data"]["Event"]["uuid"] == EVENT["Event"]["uuid"]
    assert (condition["result"], condition["output"]) == (True, "output_1")


def test_runner_dry_run_reaches_the_module_through_its_param(server, packs, tmp_path):
    doc = run_doc(server, tmp_path, workflow(dry_run="false"), "--dry-run", "--carry-module-data")
    publish, condition = doc["nodes"]
    assert publish["result_data"]["status"] == "planned"
    assert (condition["result"], condition["output"]) == (False, "output_2")
    assert list(packs.iterdir()) == []


def test_error_on_failure_fails_the_node(server, packs, tmp_path):
    (packs / PACK).write_text("existing pack\n")
    doc = run_doc(server, tmp_path, workflow(), codes=(EXIT_FAILURE,))
    publish = doc["nodes"][0]
    assert publish["result"] is False and doc["outcome"] == "failure"
    # the module is blocking: MISP stops the publication, with upstream's error as the reason
    assert doc["caller_log"]["title"] == "Publishing stopped by a blocking workflow."
    assert "Pack already exists" in doc["caller_log"]["change"]
    assert any("Pack already exists" in e for e in publish["errors"])
    assert (packs / PACK).read_text() == "existing pack\n"


def test_readable_trace_names_the_result(server, packs, tmp_path):
    path, data = tmp_path / "workflow.json", tmp_path / "event.json"
    path.write_text(json.dumps(workflow(dry_run="true")))
    data.write_text(json.dumps(EVENT))
    done = misp_workflow("run", path, "--data", data, "--modules-url", server.url)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "osquery_pack_publish" in x)
    assert "result `osquery_pack_publish`:" in line and '"status":"planned"' in line
    assert "returned data ignored, as MISP does" in line
