"""The debugger's parts without a browser: the drawing follows the export's positions and
MISP's editor's curves, statuses follow the documented rules, hash-path locations agree with
``Hash::extract`` on every conformance case, and a node's call found lazily is the one the API
joins to it."""

from __future__ import annotations

import warnings

import orjson
import pytest

from misp_modules.semantics import php
from runner.service import record
from runner.service.history import History
from runner.service.ui import graph
from runner.service.ui.calls import CallIndex, node_of_request
from runner.service.ui.locate import locate, pointer
from runner.service.ui.states import run_walks, walk_states
from tests.support.data import hashpath_case_files
from tests.ui.conftest import service_root


def node(key: str, module: str, kind: str, x: float | None, y: float | None, outputs: dict | None = None,
         name: str | None = None) -> dict:
    out = {"id": key, "name": name or module, "data": {"id": module, "module_type": kind}, "outputs": outputs or {}}
    if x is not None:
        out.update(pos_x=x, pos_y=y)
    return out


def conn(*targets: str) -> dict:
    return {"connections": [{"node": t, "output": "input_1"} for t in targets]}


def test_nodes_keep_the_exports_places_and_connections_are_drawflow_curves():
    nodes = {"1": node("1", "event-publish", "trigger", -400, 0, {"output_1": conn("2")}),
             "2": node("2", "tag-if", "logic", 0, 0, {"output_1": conn("3"), "output_2": conn()}),
             "3": node("3", "stop-execution", "action", 450, 60)}
    frames = {"f1": {"id": "f1", "text": "the guard", "nodes": ["2", "3"], "class": ""}}
    plan = graph.layout(nodes, frames)
    assert [(b.x, b.y) for b in plan.boxes.values()] == [(-400, 0), (0, 0), (450, 60)]
    (edge,) = [e for e in plan.edges if e.src == "2"]
    x1, y1 = plan.boxes["2"].output_at("output_1")
    x2, y2 = plan.boxes["3"].input_at()
    assert edge.id == "2:output_1:0:3" and y1 == plan.boxes["2"].y + plan.boxes["2"].h / 3  # first of two outputs
    assert edge.d == graph.curve(x1, y1, x2, y2) == (f"M {x1:.1f} {y1:.1f} C {x1 + (x2 - x1) / 2:.1f} {y1:.1f} "
                                                     f"{x2 - (x2 - x1) / 2:.1f} {y2:.1f} {x2:.1f} {y2:.1f}")
    (frame,) = plan.frames
    assert frame.text == "the guard" and frame.x < 0 < 450 + graph.NODE_W < frame.x + frame.w
    svg = graph.svg(plan, None, lambda key: f"/n/{key}", label="a workflow")
    assert svg.count('class="node ') == 3 and svg.count('tabindex="0"') == 3 and 'href="/n/3"' in svg


def test_close_nodes_are_spread_and_an_added_trigger_goes_left_of_its_node():
    nodes = {"9": node("9", "event-publish", "trigger", 0, 0, {"output_1": conn("5")}),
             "5": node("5", "tag-if", "logic", 100, 800, {"output_1": conn("6")}),
             "6": node("6", "tag_operation", "action", 200, 800)}
    plan = graph.layout(nodes, added_trigger="9")
    b9, b5, b6 = plan.boxes["9"], plan.boxes["5"], plan.boxes["6"]
    assert b6.x - b5.x >= graph.NODE_W + 50  # 100 apart in the export: scaled, order kept
    assert b9.x + b9.w < b5.x and abs((b9.y + b9.h / 2) - (b5.y + b5.h / 2)) < 1
    unplaced = graph.layout({"1": node("1", "t", "trigger", None, None, {"output_1": conn("2")}),
                             "2": node("2", "a", "action", None, None)})
    assert unplaced.boxes["2"].x > unplaced.boxes["1"].x


