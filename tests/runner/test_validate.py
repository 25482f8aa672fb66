"""Validation findings as MISP's editor and save-time checks have them (misp-behaviour.md §2.1, §12)."""

from __future__ import annotations

from runner.catalog import Enablement
from runner.loader import workflow_from_document
from runner.validate import validate
from tests.support import graphs as G
from tests.support.catalog import catalog


def findings(nodes, trigger="event-publish", enablement=Enablement()):
    wf = workflow_from_document(G.workflow(nodes, trigger), "t.json")
    return validate(wf, catalog(), enablement)


def codes(found):
    return [(f.level, f.code, f.node) for f in found]


def test_clean_workflow_has_no_findings():
    assert findings([G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": []})]) == []


def test_cycle_is_an_error_with_its_edges():
    found = findings([G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3]}),
                      G.node(3, "push-zmq", outputs={"output_1": [2]})])
    assert codes(found) == [("error", "cycle", "2")]
    assert found[0].edges == [["2", "3"], ["3", "2"]]
    assert found[0].message.startswith("Cannot save a workflow containing a cycle")


def test_two_connections_from_one_output_is_an_error_except_for_concurrent_task():
    found = findings([G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": [3, 4]}),
                      G.node(3, "push-zmq", outputs={"output_1": []}), G.node(4, "send-mail", outputs={"output_1": []})])
    assert codes(found) == [("error", "multiple-connections", "2")]
    assert "Cannot save a workflow having more than one connection per output" in found[0].message
    ok = findings([G.trigger(1, "event-publish", [2]), G.node(2, "concurrent-task", "logic", outputs={"output_1": [3, 4]}),
                   G.node(3, "push-zmq", outputs={"output_1": []}), G.node(4, "send-mail", outputs={"output_1": []})])
    assert ok == []


def test_blocking_node_after_concurrent_task_is_a_warning_with_its_path():
    found = findings([G.trigger(1, "event-publish", [2]), G.node(2, "concurrent-task", "logic", outputs={"output_1": [3]}),
                      G.logic_if(3, "tag-if", then=[4]), G.node(4, "stop-execution")])
    assert codes(found) == [("warning", "blocking-after-concurrent", "4")]
    assert found[0].edges == [["2", "3"], ["3", "4"]]
    assert "This path leads to a blocking node from a non-blocking context" in found[0].message


def test_trigger_count_unknown_disabled_modules_params_and_blocking_under_non_blocking_trigger():
    nodes = [G.trigger(1, "event-after-save-new", [2]), G.node(2, "mystery", outputs={"output_1": [3]}),
             G.node(3, "webhook", params={"url": "x", "bogus": 1}, outputs={"output_1": [4]}),
             G.node(4, "stop-execution")]
    found = findings(nodes, "event-after-save-new", Enablement.parse("misp-default"))
    assert codes(found) == [("error", "unknown-module", "2"), ("warning", "unknown-param", "3"),
                            ("warning", "blocking-under-non-blocking", "4")]
    no_trigger = findings([G.node(2, "webhook", outputs={"output_1": []})])
    assert codes(no_trigger) == [("error", "trigger-count", None)]
    disabled = findings([G.trigger(1, "event-publish", [2]), G.node(2, "send-mail", outputs={"output_1": []})],
                        enablement=Enablement.parse("misp-default"))
    assert codes(disabled) == [("error", "disabled-module", "2")]


def test_hash_paths_that_cannot_work_are_errors():
    bad_filter = G.node(2, "tag_operation", outputs={"output_1": []},
                        filters={"selector": "Event._AttributeFlattened.{n}", "value": "x", "operator": "in",
                                 "path": "Tag.{n}[name=/tlp:(/].name"})
    found = findings([G.trigger(1, "event-publish", [2]), bad_filter])
    assert codes(found) == [("error", "invalid-hash-path", "2")]
    assert found[0].message.startswith("filter path: invalid hash path 'Tag.{n}[name=/tlp:(/].name': ")
    bad_param = G.node(2, "push-zmq", params={"data_extraction_path": "Event.Tag.{n}[name=tlp:red"},
                       outputs={"output_1": []})
    found = findings([G.trigger(1, "event-publish", [2]), bad_param])
    assert codes(found) == [("error", "invalid-hash-path", "2")] and "unbalanced brackets" in found[0].message
