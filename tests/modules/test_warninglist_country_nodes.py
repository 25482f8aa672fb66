"""attach-warninglist (MISP's matching over the shipped warninglists) and assign_country."""

from __future__ import annotations

import json

import pytest

from misp_modules.lib import warninglists
from misp_modules.modules.action_mod import assign_country, attach_warninglist
from misp_modules.semantics import conditions
from tests.support.data import BLUEPRINTS
from tests.support.intel import attribute, core, intel_settings, raw_event
from tests.support.nodes import call_node

U = lambda n: attribute(n, "x", "")["uuid"]  # noqa: E731


def lists_by_name() -> dict[str, warninglists.Warninglist]:
    return {wl.name: wl for wl in warninglists.all_lists()}




# --- the matching rules ----------------------------------------------------------------------

def synthetic(kind: str, entries: list[str], types=("ALL",)) -> warninglists.Warninglist:
    return warninglists._build(1, {"name": f"test {kind}", "type": kind, "list": entries,
                                   "matching_attributes": list(types) if types != ("ALL",) else []})


@pytest.mark.parametrize("kind,entries,value,attr_type,expected", [
    ("string", ["abc"], "abc", "text", ("abc", "abc")),
    ("string", ["abc"], "ABC", "text", None),
    ("substring", [".onion"], "foo.onion/x", "url", (".onion", "foo.onion/x")),
    ("hostname", ["Example.COM."], "www.example.com", "domain", ("example.com", "www.example.com")),
    ("hostname", ["example.com"], "https://a.example.com/path", "url", ("example.com", "https://a.example.com/path")),
    ("hostname", ["example.com"], "WWW.EXAMPLE.COM", "domain", None),  # MISP lower-cases entries only
    ("hostname", ["a"], "a.0", "domain", ("a", "a.0")),                 # PHP empty("0") quirk
    ("regex", ["/^abuse@/i"], "ABUSE@example.org", "email-src", ("/^abuse@/i", "ABUSE@example.org")),
    ("regex", ["/x/g"], "x", "text", None),                              # invalid PHP modifier: never matches
    ("cidr", ["10.0.0.0/8", "10.1.0.0/16"], "10.1.2.3", "ip-dst", ("10.0.0.0/8", "10.1.2.3")),  # widest wins
    ("cidr", ["10.1.2.3/8"], "10.1.2.3", "ip-dst", None),                # non-canonical entry never matches
    ("cidr", ["192.0.2.1"], "192.0.2.1", "ip-src", ("192.0.2.1/32", "192.0.2.1")),
    ("cidr", ["10.0.0.0/8"], "10.0.0.0/4", "ip-src", None),             # a wider value range is not inside
    ("cidr", ["2001:db8::/32", "2001:db8:1::/48"], "2001:db8:1::5", "ip-dst", ("2001:db8:1::/48", "2001:db8:1::5")),
    ("cidr", ["10.0.0.0/8"], "example.org|10.9.9.9", "domain|ip", ("10.0.0.0/8", "10.9.9.9")),
    ("string", ["evil.exe"], "evil.exe|d41d8cd98f00b204e9800998ecf8427e", "malware-sample", ("evil.exe", "evil.exe")),
])
@pytest.mark.filterwarnings("ignore::misp_modules.semantics.preg.PhpRegexWarning")  # a bad list entry warns, as PHP does
def test_check_value_follows_misp(kind, entries, value, attr_type, expected):
    assert synthetic(kind, entries).check_value(value, attr_type) == expected


def test_only_ids_attributes_unless_warning_for_all():
    wl = synthetic("string", ["abc"], types=("text",))
    assert "warnings" not in warninglists.check_for_warning({"type": "text", "value": "abc", "to_ids": "0"}, [wl])
    assert "warnings" not in warninglists.check_for_warning({"type": "comment", "value": "abc", "to_ids": True}, [wl])
    hit = warninglists.check_for_warning({"type": "text", "value": "abc", "to_ids": False}, [wl], warning_for_all=True)
    assert hit["warnings"] == [{"match": "abc", "value": "abc", "warninglist_id": 1,
                                "warninglist_name": "test string", "warninglist_category": "false_positive"}]


def test_real_lists_are_loaded_with_misp_categories():
    lists = lists_by_name()
    assert len(lists) > 100
    assert [wl.id for wl in warninglists.all_lists()] == list(range(1, len(lists) + 1))
    resolvers = lists["List of known IPv4 public DNS resolvers"]
    assert resolvers.type == "cidr" and resolvers.category == "false_positive"
    assert resolvers.check_value("8.8.8.8", "ip-dst") == ("8.8.8.8/32", "8.8.8.8")


