"""Loading workflows and blueprints (misp-behaviour.md §2.1, §2.8) and the bad-input messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import graph as g
from runner.errors import InputError
from runner.loader import load_workflow
from runner.mocks import Mock, Mocks
from tests.support import graphs as G
from tests.support.data import BLUEPRINTS


def write(tmp_path: Path, doc, name="wf.json") -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def test_rest_workflow_with_frames_and_string_data(tmp_path):
    doc = G.workflow([G.trigger(1, "event-publish", [2]), G.node(2, "webhook", outputs={"output_1": []})])
    doc["Workflow"]["data"]["_frames"] = {"f": {"id": "f", "nodes": ["2"]}}
    wf = load_workflow(write(tmp_path, doc))
    assert list(wf.graph) == ["1", "2"] and wf.trigger_id == "event-publish" and wf.kind == "workflow"
    doc["Workflow"]["data"] = json.dumps(doc["Workflow"]["data"])  # the DB column form
    assert list(load_workflow(write(tmp_path, [doc])).graph) == ["1", "2"]


def test_blueprint_gets_a_trigger_on_its_entry_node():
    wf = load_workflow(BLUEPRINTS / "blueprint_curation---assign-a-country-galaxycluster-on-ips.json",
                       "event-after-save-new")
    key, trig = wf.first_trigger()
    assert key == "1" and g.module_id(trig) == "event-after-save-new"
    assert [g.connection_target(c) for c in g.output(trig, "output_1")] == ["20"]  # the only node nothing feeds
    assert wf.name == "Workflow for trigger event-after-save-new" and wf.kind == "blueprint"


def test_blueprint_with_own_trigger_is_switched():
    wf = load_workflow(BLUEPRINTS / "blueprint_set-tag-based-on-bgp-ranking-maliciousness-level_1668498668.json",
                       "event-after-save-new")
    triggers = [n for _, n in wf.nodes() if g.module_type(n) == "trigger"]
    assert len(triggers) == 1 and g.module_id(triggers[0]) == "event-after-save-new"
    assert g.node_data(triggers[0])["blocking"] is False


def test_blueprint_trigger_takes_next_free_id_when_1_is_used(tmp_path):
    doc = {"WorkflowBlueprint": {"name": "x", "data": [G.node(1, "webhook", outputs={"output_1": [5]}),
                                                       G.node(5, "push-zmq", outputs={"output_1": []})]}}
    wf = load_workflow(write(tmp_path, doc))
    key, trig = wf.first_trigger()
    assert key == "6" and [g.connection_target(c) for c in g.output(trig, "output_1")] == ["1"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "invalid JSON in workflow file"),
    ("", "workflow file is empty"),
    ('{"Event": {}}', "not a MISP workflow"),
    ('[1, 2]', "not a MISP workflow"),
    ('{"Workflow": {"data": {"1": {"id": 1}}}}', "has no `data` object"),
    ('{"Workflow": {"data": {"1": {"id": 1, "data": {"id": "x", "module_type": "weird"}}}}}', "module_type 'weird'"),
    ('{"WorkflowBlueprint": {"data": [{"id": 1, "data": {"id": "a", "module_type": "action"}, "outputs": []},'
     '{"id": 2, "data": {"id": "b", "module_type": "action"}, "outputs": []}]}}', "exactly one entry node"),
])
def test_bad_workflow_files_name_the_problem_and_the_file(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(InputError) as exc:
        load_workflow(path)
    assert message in str(exc.value) and path in str(exc.value) and "\n" not in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="workflow file not found: .*nope.json"):
        load_workflow(tmp_path / "nope.json")


def test_workflow_for_another_trigger_is_refused(tmp_path):
    path = write(tmp_path, G.workflow([G.trigger(1, "event-publish", [])]))
    with pytest.raises(InputError, match="belongs to trigger `event-publish`"):
        load_workflow(path, "event-after-save")


def test_mocks_parse_cli_and_file(tmp_path):
    path = write(tmp_path, {"56": {"success": False, "errors": ["x"]}, "57": {"exception": "boom"}}, "m.json")
    mocks = Mocks.load([path], ["58=false", '59={"errors": ["warn"]}'])
    assert mocks.get("56") == Mock(False, ("x",)) and mocks.get("57") == Mock(False, (), "boom")
    assert mocks.get("58") == Mock(False) and mocks.get("59") == Mock(True, ("warn",))
    for bad in ("58", "58=nope", '58={"success": "yes"}', "58=[1]"):
        with pytest.raises(InputError, match="--mock"):
            Mocks.load([], [bad])
