"""attach-enrichment and enrich-event through the running module server, and the two official
blueprints' data paths (hashlookup, BGP Ranking) on what attach-enrichment produces."""

from __future__ import annotations

import json

import pytest

from misp_modules.semantics import conditions, hashpath
from tests.support.data import BLUEPRINTS
from tests.support.intel import BGP_EVENT, HASH_EVENT, INTEL_MODULES, attribute, core, raw_event, server_config


def blueprint_node(filename: str, module_id: str) -> dict:
    nodes = json.loads((BLUEPRINTS / filename).read_text())["WorkflowBlueprint"]["data"]
    return next(n["data"] for n in nodes if n["data"]["id"] == module_id)


def attach(server, data: dict, modules, saved_filters: dict | None = None, **extra) -> dict:
    request = {"module": "attach_enrichment", "data": data, "params": {"modules": modules},
               "node": {"id": "10", "saved_filters": saved_filters or {}}, **extra}
    status, answer = server.query(request)
    assert status == 200
    return answer


def uuids(items) -> set[str]:
    return {a["uuid"] for a in (items.values() if isinstance(items, dict) else items)}


# --- the blueprints ------------------------------------------------------------------------------



def test_bgp_ranking_blueprint_selects_exactly_the_low_ranked(intel_server, bgp_fake):
    node = blueprint_node("blueprint_set-tag-based-on-bgp-ranking-maliciousness-level_1668498668.json", "attach-enrichment")
    assert node["indexed_params"]["modules"] == "bgpranking"  # a string, wrapped as MISP does
    answer = attach(intel_server, core(BGP_EVENT), node["indexed_params"]["modules"], node["saved_filters"])
    assert answer["result"] is True and answer["errors"] == []
    data = answer["data"]
    tag_node = blueprint_node("blueprint_set-tag-based-on-bgp-ranking-maliciousness-level_1668498668.json", "tag_operation")
    selected = conditions.matching_items(data, tag_node["saved_filters"])
    expected = {attribute(n, "x", "")["uuid"] for n in (1, 2, 6, 7, 11)}
    assert uuids(selected) == expected
    # both copies carry the same enrichment, the object attribute included
    nested = {a["uuid"]: a for a in data["Event"]["Attribute"]}
    nested.update({a["uuid"]: a for o in data["Event"]["Object"] for a in o["Attribute"]})
    for flat in data["Event"]["_AttributeFlattened"]:
        assert flat.get("enrichment") == nested[flat["uuid"]].get("enrichment")
    by_uuid = {a["uuid"]: a for a in data["Event"]["_AttributeFlattened"]}
    assert "enrichment" not in by_uuid[attribute(10, "x", "")["uuid"]]
    assert by_uuid[attribute(5, "x", "")["uuid"]]["enrichment"] == [
        {"error": "There is no result about this ASN in BGP Ranking"}]
    assert "no routing history" in by_uuid[attribute(9, "x", "")["uuid"]]["enrichment"][0]["error"]
    # one IP ASN History query per IP attribute, one ranking per resolved or AS attribute
    assert len(bgp_fake.bodies("/ip")) == 5
    assert len(bgp_fake.bodies("/json/asn")) == 9




@pytest.mark.parametrize("blueprint,node_id", [
    ("blueprint_disable-to_ids-flag-for-existing-hash-in-hashlookup_1667228944.json", "attribute_ids_flag_operation"),
    ("blueprint_disable-to_ids-flag-for-existing-hash-in-hashlookup_1667228944.json", "tag_operation"),
    ("blueprint_curation---remove-automation-flag-from-known-non-malicious-hashes.json", "generic-filter-data"),
])
def test_hashlookup_blueprints_find_the_known_hashes(intel_server, hl_fake, blueprint, node_id):
    enrich = blueprint_node(blueprint, "attach-enrichment")
    answer = attach(intel_server, core(HASH_EVENT), enrich["indexed_params"]["modules"], enrich["saved_filters"])
    assert answer["result"] is True
    data = answer["data"]
    node = blueprint_node(blueprint, node_id)
    if node_id == "generic-filter-data":
        p = node["indexed_params"]
        filters = {"selector": p["selector"], "value": p["value"], "operator": p["operator"], "path": p["hash_path"]}
    else:
        filters = node["saved_filters"]
    selected = conditions.matching_items(data, filters)
    assert uuids(selected) == {attribute(n, "x", "")["uuid"] for n in (1, 2, 3, 5)}
    by_uuid = {a["uuid"]: a for a in data["Event"]["_AttributeFlattened"]}
    assert by_uuid[attribute(4, "x", "")["uuid"]]["enrichment"] == [{"error": "Non existing hash"}]
    # the curation blueprint's comment template reads the first object's FileName
    first = by_uuid[attribute(1, "x", "")["uuid"]]["enrichment"][0]["Object"][0]["Attribute"]
    assert [a["value"] for a in first if a["object_relation"] == "FileName"] == ["known-0.dll"]
    assert sum(r.path.startswith("/lookup/") for r in hl_fake.requests) == 5  # one lookup per attribute


