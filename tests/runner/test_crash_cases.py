"""Where MISP crashes (misp-behaviour.md §15 and the walk conformance cases with a PHP error), the runner
gives a clear result instead; and the trigger-level rules that decide whether a walk happens
at all (§4.4 condition, §5.2 normalisation, §5.1 start node, §5.3 workflow user)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from misp_modules.contract.client import ModuleClient
from runner.catalog import Catalog
from runner.debug_listener import CaptureStore, make_server
from runner.engine import Runner, RunOptions
from runner.jinja import Renderer
from runner.loader import workflow_from_document
from runner.walker import NO_WORKFLOW_USER
from tests.support import graphs as G

EVENT = {"Event": {"id": "7", "uuid": "e-7", "info": "Ransom note", "org_id": "1", "orgc_id": "1", "distribution": "1",
                   "published": False, "Tag": [{"name": "tlp:white"}],
                   "Object": [{"id": "3", "name": "file", "distribution": "5",
                               "Attribute": [{"id": "1", "uuid": "a-1", "type": "md5", "value": "x", "object_id": "3",
                                              "distribution": "5", "Tag": []}]}]}}


@pytest.fixture(scope="module")
def debug_listener(tmp_path_factory):
    server = make_server("127.0.0.1", 0, CaptureStore(tmp_path_factory.mktemp("captures")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def parts(module_server):
    client = ModuleClient(module_server.url, timeout=10)
    yield client, Catalog.from_modules(client.modules())
    client.close()


def run(parts, nodes, data=EVENT, trigger="event-publish", **options):
    client, catalog = parts
    wf = workflow_from_document(G.workflow(nodes, trigger), "t.json")
    return Runner(catalog, client, RunOptions(**options)).run(wf, data, trigger)


def stop(nid, message="stopped"):
    return G.node(nid, "stop-execution", params={"message": message})


def test_filter_reset_without_filter_wipes_or_fails_closed(parts):
    """§15.1: MISP wipes the data with ``all`` (faithful) and crashes with a label: a clear
    error, and the blocking path the reset is on stops (fail closed)."""
    def nodes(label):
        return [G.trigger(1, "event-publish", [2]),
                G.node(2, "generic-filter-reset", "logic", params={"filtering-label": label}, outputs={"output_1": [3]}),
                G.logic_if(3, "tag-if", then=[4], params={"scope": "event", "condition": "in_or", "tags": ["tlp:white"]}),
                stop(4)]
    wiped = run(parts, nodes("all"))
    assert wiped.data == {"enabledFilters": []} and wiped.outcome == "success"  # the tag is gone with the data
    crashed = run(parts, nodes("A"))
    reset = crashed.walk.trace[0]
    assert (reset.undecided, reset.output, reset.closed) == (True, None, "stopped the run")
    assert crashed.outcome == "failure" and len(crashed.walk.trace) == 1
    assert "no filter to remove" in crashed.errors[0] and crashed.errors[0].startswith("Node `generic-filter-reset` (2)")


def test_reset_of_one_label_removes_every_filter(parts):
    """§15.2 (faithful): the snapshot predates every filter."""
    nodes = [G.trigger(1, "event-publish", [2]),
             G.node(2, "generic-filter-data", "logic", outputs={"output_1": [3]},
                    params={"filtering-label": "A", "selector": "Event._AttributeFlattened.{n}", "value": "sha1",
                            "operator": "in", "hash_path": "type"}),
             G.node(3, "generic-filter-data", "logic", outputs={"output_1": [4]},
                    params={"filtering-label": "B", "selector": "Event._AttributeFlattened.{n}", "value": "x",
                            "operator": "in", "hash_path": "value"}),
             G.node(4, "generic-filter-reset", "logic", params={"filtering-label": "B"}, outputs={"output_1": []})]
    result = run(parts, nodes)
    assert result.data == result.start_data  # the snapshot of filter A, which has no enabledFilters


def test_jinja_renders_locally_when_the_service_is_unreachable():
    """§15.3: MISP crashes with a TypeError; a failing template renders as ""."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    render = Renderer(ModuleClient(dead, timeout=1), use_server=True)
    assert render("{{ Event.info }} ({{ Event.Tag|length }})", EVENT) == "Ransom note (1)"
    assert render("{{ Event.info", EVENT) == ""
    assert render("{{ ''.__class__.__mro__ }}", EVENT) == ""  # the sandbox refuses


def test_local_rendering_is_said_in_a_note(parts):
    """A server without jinja_template_rendering: MISP's run dies (§15.3); ours renders and says so."""
    client, catalog = parts
    without = Catalog(catalog.modules, frozenset(), catalog.problems)  # no expansion modules
    wf = workflow_from_document(G.workflow([G.trigger(1, "event-publish", [2]), stop(2, "{{ Event.info }}")]), "t.json")
    result = Runner(without, client).run(wf, EVENT, "event-publish")
    assert result.errors[0].endswith("returned the following error: Ransom note")
    assert any("templates rendered locally: the module server does not offer jinja_template_rendering" in n
               for n in result.notes)
    assert not run(parts, [G.trigger(1, "event-publish", [2]), stop(2, "{{ Event.info }}")]).notes


