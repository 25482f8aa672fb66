"""The graph walk (misp-behaviour.md §5.4-§5.6) with scripted node results (the runner's ``--mock``).

Every expectation below is written from MISP's rules (docs/misp-behaviour.md), not from the runner's output.
"""

from __future__ import annotations

import pytest

from runner.catalog import Enablement
from runner.context import RunContext, RunOptions, WalkContext
from runner.loader import workflow_from_document
from runner.logfile import WorkflowLog
from runner.mocks import Mocks
from runner.records import WalkRecord
from runner.roaming import RoamingData
from runner.stored import StoredEvent
from runner.walker import NO_WORKFLOW_USER, GraphError, walk_graph
from tests.support import graphs as G
from tests.support.catalog import catalog


def walk(nodes, mocks=None, for_path="blocking", trigger="event-publish", enablement=Enablement(),
         user_ok=True, data=None, wname=None, wid=1):
    wf = workflow_from_document(G.workflow(nodes, trigger, wid=wid, name=wname), "test.json")
    scripted = {str(n["id"]): True for n in nodes}  # every node answers success unless told otherwise
    scripted.update(mocks or {})
    run = RunContext(workflow=wf, catalog=catalog(), client=None, render=lambda t, d: t,
                     trigger={"id": trigger, "blocking": for_path == "blocking", "misp_core_format": True},
                     stored=StoredEvent({}), user_ok=user_ok,
                     options=RunOptions(enablement=enablement, mocks=Mocks.from_mapping(scripted, "test")))
    ctx = WalkContext(run, WorkflowLog(trigger, wid), None)
    record = WalkRecord(start_node="1", for_path=for_path)
    roaming = RoamingData(data if data is not None else {"Event": {"id": "1"}})
    ok = walk_graph(ctx, "1", for_path, roaming, record)
    return ok, record, ctx, roaming


CHAIN = [G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3]}),
         G.node(3, "push-zmq", outputs={"output_1": [4]}), G.node(4, "send-mail", outputs={"output_1": []})]


def test_chain_runs_in_order():
    ok, rec, _, _ = walk(CHAIN)
    assert ok and rec.executed == ["2", "3", "4"] and rec.failed == [] and rec.errors == []


def test_non_blocking_failure_on_non_blocking_path_prunes_descendants_by_prefix():
    ok, rec, _, _ = walk(CHAIN, {"2": False}, for_path="non-blocking")
    assert ok is True
    assert rec.executed == ["2"] and rec.failed == ["2"]
    assert rec.blocked_paths == [["1:output_1:0:2", "2:output_1:0:3"],
                                 ["1:output_1:0:2", "2:output_1:0:3", "3:output_1:0:4"]]
    assert rec.errors == []  # failed without error messages: no blocking error line


def test_non_blocking_failure_on_blocking_path_skips_nothing():
    ok, rec, _, _ = walk(CHAIN, {"3": {"success": False, "errors": ["a", "b"]}})
    assert ok is True and rec.executed == ["2", "3", "4"] and rec.failed == ["3"]
    assert rec.errors == ["Node `push-zmq` (3) from Workflow `Workflow for trigger event-publish` (1) "
                          "returned the following error: a, b"]


def test_blocking_module_failure_stops_the_walk():
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "stop-execution", outputs={"output_1": [3]}),
             G.node(3, "webhook", outputs={"output_1": []})]
    ok, rec, _, _ = walk(nodes, {"2": {"success": False, "errors": ["stop"]}}, wname="Guard", wid=42)
    assert ok is False and rec.executed == ["2"] and rec.stopped_by_stop
    assert rec.errors == ["Node `stop-execution` (2) from Workflow `Guard` (42) returned the following error: stop"]


def test_exception_is_an_error_status_with_misp_wording():
    ok, rec, ctx, _ = walk(CHAIN, {"3": {"exception": "Connection refused"}})
    run = rec.trace[1]
    assert (run.status, run.result) == ("error", False)
    assert run.errors == ["Error while executing module push-zmq. Error: Connection refused"]
    assert ctx.log.errors() == ["Error while executing module push-zmq. Error: Connection refused"]
    assert ok and rec.executed == ["2", "3", "4"]


