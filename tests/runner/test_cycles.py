"""Cycles and exploding graphs: ``run`` refuses what MISP refuses to save (validate's check and
message) unless ``--allow-cycles``, and every run is bounded (``--max-executions``): MISP's only
loop guard is that an edge is not reused on one path, so a complete graph explodes."""

from __future__ import annotations

import json

import pytest

from runner.catalog import Catalog
from runner.engine import Runner, RunOptions
from runner.errors import InputError
from runner.loader import workflow_from_document
from runner.mocks import Mocks
from runner.validate import CYCLE
from tests.support import graphs as G
from tests.support.catalog import ENTRIES
from tests.support.cli import misp_workflow

EVENT = {"Event": {"id": "1", "info": "x"}}


def complete(size: int, trigger: str = "event-publish") -> list[dict]:
    """The trigger, then ``size`` IF nodes each connected to all the others."""
    ids = list(range(2, 2 + size))
    nodes = [G.trigger(1, trigger, [2])]
    for i in ids:
        n = G.logic_if(i, "generic-if", then=[j for j in ids if j != i])
        n["data"]["multiple_output_connection"] = True
        nodes.append(n)
    return nodes


def run(nodes, trigger="event-publish", **options):
    wf = workflow_from_document(G.workflow(nodes, trigger), "cyclic.json")
    mocks = Mocks.from_mapping({str(n["id"]): True for n in nodes[1:]}, "test")  # every IF: then
    return Runner(Catalog.from_modules(ENTRIES), None, RunOptions(mocks=mocks, **options)).run(wf, EVENT, trigger)


def test_a_cycle_is_refused_with_validates_message():
    with pytest.raises(InputError) as refused:
        run(complete(3))
    assert str(refused.value).startswith(f"cyclic.json: {CYCLE}: 2 (generic-if) → 3 (generic-if) → 2 (generic-if)")
    assert "--allow-cycles" in str(refused.value)


def test_allowed_a_cycle_is_walked_as_misp_walks_it():
    """MISP's engine on a complete graph of 3 IF nodes: 33 executions (walk conformance case
    oracle14-cycle-complete-logic-3)."""
    result = run(complete(3), allow_cycles=True)
    assert result.outcome == "success" and len(result.walk.trace) == 33


@pytest.mark.parametrize("trigger", ["event-publish", "event-after-save-new"])
def test_every_run_is_bounded(trigger):
    result = run(complete(5, trigger), trigger, allow_cycles=True, max_executions=500)
    assert result.outcome == "failure" and len(result.walk.trace) == 500
    assert result.errors == [
        "the run stopped after 500 walk steps (node executions and skipped paths, the --max-executions bound): the "
        "graph has too many paths (a cycle, or forks that join again); MISP has no bound and would keep walking"]


def test_skipped_paths_count_too():
    """Below a failed non-blocking action MISP still walks (and lists) every path."""
    nodes = complete(5, "event-after-save-new")
    nodes[0] = G.trigger(1, "event-after-save-new", [9])
    nodes.append(G.node(9, "webhook", outputs={"output_1": [2]}))
    wf = workflow_from_document(G.workflow(nodes, "event-after-save-new"), "t.json")
    mocks = Mocks.from_mapping({**{str(n["id"]): True for n in nodes[1:]}, "9": False}, "t")
    result = Runner(Catalog.from_modules(ENTRIES), None, RunOptions(mocks=mocks, allow_cycles=True,
                                                                    max_executions=300)).run(wf, EVENT)
    assert result.outcome == "failure" and "stopped after 300 walk steps" in result.errors[-1]


def test_a_concurrent_loop_queues_branches_until_the_bound():
    """MISP queues a job per pass for ever; the runner stops at the bound, branches included."""
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "concurrent-task", "logic", outputs={"output_1": [3]}),
             G.node(3, "webhook", outputs={"output_1": [2]})]
    result = run(nodes, allow_cycles=True, max_executions=50)
    branch_steps = sum(len(b.walk.trace) for b in result.branches)
    assert len(result.walk.trace) + branch_steps == 50
    assert "stopped after 50 walk steps" in result.branches[-1].walk.errors[0]


def test_the_cli_refuses_and_bounds(tmp_path, module_server):
    path = tmp_path / "k5.json"
    path.write_text(json.dumps(G.workflow(complete(5))))
    data = tmp_path / "event.json"
    data.write_text(json.dumps(EVENT))
    mocks = tmp_path / "mocks.json"
    mocks.write_text(json.dumps({str(i): True for i in range(2, 7)}))
    refused = misp_workflow("run", path, "--data", data, "--mocks", mocks)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and CYCLE in refused.stderr
    validated = misp_workflow("validate", path, "--offline")
    assert validated.returncode == 3 and CYCLE in validated.stdout
    bounded = misp_workflow("run", path, "--data", data, "--mocks", mocks, "--allow-cycles", "--json",
                            "--modules-url", module_server.url)  # mocked: only /modules is asked
    assert bounded.returncode == 3, bounded.stderr
    doc = json.loads(bounded.stdout)
    assert len(doc["nodes"]) == 10_000 and "stopped after 10,000 walk steps" in doc["errors"][0]