@pytest.mark.parametrize("template", ["hi {{ Event.info }}\n", "hi {{ Event.info }}\r\n", "hi {{ Event.info }}"])
def test_a_template_renders_the_same_text_locally_and_through_the_server(parts, template):
    """One render path (misp_modules.contract.jinja): Jinja's default drops one trailing newline
    of the template, through the server's jinja_template_rendering as in the local fallback."""
    client, catalog = parts
    without = Catalog(catalog.modules, frozenset(), catalog.problems)
    nodes = [G.trigger(1, "event-publish", [2]), stop(2, template)]
    wf = workflow_from_document(G.workflow(nodes), "t.json")
    local, served = Runner(without, client).run(wf, EVENT, "event-publish"), run(parts, nodes)
    assert local.errors == served.errors and served.errors[0].endswith("error: hi Ransom note")
    assert local.notes and not served.notes


def test_broken_template_message_falls_back_to_the_default(parts):
    result = run(parts, [G.trigger(1, "event-publish", [2]), stop(2, "{{ Event.info | nosuchfilter }}")])
    assert result.errors == ["Node `stop-execution` (2) from Workflow `Workflow for trigger event-publish` (1) "
                             "returned the following error: Execution stopped"]


def test_distribution_if_without_attribute(parts):
    """§15.5: MISP dereferences Event.Attribute[0] and crashes; the module says so
    (docs/semantics.md) and the guard fails closed: no branch, the blocking run stops."""
    nodes = [G.trigger(1, "event-publish", [2]),
             G.logic_if(2, "distribution-if", then=[3], else_=[4],
                        params={"scope": "attribute", "condition": "equals", "distribution": "1"}),
             stop(3, "community"), stop(4, "other")]
    result = run(parts, nodes)  # objects only: no Event.Attribute[0]
    node = result.walk.trace[0]
    assert node.undecided and node.output is None and "Event.Attribute[0]" in node.errors[0]
    assert result.outcome == "failure" and result.walk.executed == []


def test_unreachable_debug_url_stops_the_run_with_a_clear_error(parts):
    """§15.6: MISP's run dies when its debug URL cannot be reached: here the run fails at the
    same point (the first post, before the walk) and says why."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = run(parts, [G.trigger(1, "event-publish", [2]), stop(2)], debug_url=dead)
    assert (result.outcome, result.success, result.walk) == ("failure", False, None)
    (error,) = result.errors
    assert error.startswith(f"debug mode: the POST to {dead}/event-publish/init failed (connection refused)")
    assert "misp-workflow debug-listener" in error
    assert result.log == ["Started executing workflow for trigger `event-publish` (1)", error]


def test_debug_mode_logs_progress_beside_errors(parts, debug_listener):
    """§5.13: in debug mode the progress messages join the errors in MISP's log."""
    result = run(parts, [G.trigger(1, "event-publish", [2]), stop(2)], debug_url=debug_listener)
    assert result.outcome == "blocked"
    stopped = ("Node `stop-execution` (2) from Workflow `Workflow for trigger event-publish` (1) returned the "
               "following error: stopped")
    assert result.log == [
        "Started executing workflow for trigger `event-publish` (1)",
        "Executed node `stop-execution`\nNode `stop-execution` (2) from Workflow `Workflow for trigger event-publish` "
        "(1) executed successfully with status: partial-success",
        "Execution stopped. \n" + stopped,
        "Finished executing workflow for trigger `event-publish` (1). Outcome: blocked"]
    assert result.error_log == ["Execution stopped. \n" + stopped]


def test_debug_mode_branch_dies_where_misps_job_has_no_logger(parts, debug_listener):
    """§15.6: a concurrent-task job in debug mode crashes at its first progress message (after
    its first node ran), unless an error created the logger first."""
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "concurrent-task", "logic", outputs={"output_1": [3, 5]}),
             G.node(3, "no_such_module", outputs={"output_1": [4]}), G.node(4, "push-zmq"),
             G.node(5, "push-zmq", outputs={"output_1": [6]}), G.node(6, "push-zmq")]
    result = run(parts, nodes, debug_url=debug_listener, dry_run=True)
    assert result.outcome == "success"
    first, second = result.branches
    assert [n.node for n in first.walk.trace] == ["3"] and first.walk.success  # an error created the logger
    assert first.walk.blocked_paths == [["3:output_1:0:4"]]  # below a failed node on a non-blocking path
    (died,) = second.walk.trace
    assert (died.node, died.status, died.result, second.walk.success) == ("5", "error", False, False)
    assert died.aborted and "concurrent-task job crashes here in debug mode" in second.walk.errors[0]


