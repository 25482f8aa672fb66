"""Fidelity review: MISP's built-in IF nodes decided through the real runner and module server,
where the port took another branch than MISP's PHP would."""

from __future__ import annotations

import pytest

from misp_modules.contract.client import ModuleClient
from misp_modules.semantics import decisions
from runner.catalog import Catalog
from runner.engine import Runner, RunOptions
from runner.loader import workflow_from_document
from tests.support import graphs as G


def event(event_tags=(), attribute_tags=(), orgc_id="1"):
    attribute = {"id": "1", "uuid": "a-1", "event_id": "7", "type": "md5", "value": "x", "distribution": "5",
                 "Tag": [{"name": t} for t in attribute_tags]}
    return {"Event": {"id": "7", "uuid": "e-7", "info": "i", "org_id": "1", "orgc_id": orgc_id, "distribution": "1",
                      "published": False, "threat_level_id": "1", "Tag": [{"name": t} for t in event_tags],
                      "Attribute": [attribute]}}


@pytest.fixture(scope="module")
def parts(module_server):
    client = ModuleClient(module_server.url, timeout=10)
    yield client, Catalog.from_modules(client.modules())
    client.close()


def branch(parts, module, params, data):
    """Which output the IF node took: "then" (a stop-execution blocks) or "else" (success)."""
    client, catalog = parts
    nodes = [G.trigger(1, "event-publish", [2]), G.logic_if(2, module, then=[3], params=params),
             G.node(3, "stop-execution")]
    wf = workflow_from_document(G.workflow(nodes), "t.json")
    result = Runner(catalog, client, RunOptions()).run(wf, data, "event-publish")
    assert result.outcome in ("blocked", "success")
    return "then" if result.outcome == "blocked" else "else"


# Module_tag_if::__getTagFromScope: `attribute`, `event_attribute`, else `Event.Tag.{n}.name`.
@pytest.mark.parametrize("scope", ["event_report", "Event", "inherited_report", ""])
def test_tag_if_unknown_scope_reads_the_event_tags(parts, scope):
    params = {"scope": scope, "condition": "in_or", "tags": ["tlp:red"]}
    assert branch(parts, "tag-if", params, event(event_tags=["tlp:red"])) == "then"
    assert branch(parts, "tag-if", params, event(attribute_tags=["tlp:red"])) == "else"
    data = event(attribute_tags=["tlp:red"])
    data["Event"]["_AttributeFlattened"] = data["Event"]["Attribute"]
    assert decisions.tag_if(data, params) == (False, [])


# Module_organisation_if: `!empty($params['org_id']['value']) ? ... : []`, so "0" selects nothing.
@pytest.mark.parametrize("org_id, condition, expected", [
    ("0", "in", "else"),        # no creator org: intval(null) == 0, and "0" is not a selection
    ("0", "not_in", "then"),    # not_in over an empty selection
    (0, "in", "else"),
    ("", "not_in", "then"),
    (["0"], "in", "then"),      # a list holding "0" is a selection
    ("5", "in", "else"),
    (["0"], True, "then"),      # convertOperators: true == 'equals', so `in`
    (["0"], "equals", "then"),
    (["0"], "not_equals", "else"),
])
def test_organisation_if_php_empty_selection_selects_nothing(parts, org_id, condition, expected):
    data = event()
    del data["Event"]["orgc_id"]
    params = {"org_type": "orgc", "condition": condition, "org_id": org_id}
    assert branch(parts, "organisation-if", params, data) == expected


# Module_distribution_if::__getPropagatedDistribution takes intval() of every level.
@pytest.mark.parametrize("scope, event_level, attribute_level, selected, expected", [
    ("event", "", "1", "0", "then"),         # intval("") == 0: Organisation only
    ("event", "3 ", "1", "3", "then"),       # intval("3 ") == 3 (a leading-numeric string)
    ("attribute", "3", "", "0", "then"),     # the attribute's "" is 0 and wins
    ("attribute", "3", "2", "2", "then"),
])
def test_distribution_if_levels_are_intval(parts, scope, event_level, attribute_level, selected, expected):
    data = event()
    data["Event"]["distribution"] = event_level
    data["Event"]["Attribute"][0]["distribution"] = attribute_level
    params = {"scope": scope, "condition": "equals", "distribution": selected}
    assert branch(parts, "distribution-if", params, data) == expected


# Sharing groups: `array_diff()` compares the ids as strings ("01" is not "1").
@pytest.mark.parametrize("event_sg, selected, condition, expected", [
    ("01", ["1"], "equals", "else"),
    ("01", ["1"], "not_equals", "then"),
    (1, ["1"], "equals", "then"),
    ("1", ["1", "2"], "not_equals", "else"),
])
def test_distribution_if_sharing_groups_compare_as_strings(parts, event_sg, selected, condition, expected):
    data = event()
    data["Event"]["distribution"] = "4"
    data["Event"]["sharing_group_id"] = event_sg
    params = {"scope": "event", "condition": condition, "distribution": "4", "sharing_group_id": selected}
    assert branch(parts, "distribution-if", params, data) == expected


# Module_published_if: `evaluateCondition($is_published, $operator, true)`; the operator chain
# starts with `in`, so a boolean condition (true == 'in') is `in` on a non-array: false.
@pytest.mark.parametrize("condition, published, expected", [
    ("equals", True, "then"), ("not_equals", False, "then"), ("equals", False, "else"),
    (True, True, "else"), ("in", True, "else"), ("not_in", False, "else"),
])
def test_published_if_goes_through_evaluate_condition(parts, condition, published, expected):
    data = event()
    data["Event"]["published"] = published
    assert branch(parts, "published-if", {"condition": condition}, data) == expected