# --- the node ---------------------------------------------------------------------------------

EVENT = raw_event([
    attribute(1, "ip-dst", "8.8.8.8"),
    attribute(2, "ip-dst", "8.8.4.4", to_ids=False),
    attribute(3, "domain", "www.google.com"),
    attribute(4, "ip-src", "77.66.55.44"),
], objects=[{"id": "3", "name": "domain-ip", "uuid": "5f1c0000-0000-4000-8000-0000000000c3", "distribution": "5",
             "Attribute": [attribute(5, "ip-dst", "1.1.1.1", object_id="3", object_relation="ip")]}])


def test_attach_warninglist_all_lists():
    data = core(EVENT)
    answer = call_node(attach_warninglist, data, {"warninglists": "ALL"})
    assert answer["result"] is True
    out = answer["data"]["Event"]
    flat = {a["uuid"]: a for a in out["_AttributeFlattened"]}
    names = lambda n: {w["warninglist_name"] for w in flat[U(n)].get("warnings", [])}  # noqa: E731
    assert "List of known IPv4 public DNS resolvers" in names(1) and "List of known google domains" in names(3)
    assert names(2) == set() and names(4) == set()          # not IDS / not listed
    assert "List of known IPv4 public DNS resolvers" in names(5)
    assert out["Object"][0]["Attribute"][0]["warnings"] == flat[U(5)]["warnings"]
    assert out["Attribute"][0]["warnings"] == flat[U(1)]["warnings"]
    ids = [w["id"] for w in out["warnings"]]
    assert len(ids) == len(set(ids)) and {w["category"] for w in out["warnings"]} == {"false_positive"}
    assert {w["name"] for w in out["warnings"]} == names(1) | names(3) | names(5)


def test_selected_lists_filters_and_existing_warnings():
    data = core(EVENT)
    data["Event"]["_AttributeFlattened"][0]["warnings"] = [{"match": "x", "value": "x", "warninglist_id": 999,
                                                            "warninglist_name": "earlier", "warninglist_category": "known"}]
    answer = call_node(attach_warninglist, data, {"warninglists": ["List of known google domains"]})
    out = answer["data"]["Event"]
    assert [w["name"] for w in out["warnings"]] == ["earlier", "List of known google domains"]
    filters = {"selector": "Event._AttributeFlattened.{n}", "value": "domain", "operator": "equals", "path": "type"}
    answer = call_node(attach_warninglist, core(EVENT), ["ALL"], filters)  # a string param becomes a list too
    assert answer["result"] is False  # params must be an object: [] only when empty
    answer = call_node(attach_warninglist, core(EVENT), {"warninglists": ["ALL"]}, filters)
    flat = {a["uuid"]: a for a in answer["data"]["Event"]["_AttributeFlattened"]}
    assert "warnings" in flat[U(3)] and "warnings" not in flat[U(1)]


def test_warning_for_all_setting_and_enabled_lists():
    with intel_settings(modules={"attach_warninglist": {"warning_for_all": True,
                                                        "enabled_lists": ["List of known IPv4 public DNS resolvers"]}}):
        answer = call_node(attach_warninglist, core(EVENT), {"warninglists": "ALL"})
    flat = {a["uuid"]: a for a in answer["data"]["Event"]["_AttributeFlattened"]}
    assert [w["warninglist_name"] for w in flat[U(2)]["warnings"]] == ["List of known IPv4 public DNS resolvers"]
    assert "warnings" not in flat[U(3)]


def test_warnings_under_a_generic_filter_stay_out_of_the_unfiltered_snapshot():
    """Spec §6.4/§7.7: the replacement index covers ``Event`` only, so a later reset drops them."""
    data = core(EVENT)
    data["_unfilteredData"] = json.loads(json.dumps(data))
    data["enabledFilters"] = {"A": {"selector": "Event._AttributeFlattened.{n}", "value": "domain",
                                    "operator": "equals", "path": "type"}}
    answer = call_node(attach_warninglist, data, {"warninglists": "ALL"})
    flat = {a["uuid"]: a for a in answer["data"]["Event"]["_AttributeFlattened"]}
    assert "warnings" in flat[U(1)] and "warnings" in flat[U(3)]
    assert answer["data"]["_unfilteredData"] == data["_unfilteredData"]
    assert not any("warnings" in a for a in answer["data"]["_unfilteredData"]["Event"]["_AttributeFlattened"])