def test_php_error_in_a_module_is_a_clear_node_error(parts):
    """§15.7 / conformance syn-edge-regex-on-array: MISP's TypeError escapes the run."""
    nodes = [G.trigger(1, "event-publish", [2]),
             G.logic_if(2, "generic-if", then=[3], else_=[4],
                        params={"operator": "any_value", "hash_path": "Event._AttributeFlattened.{n}[Tag=/tlp/].value"}),
             stop(3, "then"), stop(4, "else")]
    data = json.loads(json.dumps(EVENT))
    data["Event"]["Object"][0]["Attribute"][0]["Tag"] = [{"name": "tlp:white"}]
    result = run(parts, nodes, data)
    node = result.walk.trace[0]
    assert node.result is None and node.output is None and "preg_match" in node.errors[0]
    assert result.outcome == "failure" and "preg_match" in result.errors[0]  # neither then nor else ran


def test_no_workflow_user_is_misps_own_error(parts):
    """Conformance syn-edge-no-workflow-user: MISP throws InvalidArgumentException in the job."""
    result = run(parts, [G.trigger(1, "event-after-save-new", [2]), stop(2)], trigger="event-after-save-new",
                 host_org_id=7, organisations=frozenset({"1"}))
    assert (result.outcome, result.errors, result.walk.executed) == ("failure", [NO_WORKFLOW_USER], [])
    assert result.log == ["Execution stopped. \n" + NO_WORKFLOW_USER]
    ok = run(parts, [G.trigger(1, "event-publish", [2]), stop(2)], host_org_id=1)  # the event's own org exists
    assert ok.outcome == "blocked"


def test_failed_non_blocking_run_has_a_whole_job_message(parts):
    """MISP's job message for a failed non-blocking run has a placeholder too many (ValueError)."""
    result = run(parts, [G.trigger(1, "event-after-save-new", [2]), stop(2, "late")], trigger="event-after-save-new")
    assert result.job_message == ("Error while executing workflow for trigger `event-after-save-new`: Error while "
                                  "executing workflow. \nReturned message: Node `stop-execution` (2) from Workflow "
                                  "`Workflow for trigger event-after-save-new` (1) returned the following error: late")
    ok = run(parts, [G.trigger(1, "event-after-save-new", [])], trigger="event-after-save-new")
    assert ok.job_message == "Workflow for trigger `event-after-save-new` completed execution"


def test_connection_to_a_missing_node_fails_clearly(parts):
    result = run(parts, [G.trigger(1, "event-publish", [9])])
    assert result.outcome == "failure"
    assert result.errors == ["a connection leads to node `9`, which is not in the workflow graph"]


def test_invalid_start_node(parts):
    nodes = [G.trigger(1, "event-before-save", [2]), stop(2)]
    client, catalog = parts
    wf = workflow_from_document({"Workflow": {"id": 1, "name": "w", "trigger_id": "event-publish",
                                              "data": {str(n["id"]): n for n in nodes}}}, "t.json")
    result = Runner(catalog, client).run(wf, EVENT, "event-publish")
    assert (result.success, result.errors, result.walk) == (False, ["Invalid start node `-1`"], None)
    assert result.caller_log["change"] == "Returned message: Invalid start node `-1`"


def test_normalisation_failure_texts(parts):
    result = run(parts, [G.trigger(1, "event-report-after-save", [2]), stop(2)], {"Event": {}},
                 trigger="event-report-after-save")
    assert result.outcome_text == "failure Error while normalizing data for trigger. Invalid input."
    assert result.outcome == "failure" and result.walk is None and result.errors == []


TAG_TRIGGER = "tag-attached-after-save"


@pytest.mark.parametrize("params, tag, runs", [
    ({}, {"name": "x", "event_id": "7", "local": 1}, True),                          # defaults: local event tags
    ({}, {"name": "x", "event_id": "7", "local": 0}, False),
    ({}, {"name": "x", "event_id": "7", "attribute_id": "1"}, False),                # attribute tag, event scope
    ({"scope": "attribute", "locality": "global"}, {"name": "x", "event_id": "7", "attribute_id": "1"}, True),
    ({"scope": "attribute", "locality": "local"}, {"name": "x", "event_id": "7", "attribute_id": "1"}, False),
    ({"scope": "any", "locality": "any", "tag": "tlp:red"}, {"name": "tlp:red", "event_id": "7"}, True),
    ({"scope": "any", "locality": "any", "tag": "tlp:red"}, {"name": "tlp:amber", "event_id": "7"}, False),
])
def test_tag_attached_after_save_condition(parts, params, tag, runs):
    trigger = G.trigger(1, TAG_TRIGGER, [2])
    trigger["data"]["indexed_params"] = params
    result = run(parts, [trigger, stop(2)], {"Tag": tag, "Event": EVENT["Event"]}, trigger=TAG_TRIGGER)
    if runs:
        assert result.outcome == "blocked" and result.walk.executed == ["2"]
    else:
        assert result.outcome_text == ("failure Conditions on the trigger are not satisfied to continue "
                                       "the execution") and result.walk is None
