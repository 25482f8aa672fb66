"""Fidelity review: MISP built-in action nodes decided through the real runner and the real
module server, where an earlier port differed from MISP's PHP."""

from __future__ import annotations

import pytest

from misp_modules.contract.client import ModuleClient
from runner.catalog import Catalog
from runner.engine import Runner, RunOptions
from runner.loader import workflow_from_document
from tests.support import graphs as G

EVENT = {"Event": {"id": "7", "uuid": "e-7", "info": "Ransom note", "org_id": "1", "orgc_id": "1",
                   "distribution": "1", "published": False, "Tag": [{"name": "tlp:white"}],
                   "Attribute": [{"id": "1", "uuid": "a-1", "type": "md5", "value": "x", "distribution": "5",
                                  "Tag": []}]}}


@pytest.fixture(scope="module")
def parts(module_server):
    client = ModuleClient(module_server.url, timeout=10)
    yield client, Catalog.from_modules(client.modules())
    client.close()


def run(parts, nodes, data=EVENT, trigger="event-publish"):
    client, catalog = parts
    wf = workflow_from_document(G.workflow(nodes, trigger), "t.json")
    return Runner(catalog, client, RunOptions()).run(wf, data, trigger)


@pytest.mark.parametrize("message, expected", [
    ("0", "Execution stopped"),                 # PHP empty("0") is true
    ("{{ 0 }}", "Execution stopped"),           # rendered "0": the same
    ("{{ '' }}", "Execution stopped"),
    ([], "Execution stopped"),                  # an existing [] is kept by param resolution, and empty
    ("00", "00"),
    ("Refused: {{ Event.info }}", "Refused: Ransom note"),
])
def test_stop_execution_message_falls_back_when_php_empty(parts, message, expected):
    """Module_stop_execution: ``empty($params['message']['value']) ? default : value``."""
    nodes = [G.trigger(1, "event-publish", [2]), G.node(2, "stop-execution", params={"message": message})]
    result = run(parts, nodes)
    assert result.outcome == "blocked"
    assert result.walk.trace[0].errors == [expected]
