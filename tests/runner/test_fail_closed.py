"""Fail closed (docs/runner.md): a logic node whose decision could not be obtained fails, and the
path it guards fails as MISP fails a node on that path type. Every logic node the module server
offers, through a module server that times out, answers HTTP 500, answers garbage, reports the
module failed, and is down; on a blocking and on a non-blocking trigger.

The fake serves the real server's ``/modules`` (the real metadata, so every logic node resolves
as in a real run) and misbehaves on ``/query``. A timeout is structural: the fake holds the
answer until the test closes it, the runner gives up at its own deadline.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from misp_modules.contract.client import ModuleClient
from runner.catalog import Catalog, Enablement
from runner.engine import Runner, RunOptions
from runner.loader import workflow_from_document
from runner.mocks import Mocks
from runner.report import document, text
from tests.support import graphs as G
from tests.support.cli import misp_workflow
from tests.support.data import PAP_TLP_BLUEPRINT
from tests.support.fakes.base import FakeService, Response

EVENT = {"Event": {"id": "7", "uuid": "u-7", "info": "x", "org_id": "1", "orgc_id": "1", "distribution": "1",
                   "published": False, "threat_level_id": "1", "Tag": [{"name": "tlp:red"}],
                   "Attribute": [{"id": "1", "uuid": "a-1", "type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e",
                                  "distribution": "5", "Tag": [{"name": "tlp:red"}]}]}}
TIMEOUT = 0.2  # the runner's per-node timeout; its HTTP deadline is a second more

# How the module server fails on /query, and what the node's error then says.
FAILURES = {
    "http-500": (Response.text("<html>500: Internal Server Error</html>", 500, "text/html"), "answered HTTP 500"),
    "garbage": (Response.text("not json"), "something that is not JSON"),
    "json-array": (Response.json([1, 2]), "a JSON array, not an object"),
    "module-failed": (Response.json({"error": "Timeout: module 'x' did not answer within 0.2 s"}),
                      "Timeout: module 'x' did not answer"),
    "no-answer": (Response(200, b"{}", {"Content-Type": "application/json"}, delay=60), "did not answer within"),
}


class Misbehaving(FakeService):
    """``/modules``: the real list; ``/query``: the failure, for every module."""

    def __init__(self, modules: list, failure: Response | None) -> None:
        self.modules, self.failure = modules, failure
        super().__init__()

    def handle(self, request):
        if request.path == "/modules":
            return Response.json(self.modules)
        return self.failure


@pytest.fixture(scope="module")
def real_modules(module_server):
    client = ModuleClient(module_server.url, timeout=10)
    try:
        return client.modules()
    finally:
        client.close()


@pytest.fixture(scope="module")
def logic_ids(real_modules):
    ids = sorted(mid for (kind, mid) in Catalog.from_modules(real_modules).modules if kind == "logic")
    assert len(ids) >= 10  # every MISP built-in logic node (docs/modules.md)
    return ids


def guard(logic_id: str, trigger: str) -> list[dict]:
    """trigger → the logic node → stop-execution on every output (a concurrent-task's branch too)."""
    outputs = ({"output_1": [3]} if logic_id in ("generic-filter-data", "generic-filter-reset", "concurrent-task")
               else {"output_1": [3], "output_2": [4]})
    nodes = [G.trigger(1, trigger, [2]), G.node(2, logic_id, "logic", outputs=outputs),
             G.node(3, "stop-execution", params={"message": "then"}), G.node(4, "stop-execution", params={"message": "else"})]
    return nodes


def run_guard(url: str, real_modules: list, logic_id: str, trigger: str):
    client = ModuleClient(url, timeout=TIMEOUT)
    try:
        wf = workflow_from_document(G.workflow(guard(logic_id, trigger), trigger), "t.json")
        return Runner(Catalog.from_modules(real_modules), client, RunOptions(timeout=TIMEOUT)).run(wf, EVENT, trigger)
    finally:
        client.close()


def check(result, logic_id: str, trigger: str, reason: str) -> None:
    node = result.walk.trace[0]
    label = f"{logic_id} on {trigger}"
    assert (node.node, node.module, node.status) == ("2", logic_id, "error"), label
    assert node.undecided and node.result is None and node.output is None, f"{label}: no decision taken"
    assert reason in node.errors[0] and node.errors[0].startswith(f"Error while executing module {logic_id}. Error:")
    assert result.walk.executed == [] and result.branches == [], f"{label}: nothing it guards ran"
    error = f"Node `{logic_id}` (2) from Workflow `Workflow for trigger {trigger}` (1) returned the following error: "
    assert result.errors == [error + node.errors[0]], f"{label}: the cause is the run's error"
    assert document(result)["errors"] == result.errors and "2" in result.walk.failed
    guards_blocking_path = trigger == "event-publish" and logic_id != "concurrent-task"
    if guards_blocking_path:  # MISP fails a blocking path: the run stops, outcome failure
        assert (result.outcome, result.success, node.closed) == ("failure", False, "stopped the run"), label
        assert "no decision, so the run stops here" in text(result)
    else:  # a non-blocking path (a non-blocking trigger, a concurrent-task's branch): nothing below runs
        assert (result.outcome, node.closed) == ("success", "skipped its paths"), label
        assert "Errors that did not stop the run: " + result.errors[0] in text(result)


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_every_logic_node_fails_closed(real_modules, logic_ids, failure):
    answer, reason = FAILURES[failure]
    with Misbehaving(real_modules, answer) as fake:
        cases = [(logic_id, trigger) for logic_id in logic_ids for trigger in ("event-publish", "event-after-save-new")]
        with ThreadPoolExecutor(max_workers=len(cases)) as pool:  # the timeouts run side by side
            results = list(pool.map(lambda c: run_guard(fake.url, real_modules, *c), cases))
    for (logic_id, trigger), result in zip(cases, results):
        check(result, logic_id, trigger, reason)


def test_every_logic_node_fails_closed_when_the_server_is_down(real_modules, logic_ids):
    with Misbehaving(real_modules, None) as fake:
        url = fake.url
    for logic_id in logic_ids:
        for trigger in ("event-publish", "event-after-save-new"):
            check(run_guard(url, real_modules, logic_id, trigger), logic_id, trigger, "connection refused")


def test_a_logic_node_the_server_does_not_offer_fails_closed(real_modules):
    """MISP has `tag-if`; a module server without it cannot decide for MISP."""
    without = [m for m in real_modules if m["name"] != "tag_if"]
    with Misbehaving(without, Response.json({"result": True, "errors": []})) as fake:
        result = run_guard(fake.url, without, "tag-if", "event-publish")
    node = result.walk.trace[0]
    assert (node.status, node.undecided, result.outcome) == ("loading_error", True, "failure")
    assert "the module server does not offer it" in node.errors[0]


def test_misps_own_outcomes_for_a_logic_node_are_kept(real_modules):
    """Disabled, or throwing inside MISP (a scripted exception): MISP takes else, so do we."""
    catalog = Catalog.from_modules(real_modules)
    wf = workflow_from_document(G.workflow(guard("tag-if", "event-publish")), "t.json")
    with Misbehaving(real_modules, Response.json({"result": True, "errors": []})) as fake:
        client = ModuleClient(fake.url, timeout=5)
        disabled = Runner(catalog, client, RunOptions(enablement=Enablement(None, frozenset({"tag-if"})))).run(wf, EVENT)
        thrown = Runner(catalog, client, RunOptions(mocks=Mocks.from_mapping({"2": {"exception": "boom"}}, "t"))).run(
            wf, EVENT)
        client.close()
    for result, status in ((disabled, "disabled_module"), (thrown, "error")):
        node = result.walk.trace[0]
        assert (node.status, node.output, node.undecided) == (status, "output_2", False)
        assert result.walk.executed == ["4"]  # the else branch ran


def test_the_cli_exits_3_and_says_why(real_modules, tmp_path):
    """The issue's case: the PAP/TLP blocking blueprint on a tlp:red event, its tag-if timing out."""
    answer, _ = FAILURES["module-failed"]
    data = tmp_path / "red.json"
    data.write_text(json.dumps(EVENT))
    with Misbehaving(real_modules, answer) as fake:
        done = misp_workflow("run", PAP_TLP_BLUEPRINT, "--data", data, "--modules-url", fake.url)
        as_json = misp_workflow("run", PAP_TLP_BLUEPRINT, "--data", data, "--modules-url", fake.url, "--json")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "tag-if: FAILED (error): Error while executing module tag-if. Error: Timeout" in done.stdout
    assert "no decision, so the run stops here (blocking path)" in done.stdout
    assert "Outcome: failure" in done.stdout
    doc = json.loads(as_json.stdout)
    assert as_json.returncode == 3 and doc["outcome"] == "failure" and "Timeout" in doc["errors"][0]
    assert doc["nodes"][0]["undecided"] is True and doc["nodes"][0]["output"] is None