@pytest.mark.parametrize("value", ["", []])
def test_attach_warninglist_needs_a_selection(value):
    assert call_node(attach_warninglist, core(EVENT), {"warninglists": value})["errors"] == ["No warninglist module selected"]


def test_warninglist_curation_blueprint_filter():
    nodes = json.loads((BLUEPRINTS / "blueprint_curation---remove-automation-flag-from-false-positive-tripping-over-"
                        "warninglist.json").read_text())["WorkflowBlueprint"]["data"]
    p = next(n["data"]["indexed_params"] for n in nodes if n["data"]["id"] == "generic-filter-data")
    answer = call_node(attach_warninglist, core(EVENT), {"warninglists": "ALL"})
    selected = conditions.matching_items(answer["data"], {"selector": p["selector"], "value": p["value"],
                                                          "operator": p["operator"], "path": p["hash_path"]})
    items = selected.values() if isinstance(selected, dict) else selected
    assert {a["uuid"] for a in items} == {U(1), U(3), U(5)}


# --- assign_country ---------------------------------------------------------------------------

def geo(country: str) -> list[dict]:
    return [{"Object": [{"name": "geolocation", "Attribute": [
        {"object_relation": "country", "type": "text", "value": country}]}]}]


COUNTRY_EVENT = raw_event([
    attribute(1, "ip-dst", "192.0.2.1", enrichment=geo("Luxembourg")),
    attribute(2, "ip-dst", "192.0.2.2", enrichment=geo("GERMANY")),
    attribute(3, "ip-dst", "192.0.2.3", enrichment=geo("Atlantis")),
    attribute(4, "ip-dst", "192.0.2.4", enrichment=geo("luxembourg")),
    attribute(5, "domain", "example.org"),
])
PATH = "enrichment.{n}.Object.0.Attribute.{n}[object_relation=country].value"


def test_assign_country_event_scope():
    answer = call_node(assign_country, core(COUNTRY_EVENT), {"scope": "event", "hash_path": PATH, "locality": "global",
                                                           "relationship_type": "targets"})
    assert answer["result"] is True and "data" not in answer
    tags = [(c["op"], c["scope"], c["tag"], c["local"], c["relationship_type"]) for c in answer["changes"] if c["op"] == "attach_tag"]
    assert tags == [("attach_tag", "event", 'misp-galaxy:country="luxembourg"', False, "targets"),
                    ("attach_tag", "event", 'misp-galaxy:country="germany"', False, "targets")]  # once each
    assert answer["changes"][-1] == {"op": "touch", "scope": "event", "uuid": COUNTRY_EVENT["Event"]["uuid"]}


def test_assign_country_attribute_scope_and_result_of_last():
    answer = call_node(assign_country, core(COUNTRY_EVENT), {"scope": "attribute", "hash_path": PATH})
    tagged = [(c["uuid"], c["tag"], c["local"]) for c in answer["changes"] if c["op"] == "attach_tag"]
    assert tagged == [(U(1), 'misp-galaxy:country="luxembourg"', True), (U(2), 'misp-galaxy:country="germany"', True),
                      (U(4), 'misp-galaxy:country="luxembourg"', True)]
    assert answer["result"] is False  # the last attribute (a domain) had no country


def test_assign_country_defaults_and_filter_quirk():
    assert call_node(assign_country, core(COUNTRY_EVENT), {}) == {"result": False, "errors": [], "changes": []}
    filters = {"selector": "Event._AttributeFlattened.{n}", "value": "ip-dst", "operator": "equals", "path": "type"}
    answer = call_node(assign_country, core(COUNTRY_EVENT), {"hash_path": PATH}, filters)
    assert answer == {"result": False, "errors": [], "changes": []}  # MISP looks for Event.id in the items


def test_assign_country_keeps_tags_already_there():
    raw = json.loads(json.dumps(COUNTRY_EVENT))
    raw["Event"]["Attribute"][0]["Tag"] = [{"id": "9", "name": 'misp-galaxy:country="luxembourg"', "local": 0}]
    answer = call_node(assign_country, core(raw), {"scope": "attribute", "hash_path": PATH})
    assert [c["uuid"] for c in answer["changes"] if c["op"] == "attach_tag"] == [U(2), U(4)]


def test_assign_country_applies_to_the_stored_event_view():
    from misp_modules.contract import changes as ch

    answer = call_node(assign_country, core(COUNTRY_EVENT), {"scope": "attribute", "hash_path": PATH})
    stored = ch.apply_changes(COUNTRY_EVENT, answer["changes"])
    assert [t["name"] for t in stored["Event"]["Attribute"][1]["Tag"]] == ['misp-galaxy:country="germany"']