def test_statuses_follow_the_rules():
    graph_nodes = {k: {} for k in ("1", "2", "3", "4", "5", "6")}
    walk = {"walked": True, "start_node": "1", "success": False,
            "nodes": [{"node": "2", "status": "success", "output": "output_1", "path": 0},
                      {"node": "3", "status": "partial-success", "path": 1},
                      {"node": "4", "status": "success", "mocked": True, "path": 2},
                      {"node": "5", "status": "partial-success", "path": 3}],
            "paths": [[None, "1:output_1:0:2"], [0, "2:output_1:0:3"], [0, "2:output_1:1:4"], [2, "4:output_1:0:5"],
                      [1, "3:output_1:0:6"]],
            "blocked_paths": [4]}
    states = walk_states(walk, graph_nodes)
    assert {k: s.status for k, s in states.nodes.items()} == {
        "1": "success", "2": "success", "3": "failed", "4": "mocked", "5": "blocked", "6": "skipped"}
    assert states.taken == {"1:output_1:0:2", "2:output_1:0:3", "2:output_1:1:4", "4:output_1:0:5"}
    assert states.skipped == {"3:output_1:0:6"}
    before = walk_states({"walked": False, "start_node": "1", "success": False, "nodes": []}, graph_nodes)
    assert before.nodes["1"].status == "failed" and before.nodes["2"].status == "not-reached"


def test_hash_path_locations_agree_with_extract_on_every_conformance_case():
    agreed = gave_up = 0
    for path in hashpath_case_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            case = php.loads(line) if line.strip() else None
            if not case or case["fn"] != "extract" or not case["expected"].get("ok") or not isinstance(case["path"], str):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                places = locate(case["data"], case["path"])
            if places is None:
                gave_up += 1
                continue
            values = []
            for place in places:
                value = case["data"]
                for key in place:
                    value = value[key]
                values.append(value)
            expected = case["expected"]["result"]
            if case["path"] not in ("", "0") and "{" not in case["path"] and "[" not in case["path"]:
                values = values[0] if values and isinstance(values[0], (dict, list)) else values
            if case["path"] in ("", "0"):
                values = values[0]
            assert php.dumps(values) == php.dumps(expected), case["id"]
            agreed += 1
    assert agreed > 1000 and gave_up <= 10, (agreed, gave_up)
    assert pointer(("Event", "Attribute", 5, "a/b~c")) == "/Event/Attribute/5/a~1b~0c"


@pytest.mark.parametrize("body, expected", [
    (b'{"data":{"node":{"id":"fake"}},"module":"m","node":{"id":"53","indexed_params":{"x":1}},"dry_run":true}', "53"),
    (b'{"data":{},"node":{"id":"7","indexed_params":{"a":{"b":1}}}}', "7"),
    (b'{"module":"jinja_template_rendering","text":"{}"}', None),
])
def test_a_requests_node_is_read_from_its_tail(body, expected):
    assert node_of_request(body) == expected


def test_calls_found_lazily_are_the_ones_the_api_joins(ui_service, runs):
    history = History(str(service_root(ui_service) / "state" / "history.db"))
    try:
        for run in (runs.blocked, runs.mocked, runs.branch):
            blob = history.detail_blob(run["id"])
            detail = record.unpack(blob)
            joined = record.nodes(detail)
            index = CallIndex(blob)
            reader = record.PartReader(blob)
            document = orjson.loads(reader.take(["document"])["document"])
            reader.close()
            position = 0
            for walk_id, walk in run_walks(document):
                for i, _entry in enumerate(walk.get("nodes") or ()):
                    number = index.call_number(document, walk_id, i)
                    api = joined[position]
                    position += 1
                    if number is None:
                        assert "params" not in api, (run["workflow"], walk_id, i)
                        continue
                    call = index.load(blob, number)
                    assert call.request.get("params") == api["params"] and call.request.get("data") == api["input"]
            assert position == len(joined)
    finally:
        history.close()



def test_a_change_written_is_described_as_the_contract_describes_it():
    from misp_modules.contract import changes
    from runner.service.ui.pages.run import describe_change

    change = changes.attach_tag("event", "5f3c", "tlp:red", True)
    assert describe_change(change) == changes.describe(change)
    assert "tlp:red" in describe_change(change)
