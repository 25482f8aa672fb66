"""What the runner writes a module reads, and what a module answers the runner reads, through
the one contract (misp_modules.contract)."""

from __future__ import annotations

import pytest

from misp_modules.contract.reply import (
    AnswerError,
    if_reply,
    misp_crash,
    misp_exception,
    no_decision,
    read_answer,
    reply,
    toast,
)
from misp_modules.contract.request import EMPTY_FILTERS, NodeRequest, ParamError, request_fields, resolve_params

DECLARED = [{"id": "scope", "default": "event"}, {"id": "tags"},
            {"id": "message", "default": "Stop", "jinja_supported": True}]


def test_params_resolve_as_getParamsWithValues() -> None:
    assert resolve_params(DECLARED, {"tags": [], "other": 1}) == {"scope": "event", "tags": [], "message": "Stop"}
    assert resolve_params(DECLARED, []) == {"scope": "event", "tags": "", "message": "Stop"}
    with pytest.raises(ParamError):
        resolve_params(DECLARED, "scope=event")


def test_only_jinja_params_with_a_raw_string_are_rendered() -> None:
    rendered = resolve_params(DECLARED, {"scope": "{{x}}", "message": "hi {{x}}"},
                              render=lambda template, data: template.replace("{{x}}", data["x"]), data={"x": "y"})
    assert rendered == {"scope": "{{x}}", "tags": "", "message": "hi y"}  # the default is never rendered


def test_a_module_reads_the_request_the_runner_writes() -> None:
    fields = request_fields(module="tag_if", params={"scope": "attribute"}, node_id="7",
                            saved_filters=dict(EMPTY_FILTERS), indexed_params={"scope": "attribute"},
                            trigger={"id": "event-publish"}, workflow={"id": 1, "name": "w"}, dry_run=True,
                            timeout=10.0)
    req = NodeRequest.parse({"data": {"Event": {}}, **fields}, DECLARED)
    assert (req.node_id, req.params["scope"], req.params["message"], req.dry_run) == ("7", "attribute", "Stop", True)
    assert req.saved_filters == EMPTY_FILTERS and req.trigger == {"id": "event-publish"}
    assert request_fields(module="m", params={}, node_id="1", saved_filters={}, indexed_params=None, trigger={},
                          workflow={}, dry_run=False, timeout=1.0)["params"] == []  # PHP's empty array


def test_the_runner_reads_the_answer_a_module_writes() -> None:
    answer = read_answer(reply(False, errors=["a", "b"], warnings=["w"], changes=[{"op": "publish"}]),
                         runner_only=True)
    assert (answer.result, answer.errors, answer.warnings, answer.changes) == (False, ["a", "b"], ["w"],
                                                                               [{"op": "publish"}])
    assert read_answer(if_reply(True), runner_only=True).result is True
    assert read_answer(reply(True, data=[]), runner_only=True).data == []  # a reset may set []
    with pytest.raises(AnswerError, match="MISP crashes"):
        read_answer(no_decision("MISP crashes here"), runner_only=True)
    with pytest.raises(AnswerError, match="a JSON array, not an object"):
        read_answer([1], runner_only=False)


def test_a_misp_module_answer_is_read_as_misp_reads_it() -> None:
    assert read_answer({"data": True}, runner_only=False).result is True      # upstream's success
    assert read_answer({"data": [1]}, runner_only=False).data is None         # not roaming data
    failed = read_answer({"error": "down"}, runner_only=False)
    assert (failed.result, failed.errors) == (False, ["down"])


def test_the_runs_clock_release_and_node_version_travel_with_the_request() -> None:
    fields = request_fields(module="filter_timestamp", params={}, node_id="2", saved_filters=dict(EMPTY_FILTERS),
                            indexed_params={}, trigger={}, workflow={}, dry_run=False, timeout=1.0,
                            module_version="0.2", now=1767225600, misp_release="2.5.1")
    assert (fields["now"], fields["misp_release"], fields["node"]["module_version"]) == (1767225600, "2.5.1", "0.2")
    req = NodeRequest.parse({"data": {}, **fields}, DECLARED)
    assert (req.now, req.clock(), req.misp_release, req.module_version) == (1767225600, 1767225600, "2.5.1", "0.2")
    bare = request_fields(module="m", params={}, node_id="1", saved_filters={}, indexed_params=None, trigger={},
                          workflow={}, dry_run=False, timeout=1.0)
    assert "now" not in bare and "misp_release" not in bare and "module_version" not in bare["node"]
    assert NodeRequest.parse({"data": {}, **bare}, DECLARED).now is None  # clock(): the wall clock, as MISP
    for bad in ("2026-01-01", True, float("inf")):
        with pytest.raises(ParamError, match="`now`"):
            NodeRequest.parse({"now": bad}, DECLARED)


def test_an_exception_misp_catches_is_misps_outcome() -> None:
    answer = read_answer(misp_exception("Invalid date specification"), runner_only=True)
    assert (answer.result, answer.exception) == (False, "Invalid date specification")
    assert read_answer({"result": False, "exception": "x"}, runner_only=False).exception is None  # misp-modules: no


def test_a_misp_crash_keeps_what_came_before_and_says_why() -> None:
    change = {"op": "touch", "scope": "event", "uuid": "u"}
    answer = read_answer(misp_crash("PHP TypeError", errors=["earlier"], changes=[change]), runner_only=True)
    assert (answer.result, answer.errors, answer.changes, answer.crash) == (False, ["earlier"], [change], "PHP TypeError")
    assert read_answer(reply(False, crash=""), runner_only=True).crash is None  # an empty crash is none
    assert read_answer({"result": False, "crash": "x"}, runner_only=False).crash is None  # misp-modules never crash the run


def test_toasts_and_the_initiator_user_travel_with_the_contract() -> None:
    answer = read_answer(reply(True, toasts=[toast("warning", "h", 3), "junk"]), runner_only=True)
    assert answer.toasts == [{"variant": "warning", "header": "h", "body": "3"}]
    body = request_fields(module="m", params={}, node_id="1", saved_filters=EMPTY_FILTERS, indexed_params={},
                          trigger={}, workflow={}, dry_run=False, timeout=1.0, initiator_user={"User": {"id": "7"}})
    assert NodeRequest.parse(body, []).initiator_user == {"User": {"id": "7"}}
    assert NodeRequest.parse({**body, "initiator_user": {"id": "7"}}, []).initiator_user == {"User": {"id": "7"}}
    assert NodeRequest.parse({k: v for k, v in body.items() if k != "initiator_user"}, []).initiator_user is None
    with pytest.raises(ParamError, match="initiator_user"):
        NodeRequest.parse({**body, "initiator_user": ["7"]}, [])