def test_node_reached_by_two_paths_runs_twice_and_edge_guard_stops_cycles():
    diamond = [G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3, 4]}),
               G.node(3, "push-zmq", outputs={"output_1": [5]}), G.node(4, "send-mail", outputs={"output_1": [5]}),
               G.node(5, "tag_operation", outputs={"output_1": []})]
    ok, rec, _, _ = walk(diamond)
    assert rec.executed == ["2", "3", "5", "4", "5"]
    cycle = [G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3]}),
             G.node(3, "push-zmq", outputs={"output_1": [2]})]
    ok, rec, _, _ = walk(cycle)
    assert ok and rec.executed == ["2", "3", "2"]


def test_if_outputs_and_missing_else():
    nodes = [G.trigger(1, "event-publish", [2]), G.logic_if(2, "tag-if", then=[3], else_=[4]),
             G.node(3, "webhook", outputs={"output_1": []}), G.node(4, "push-zmq", outputs={"output_1": []})]
    assert walk(nodes, {"2": True})[1].executed == ["3"]
    ok, rec, _, _ = walk(nodes, {"2": False})
    assert rec.executed == ["4"] and rec.logic == [{"node": "2", "module": "tag-if", "output": "output_2"}]
    only_then = [G.trigger(1, "event-publish", [2]), G.node(2, "tag-if", "logic", outputs={"output_1": [3]}),
                 G.node(3, "webhook", outputs={"output_1": []})]
    ok, rec, _, _ = walk(only_then, {"2": False})
    assert ok and rec.executed == [] and rec.logic[0]["output"] == "output_2"


def test_logic_errors_are_discarded_and_disabled_or_unknown_logic_takes_else():
    nodes = [G.trigger(1, "event-publish", [2]), G.logic_if(2, "tag-if", then=[3], else_=[4]),
             G.node(3, "webhook", outputs={"output_1": []}), G.node(4, "push-zmq", outputs={"output_1": []})]
    ok, rec, _, _ = walk(nodes, {"2": {"exception": "boom"}})
    assert rec.executed == ["4"] and rec.errors == [] and rec.trace[0].status == "error"
    ok, rec, ctx, _ = walk(nodes, enablement=Enablement.parse(None, ["tag-if"]))
    assert rec.trace[0].status == "disabled_module" and rec.executed == ["4"]
    assert ctx.log.errors() == ["Could not execute disabled module `tag-if`."]
    unknown = [G.trigger(1, "event-publish", [2]), G.logic_if(2, "ip-reputation-if", then=[3], else_=[4]),
               G.node(3, "webhook", outputs={"output_1": []}), G.node(4, "push-zmq", outputs={"output_1": []})]
    ok, rec, _, _ = walk(unknown)
    assert rec.trace[0].status == "loading_error" and rec.trace[0].errors == [
        "Could not load class for module: ip-reputation-if"] and rec.executed == ["4"]


def test_disabled_blocking_module_stops_and_unknown_action_is_non_blocking():
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "stop-execution", outputs={"output_1": [3]}),
             G.node(3, "webhook", outputs={"output_1": []})]
    ok, rec, _, _ = walk(nodes, enablement=Enablement.parse("misp-default", ["stop-execution"]))
    assert ok is False and rec.errors[0].endswith("Could not execute disabled module `stop-execution`.")
    mismatch = [G.trigger(1, "event-publish", [2]), G.node(2, "tag-if", "action", outputs={"output_1": [3]}),
                G.node(3, "webhook", outputs={"output_1": []})]
    ok, rec, _, _ = walk(mismatch)
    assert ok and rec.executed == ["2", "3"] and rec.trace[0].status == "loading_error"


