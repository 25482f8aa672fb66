"""``notify-user-toast`` (docs/misp-behaviour.md §16.14) and the toast contract end to end: the
real ``misp-workflow`` CLI against the real module server, the initiator user given with
``--initiator-user``, the toast recorded in the trace and the ``--json`` document."""

from __future__ import annotations

import json

import pytest

from tests.support import graphs as G
from tests.support.cli import misp_workflow, run_json
from tests.support.data import SMALL_EVENT
from tests.support.nodes import query_node

USER = '{"User": {"id": "7", "email": "analyst@example.org"}}'


def _workflow(tmp_path, params: dict, then: bool = True):
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "notify-user-toast", "action", params, {"output_1": [3]}),
             G.node(3, "push-zmq")]
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(G.workflow(nodes)))
    return path


def _event() -> dict:
    return json.loads(SMALL_EVENT.read_text())


def test_the_toast_reaches_the_trace_and_the_document(module_server, tmp_path):
    wf = _workflow(tmp_path, {"variant": "warning", "toast_header": "Event {{ Event.uuid }}",
                              "toast_body": "{{ Event.info }} was published"})
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--initiator-user", USER, "--mock", "3=true")
    toast_node = doc["nodes"][0]
    info = _event()["Event"]["info"]
    assert toast_node["result"] is True and toast_node["status"] == "success"
    assert toast_node["toasts"] == [{"variant": "warning", "header": f"[notify-user-toast] Event {_event()['Event']['uuid']}",
                                     "body": f"{info} was published"}]
    assert doc["initiator_user"] == json.loads(USER)
    assert [n["node"] for n in doc["nodes"]] == ["2", "3"]  # the path goes on
    done = misp_workflow("run", wf, "--data", SMALL_EVENT, "--modules-url", module_server.url,
                         "--initiator-user", "7", "--mock", "3=true")
    assert done.returncode == 0, done.stderr
    assert "toast (warning) [notify-user-toast] Event" in done.stdout


def test_without_an_initiator_user_the_node_fails_as_misp_crashes(module_server, tmp_path):
    wf = _workflow(tmp_path, {"toast_header": "hello"})
    doc = run_json(wf, _event(), tmp_path, module_server.url, "--mock", "3=true", codes=(3,))
    node = doc["nodes"][0]
    assert node["result"] is False and "toasts" not in node and doc["initiator_user"] is None
    assert doc["executed"] == ["2"] and doc["outcome"] == "failure"  # MISP's TypeError ends its run
    assert "no initiator user" in node["errors"][0] and "PHP TypeError" in node["errors"][0]
    assert doc["errors"] and "no initiator user" in doc["errors"][0]  # reported, never a silent success


@pytest.mark.parametrize(("header", "body"), [("", ""), ("0", ""), (None, "0")])
def test_empty_text_is_misps_error(module_server, header, body):
    params = {"toast_header": header, "toast_body": body}
    answer = query_node(module_server, "notify_user_toast", _event(), params, initiator_user={"id": "7"})
    assert answer["result"] is False and answer["errors"] == ["The toast text is empty."]


def test_the_variant_is_kept_as_given_and_a_bare_user_is_accepted(module_server):
    answer = query_node(module_server, "notify_user_toast", _event(), {"variant": "success", "toast_body": "b"},
                        initiator_user={"id": "7"})
    assert answer["toasts"] == [{"variant": "success", "header": "[notify-user-toast] ", "body": "b"}]


@pytest.mark.parametrize("user", ["[1]", '"x"', "{not json", '{"User": 3}'])
def test_a_bad_initiator_user_is_refused_before_the_run(tmp_path, user):
    wf = _workflow(tmp_path, {"toast_header": "x"})
    done = misp_workflow("run", wf, "--data", SMALL_EVENT, "--initiator-user", user)
    assert done.returncode == 2 and "--initiator-user" in done.stderr and "Traceback" not in done.stderr


def test_a_malformed_initiator_user_in_the_request_is_a_clear_error(module_server):
    status, answer = module_server.query({"module": "notify_user_toast", "data": _event(),
                                          "params": {"toast_header": "x"}, "initiator_user": "alice"})
    assert status == 200 and answer["result"] is False  # an action's bad request is a failed node naming it
    assert answer["errors"] == ["`initiator_user` must be a MISP user object"]