# --- MISP's request body and result handling ----------------------------------------------------

ECHO_EVENT = raw_event([
    attribute(1, "ip-src", "192.0.2.1"),
    attribute(2, "domain", "example.org", to_ids=False),
    attribute(3, "domain", "fail.example"),
    attribute(4, "md5", "0" * 32),
])


def test_request_body_is_mispS(intel_server):
    data = core(ECHO_EVENT)
    answer = attach(intel_server, data, ["intel_echo", "", "intel_echo_legacy"], user={"id": "0", "email": "SYSTEM"})
    assert answer["result"] is True, answer
    by_uuid = {a["uuid"]: a for a in answer["data"]["Event"]["_AttributeFlattened"]}
    std = by_uuid[attribute(1, "x", "")["uuid"]]["enrichment"][0]["request"]
    assert list(std) == ["user", "event_id", "config", "module", "attribute"]
    assert std["config"] == {"apikey": "k-123", "region": None}
    assert std["event_id"] == "42" and std["module"] == "intel_echo" and std["user"]["email"] == "SYSTEM"
    assert std["attribute"]["uuid"] == attribute(1, "x", "")["uuid"] and "_allTags" in std["attribute"]
    domain = by_uuid[attribute(2, "x", "")["uuid"]]["enrichment"]
    assert len(domain) == 2  # both modules take domains, in the order selected
    legacy = domain[1][0]["request"]
    assert legacy["config"] == {"_": "_"} and legacy["domain"] == "example.org" and "attribute" not in legacy
    assert domain[1][0]["values"] == ["192.0.2.1", "192.0.2.2"]
    assert by_uuid[attribute(3, "x", "")["uuid"]]["enrichment"][0] == {"error": "echo refuses fail.example"}
    assert "enrichment" not in by_uuid[attribute(4, "x", "")["uuid"]]


def test_node_filter_restricts_the_attributes(intel_server):
    filters = {"selector": "Event._AttributeFlattened.{n}", "value": "domain", "operator": "equals", "path": "type"}
    answer = attach(intel_server, core(ECHO_EVENT), ["intel_echo"], filters)
    enriched = {a["uuid"] for a in answer["data"]["Event"]["_AttributeFlattened"] if "enrichment" in a}
    assert enriched == {attribute(n, "x", "")["uuid"] for n in (2, 3)}


def test_filtered_roaming_data_keeps_its_keys_and_unfiltered_copy(intel_server):
    data = core(ECHO_EVENT)
    flat = data["Event"]["_AttributeFlattened"]
    data["_unfilteredData"] = json.loads(json.dumps(data))
    data["enabledFilters"] = {"A": {"selector": "Event._AttributeFlattened.{n}", "value": "domain",
                                    "operator": "equals", "path": "type"}}
    data["Event"]["_AttributeFlattened"] = {"1": flat[1], "2": flat[2]}  # as getData() hands it over
    answer = attach(intel_server, data, ["intel_echo"])
    out = answer["data"]
    assert set(out["Event"]["_AttributeFlattened"]) == {"1", "2"}
    assert all("enrichment" in a for a in out["Event"]["_AttributeFlattened"].values())
    assert all("enrichment" not in a for a in out["_unfilteredData"]["Event"]["_AttributeFlattened"])  # MISP quirk


def test_garbage_answer_and_unavailable_module_fail_the_node_after_enriching_the_rest(intel_server):
    data = core(raw_event([attribute(1, "domain", "garbage.example"), attribute(2, "domain", "ok.example")]))
    answer = attach(intel_server, data, ["intel_echo", "mmdb_lookup"])
    assert answer["result"] is False
    assert "answered neither `results` nor `error`" in answer["error"]
    assert "'mmdb_lookup' is not available" in answer["error"]
    ok = answer["data"]["Event"]["_AttributeFlattened"][1]["enrichment"]
    assert ok[0]["request"]["attribute"]["value"] == "ok.example"
    assert ok[1] == {"error": "Enrichment module 'mmdb_lookup' is not available on this module server"}


def test_a_module_timeout_is_an_error_entry(intel_server):
    data = core(raw_event([attribute(1, "domain", "slow.example")]))
    answer = attach(intel_server, data, ["intel_slow"])
    entry = answer["data"]["Event"]["_AttributeFlattened"][0]["enrichment"][0]
    assert entry["error"].startswith("Timeout") and "intel_slow" in entry["error"]


@pytest.mark.parametrize("modules,result,errors", [
    ("", False, ["No enrichmnent module selected"]),
    ([], False, ["No enrichmnent module selected"]),
    ([""], True, []),
])
def test_empty_module_selection(intel_server, modules, result, errors):
    answer = attach(intel_server, core(ECHO_EVENT), modules)
    assert (answer["result"], answer["errors"]) == (result, errors)


