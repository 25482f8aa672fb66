"""Walk conformance: every case of tests/data/conformance/walk through the real runner and the
real module server (logic nodes and stop-execution run for real; every other action node is
answered by the case's scripted result through the runner's ``--mock`` mechanism).

Reads ``walk/golden-public.jsonl`` (MISP v2.5.1), ``walk-next/golden-public.jsonl`` (the logic
modules added after it: cases carry ``now``, the run's clock, and an optional ``module_set``, the
MISP module files installed), the cases generated with MISP's engine
(``tests/data/conformance/oracle/walk-*.jsonl``), plus any file of either format named by
``WALK_GOLDEN``.
Where MISP crashed (a PHP error), the case expects our clear behaviour instead (see CRASHES).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from misp_modules.semantics import php
from misp_modules.server.misp_nodes import ACTION_IDS
from runner.catalog import Catalog, Enablement, ModuleSpec
from runner.client import ModuleClient
from runner.debug_listener import CaptureStore, make_server
from runner.engine import Runner, RunOptions
from runner.loader import workflow_from_document
from runner.mocks import Mocks
from runner.walker import NO_WORKFLOW_USER
from tests.support.data import CONFORMANCE, generated

GOLDEN_DIR = Path(os.environ.get("WALK_CONFORMANCE_DIR", CONFORMANCE / "walk"))
NEXT_DIR = CONFORMANCE / "walk-next"

# A case's `module_set` (walk-next README): which MISP module files ran. The node's saved
# module_version already selects filter-tag 0.2 and aggregate_comparator_if 0.3; threat-level-if's
# two files are both 0.1, so that set is the run's MISP release.
MISP_RELEASE = {"default": None, "filter-tag-0.2": None, "aggregate-0.3": None, "threat-level-if-2.5.1": "2.5.1"}


def _load_cases() -> list[dict]:
    files = [GOLDEN_DIR / "golden-public.jsonl", NEXT_DIR / "golden-public.jsonl", *generated("walk")]
    if os.environ.get("WALK_GOLDEN"):
        files.append(Path(os.environ["WALK_GOLDEN"]))
    cases = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            cases += [json.loads(line) for line in handle if line.strip()]
    return cases


CASES = _load_cases()


@pytest.fixture(scope="module")
def debug_listener(tmp_path_factory):
    """MISP's debug URL in the cases' environment: a listener that accepts every post."""
    server = make_server("127.0.0.1", 0, CaptureStore(tmp_path_factory.mktemp("debug-captures")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def runner_parts(module_server, debug_listener):
    client = ModuleClient(module_server.url, timeout=30)
    # The conformance MISP had no misp-modules action service: those nodes do not load.
    catalog = Catalog.from_modules(client.modules(), action_services=False)
    yield client, catalog, debug_listener
    client.close()


# MISP built-in actions this server does not offer (checked by test_scripted_without_module):
# MISP's Splunk export and the custom-module example. A case that scripts one of them gets
# MISP's module table entry for it here (misp-behaviour.md §10.1: its id, non-blocking, its enable state),
# which is all a scripted node needs; every other built-in action must come from the server.
NOT_ON_SERVER = frozenset({"splunk-hec-export", "blueprint-action-module"})


def with_scripted_builtins(catalog: Catalog, workflow) -> Catalog:
    missing = {node["data"]["id"] for _, node in workflow.nodes()
               if node["data"]["module_type"] == "action" and node["data"]["id"] in NOT_ON_SERVER}
    if not missing:
        return catalog
    extra = {("action", mid): ModuleSpec(id=mid, module_type="action", name=mid, kind="runner") for mid in missing}
    return Catalog({**catalog.modules, **extra}, catalog.expansions, catalog.problems)


def test_scripted_without_module(runner_parts):
    """NOT_ON_SERVER is exactly the MISP built-in actions the server lacks: when a module for
    one of them lands, it leaves the list (and the cases run against the real module)."""
    _client, catalog, _debug = runner_parts
    offered = {mid for (kind, mid) in catalog.modules if kind == "action"}
    assert set(ACTION_IDS) - offered == NOT_ON_SERVER


def run_case(case: dict, client: ModuleClient, catalog: Catalog, debug_url: str):
    record = {"trigger_id": case["trigger_id"], **case["workflow"]}
    workflow = workflow_from_document({"Workflow": record}, f"case {case['id']}")
    catalog = with_scripted_builtins(catalog, workflow)
    if "enabled_modules" in case:
        enablement = Enablement(frozenset(case["enabled_modules"]), frozenset(case.get("disabled_modules", ())))
    else:
        enablement = Enablement(None, frozenset(case.get("disabled_modules", ())))
    # Scripted: every action node but stop-execution; a missing entry means success, no errors.
    scripted = {key: {} for key, node in workflow.nodes()
                if node["data"]["module_type"] == "action" and node["data"]["id"] != "stop-execution"}
    scripted.update(case.get("actions", {}))
    options = RunOptions(
        enablement=enablement, mocks=Mocks.from_mapping(scripted, case["id"]),
        host_org_id=case.get("host_org_id", 1), organisations=frozenset({"1"}),  # MISP's org 1 exists
        logging=case.get("logging", harness_logging(case["trigger_id"])), max_parallel=2,
        workflow_debug_url=debug_url,  # used when the case's workflow has debug mode on
        allow_cycles=True,  # the cases are graphs MISP holds (some hand-edited past its save checks)
        now=case.get("now", DEFAULT_NOW), misp_release=MISP_RELEASE[case.get("module_set", "default")],
    )
    return Runner(catalog, client, options).run(workflow, case["data"], case["trigger_id"])


DEFAULT_NOW = 1767225600  # the oracle's clock when a case gives none (2026-01-01T00:00:00Z)


# The triggers whose MISP caller the oracle harness models when a case gives no `logging`; for
# the others it passes MISP's generic descriptor (walk README: `logging` absent = the caller's).
HARNESS_CALLERS = frozenset({"event-publish", "event-before-save", "event-after-save", "event-after-save-new",
                             "event-after-save-new-from-pull"})


def harness_logging(trigger_id: str) -> dict | None:
    """None: the runner's own model of MISP's caller (the same as the harness's for these)."""
    return None if trigger_id in HARNESS_CALLERS else {"model": "Workflow", "action": "execute_workflow", "id": 0}


def php_json(value: Any) -> str:
    """The value as PHP encodes it after json_decode (filtered lists keep their keys)."""
    return php.dumps(php.loads(json.dumps(value)))


def trace_of(walk) -> list[dict]:
    out = []
    for r in walk.trace:
        entry = {"node": r.node, "module": r.module, "type": r.kind, "result": r.result, "status": r.status,
                 "errors": r.errors}
        if r.kind == "logic":
            entry["output"] = r.output
        if r.target is not None:
            entry["target"] = r.target
        out.append(entry)
    return out


def expected_trace(trace: list[dict]) -> list[dict]:
    keep = ("node", "module", "type", "result", "status", "errors", "output", "target")
    return [{k: t[k] for k in keep if k in t} for t in trace]


def compare_walk(ours, data_start, data_end, log, expected: dict, label: str) -> None:
    """``log`` is the runner's error log: the cases' ``log`` is MISP's always-on error log (in
    debug mode MISP writes its progress messages too, to the same sinks)."""
    assert ours is not None, f"{label}: no walk"
    assert ours.executed == expected["executed"], f"{label}: executed"
    assert ours.failed == expected["failed"], f"{label}: failed"
    assert ours.blocked_paths == expected["blocked_paths"], f"{label}: blocked_paths"
    assert ours.logic == expected["logic"], f"{label}: logic decisions"
    assert trace_of(ours) == expected_trace(expected["trace"]), f"{label}: trace"
    assert ours.errors == expected["errors"], f"{label}: errors"
    assert log == expected["log"], f"{label}: log"
    if "final_data" in expected:
        assert php_json(data_end) == php_json(expected["final_data"]), f"{label}: final data"
    else:
        assert php_json(data_end) == php_json(data_start), f"{label}: data should be unchanged"


def lineage(branches: list[dict], parent_key: str = "parent_job", id_key: str = "job_id") -> dict[tuple, dict]:
    """Branches keyed by their place in the queue tree (sibling index per parent, in job order),
    so our concurrently-run branches compare with MISP's sequential job numbering."""
    by_parent: dict[Any, list[dict]] = {}
    for b in sorted(branches, key=lambda b: b[id_key]):
        by_parent.setdefault(b[parent_key], []).append(b)
    ids = {b[id_key] for b in branches}
    keyed: dict[tuple, dict] = {}

    def visit(parent: Any, prefix: tuple) -> None:
        for i, b in enumerate(by_parent.get(parent, [])):
            key = prefix + (i,)
            keyed[key] = b
            visit(b[id_key], key)

    for root in [p for p in by_parent if p not in ids]:
        visit(root, ())
    return keyed


def check_crashed_walk(expected: dict, walk, label: str) -> bool:
    """MISP's walk ended with an uncaught PHP error (``exception``). We expect the same walk up
    to the node that crashed, and there a clear node error instead of the crash. A logic node
    fails closed (docs/runner.md): no output taken, and on a blocking path the walk ends there
    (MISP's request fails); a crashed action fails. What follows the crash cannot be compared
    (MISP never got there)."""
    if not expected.get("exception"):
        return False
    trace = expected_trace(expected.get("trace", []))
    crashed = [i for i, t in enumerate(expected.get("trace", [])) if t.get("exception")]
    if not crashed:
        return False
    i = crashed[0]
    assert trace_of(walk)[:i] == trace[:i], f"{label}: walk before the crash"
    node = walk.trace[i]
    assert (node.node, node.module) == (trace[i]["node"], trace[i]["module"]), f"{label}: the node MISP crashed on"
    assert node.result is not True and node.errors, f"{label}: a clear error where MISP crashed"
    if node.kind == "logic":
        assert node.undecided and node.output is None, f"{label}: no branch taken where MISP crashed"
        if node.closed == "stopped the run":
            assert walk.success is False and len(walk.trace) == i + 1, f"{label}: a blocking path stops there"
        else:
            assert node.closed == "skipped its paths", f"{label}: nothing below it runs"
    assert walk.success is not None, f"{label}: the walk completes"
    return True


def check_crash_case(case: dict, result) -> bool:
    """Where MISP crashed with a PHP error, we expect a clear result instead."""
    run = case["expected"]["run"]
    exc = run.get("exception")
    if not exc:
        return False
    if exc["class"] == "InvalidArgumentException" and not run.get("walked"):
        # no workflow user: MISP's job throws before walking; we fail with MISP's own error
        assert result.success is False and result.outcome == "failure"
        assert result.errors == [NO_WORKFLOW_USER] and result.walk.executed == []
        return True
    if not check_crashed_walk(run, result.walk, "run"):
        # MISP crashed outside any node (e.g. an unreachable debug URL in debug mode, §15.6):
        # what it did before the crash happened here too, and our run completed
        if run.get("trace"):
            assert trace_of(result.walk)[:len(run["trace"])] == expected_trace(run["trace"])
        assert result.outcome in ("success", "blocked", "failure")
        return True
    logic = result.walk.trace[len([t for t in run["trace"] if not t.get("exception")])]
    if case["expected"]["trigger"]["blocking"] and logic.kind == "logic":
        # MISP's request failed with the crash: the operation the trigger guards does not happen
        assert result.success is False and result.outcome == "failure", "a guard MISP crashed on fails closed"
    if logic.module == "distribution-if":  # §15.5: no Event.Attribute[0]
        assert "Event.Attribute[0]" in logic.errors[0]
    if logic.module == "generic-if":       # a regex condition on an array
        assert "generic-if" in logic.errors[0] and "array" in logic.errors[0]
    return True


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_walk_case(case, runner_parts):
    client, catalog, debug_url = runner_parts
    result = run_case(case, client, catalog, debug_url)
    expected = case["expected"]
    run = expected["run"]
    if check_crash_case(case, result):
        return
    assert result.success == run["success"], "success"
    if run["outcome"] is None:  # no walk: the graph's first trigger is not the case's trigger
        assert result.walk is None and result.errors == run["errors"] and result.error_log == run["log"]
    else:
        assert result.outcome == run["outcome"], "outcome"
        compare_walk(result.walk, result.start_data, result.data, result.error_log, run, "run")
    assert result.caller_log == expected["caller_log"], "caller_log"
    job = expected.get("trigger_job")
    if job is not None and job.get("message") is not None:
        assert result.job_message == job["message"], "trigger job message"
    elif job is not None:  # MISP's failure message crashes (one placeholder too many): ours is whole
        title = (case.get("logging") or {}).get("message") or "Error while executing workflow."
        assert result.job_message == (f"Error while executing workflow for trigger `{case['trigger_id']}`: "
                                      f"{title.rstrip('.')}. \nReturned message: {', '.join(result.errors)}")

    ours = lineage([{"job_id": b.job_id, "parent_job": b.parent_job, "b": b} for b in result.branches])
    theirs = lineage(expected["concurrent"])
    assert sorted(ours) == sorted(theirs), "concurrent branches (queue tree)"
    for key, exp in theirs.items():
        branch = ours[key]["b"]
        label = f"branch {exp['job_id']}"
        assert (branch.from_node, branch.start_node) == (exp["from_node"], exp["start_node"]), label
        start = exp.get("start_data", case_start(result))
        assert php_json(branch.start_data) == php_json(start), f"{label}: start data"
        if check_crashed_walk(exp, branch.walk, label):
            continue
        assert branch.walk.success == exp["success"], f"{label}: success"
        if exp.get("job_message") is not None or not exp.get("job_exception"):
            assert branch.job_message == exp.get("job_message"), f"{label}: job message"
        else:  # MISP's job crashed before saving its message: ours is MISP's message, whole
            assert branch.job_message.startswith(("Workflow concurrent task executed ",
                                                  "Error while executing workflow concurrent task. \n"))
        compare_walk(branch.walk, branch.start_data, branch.final_data, branch.error_log, exp, label)


def case_start(result) -> Any:
    return result.start_data