def test_logic_below_a_pruned_node_still_runs():
    nodes = [G.trigger(1, "event-after-save-new", [2]), G.node(2, "webhook", outputs={"output_1": [3]}),
             G.logic_if(3, "tag-if", then=[4]), G.node(4, "push-zmq", outputs={"output_1": []})]
    ok, rec, _, _ = walk(nodes, {"2": False, "3": True}, for_path="non-blocking", trigger="event-after-save-new")
    assert rec.executed == ["2"] and rec.logic == [{"node": "3", "module": "tag-if", "output": "output_1"}]
    assert rec.blocked_paths == [["1:output_1:0:2", "2:output_1:0:3", "3:output_1:0:4"]]


def test_concurrent_task_queues_each_connection_and_stops_the_walk():
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "concurrent-task", "logic", outputs={"output_1": [3, 4]}),
             G.node(3, "webhook", outputs={"output_1": []}), G.node(4, "stop-execution", outputs=None)]
    ok, rec, ctx, roaming = walk(nodes, {"2": True})
    assert ok and rec.executed == []
    assert [(b.from_node, b.start_node, b.job_id) for b in ctx.queued] == [("2", "3", 1), ("2", "4", 2)]
    assert [r.enqueued for r in rec.trace] == [[{"job": 1, "start_node": "3"}], [{"job": 2, "start_node": "4"}]]
    # the walker put the target in the data; the (scripted) module did not remove it
    assert ctx.queued[1].start_data["__node_id_to_exec"] == 4


def test_disabled_concurrent_task_queues_nothing():
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "concurrent-task", "logic", outputs={"output_1": [3]}),
             G.node(3, "webhook", outputs={"output_1": []})]
    ok, rec, ctx, _ = walk(nodes, enablement=Enablement.parse(None, ["concurrent-task"]))
    assert ok and ctx.queued == [] and rec.trace[0].status == "disabled_module"


def test_branch_start_at_failing_action_prunes_whole_branch():
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3]}),
             G.node(3, "push-zmq", outputs={"output_1": []})]
    wf = workflow_from_document(G.workflow(nodes), "t.json")
    run = RunContext(workflow=wf, catalog=catalog(), client=None, render=lambda t, d: t,
                     trigger={"id": "event-publish", "blocking": True, "misp_core_format": True},
                     stored=StoredEvent({}), options=RunOptions(mocks=Mocks.from_mapping({"2": False}, "t")),
                     first_job=1)
    ctx = WalkContext(run, WorkflowLog("event-publish", 1), 1)
    rec = WalkRecord(start_node="2", for_path="non-blocking")
    assert walk_graph(ctx, "2", "non-blocking", RoamingData({}), rec) is True
    assert rec.executed == ["2"] and rec.blocked_paths == [["2:output_1:0:3"]]


def test_no_workflow_user_fails_before_walking():
    ok, rec, _, _ = walk(CHAIN, user_ok=False)
    assert ok is False and rec.errors == [NO_WORKFLOW_USER] and rec.executed == [] and not rec.walked


def test_connection_to_a_missing_node_is_a_graph_error():
    nodes = [G.trigger(1, "event-publish", [9])]
    with pytest.raises(GraphError, match="node `9`"):
        walk(nodes)


def test_deep_chain_does_not_hit_recursion_limit():
    n = 3000
    nodes = [G.trigger(1, "event-publish", [2])] + [
        G.node(i, "webhook", outputs={"output_1": [i + 1] if i < n else []}) for i in range(2, n + 1)]
    ok, rec, _, _ = walk(nodes)
    assert ok and len(rec.executed) == n - 1


def test_a_connection_target_is_cast_as_php_casts_it():
    """MISP's walker follows ``(int)$conn['node']``: ``"1e3"`` is node 1000 (PHP 8), not node 1."""
    nodes = [G.trigger(1, "event-publish", ["1e3"]), G.node(1000, "webhook", outputs={"output_1": []})]
    ok, rec, _, _ = walk(nodes)
    assert ok and rec.executed == ["1000"]