def test_forward_server_serves_modules_we_lack(make_server, hl_fake, bgp_fake):
    upstream = make_server(custom_dir=INTEL_MODULES, config={"modules": {"intel_echo": {"apikey": "remote"}}})
    local = make_server(config=server_config(hl_fake, bgp_fake,
                                             attach_enrichment={"forward_url": upstream.url + "/"},
                                             intel_echo={"apikey": "local-setting"}))
    answer = attach(local, core(ECHO_EVENT), ["intel_echo", "bgpranking"])
    assert answer["result"] is True, answer
    first = answer["data"]["Event"]["_AttributeFlattened"][0]["enrichment"]
    assert first[0]["request"]["config"]["apikey"] == "local-setting"  # MISP sends its own settings
    assert first[1]["Object"][1]["name"] == "bgp-ranking"
    assert "POST /query" in upstream.logs()


def test_forward_server_down_is_reported(make_server, hl_fake, bgp_fake):
    local = make_server(config=server_config(hl_fake, bgp_fake,
                                             attach_enrichment={"forward_url": "http://user:pw@127.0.0.1:9/"}))
    answer = attach(local, core(ECHO_EVENT), ["intel_echo"])
    assert answer["result"] is False
    assert "cannot connect to the forward server at http://127.0.0.1:9 " in answer["error"] and "pw" not in answer["error"]


# --- enrich-event -------------------------------------------------------------------------------

def enrich(server, raw: dict, module, saved_filters: dict | None = None, stored: bool = True) -> dict:
    request = {"module": "enrich_event", "data": core(raw), "params": {"modules": module},
               "node": {"id": "3", "saved_filters": saved_filters or {}}}
    if stored:
        request["stored_event"] = raw
    status, answer = server.query(request)
    assert status == 200
    return answer


def test_enrich_event_adds_objects_and_returns_the_converted_event(intel_server):
    raw = raw_event([attribute(1, "AS", "AS64500"), attribute(2, "ip-src", "203.0.113.1"), attribute(3, "md5", "1" * 32)])
    answer = enrich(intel_server, raw, "bgpranking")
    assert answer["result"] is True, answer
    assert [c["op"] for c in answer["changes"]] == ["add_object"] * 4
    assert {c["event_uuid"] for c in answer["changes"]} == {raw["Event"]["uuid"]}
    flat = answer["data"]["Event"]["_AttributeFlattened"]
    positions = [a["value"] for a in flat if a.get("object_relation") == "position"]
    assert sorted(float(p) for p in positions) == [3.0, 49.0]
    assert len(answer["data"]["Event"]["Object"]) == 4 and "_allTags" in flat[0]


def test_enrich_event_stops_at_an_error_answer_like_misp(intel_server):
    raw = raw_event([attribute(1, "AS", "AS64500"), attribute(2, "AS", "AS65000"), attribute(3, "AS", "AS64501")])
    answer = enrich(intel_server, raw, "bgpranking")
    assert answer["result"] is False
    assert answer["error"] == ("Invalid response received from module bgpranking: "
                               "There is no result about this ASN in BGP Ranking")
    assert len(answer["changes"]) == 2 and "data" not in answer  # the first attribute's asn + bgp-ranking


def test_enrich_event_respects_the_node_filter_and_checks_params(intel_server):
    raw = raw_event([attribute(1, "AS", "AS64500"), attribute(2, "AS", "AS64501")])
    filters = {"selector": "Event._AttributeFlattened.{n}", "value": "AS64501", "operator": "equals", "path": "value"}
    answer = enrich(intel_server, raw, "bgpranking", filters)
    asns = [a["value"] for c in answer["changes"] for a in c["object"]["Attribute"] if a["object_relation"] == "asn"]
    assert asns == ["64501"]
    nothing = {"selector": "Event._AttributeFlattened.{n}", "value": "nope", "operator": "equals", "path": "value"}
    assert enrich(intel_server, raw, "bgpranking", nothing) == {"result": True, "errors": []}
    assert enrich(intel_server, raw, "")["error"] == "No enrichmnent module selected"
    assert "'nope' is not available" in enrich(intel_server, raw, "nope")["error"]


def test_enrich_event_without_stored_event_uses_the_roaming_data(intel_server):
    raw = raw_event([attribute(1, "domain", "example.org")])
    answer = enrich(intel_server, raw, "intel_echo_legacy", stored=False)
    assert [(c["attribute"]["type"], c["attribute"]["value"]) for c in answer["changes"]] == [
        ("ip-dst", "192.0.2.1"), ("ip-dst", "192.0.2.2")]
    assert [a["value"] for a in answer["data"]["Event"]["_AttributeFlattened"]] == ["example.org", "192.0.2.1", "192.0.2.2"]


def test_hash_paths_see_php_style_maps():
    attribute_with = {"enrichment": {"0": {"Object": {"0": {"name": "bgp-ranking", "Attribute": {
        "0": {"object_relation": "position", "value": "12", "type": "float"}}}}}}}
    path = "enrichment.{n}.Object.{n}[name=bgp-ranking].Attribute.{n}[object_relation=position][value<50].type"
    assert hashpath.extract(attribute_with, path) == ["float"]
