"""The ``hashlookup`` and ``bgpranking`` expansion modules: upstream's shapes, errors, quirks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from misp_modules.modules.expansion import bgpranking as bgp_module
from misp_modules.modules.expansion import hashlookup as hl_module
from misp_modules.semantics import hashpath
from tests.support.intel import KNOWN, MALICIOUS

UUID = "5f1c0000-0000-4000-8000-000000000001"


def attr(type_: str, value: str, **extra) -> dict:
    return {"id": "101", "event_id": "7", "object_id": "0", "object_relation": None, "category": "Payload delivery",
            "type": type_, "value": value, "to_ids": True, "uuid": UUID, "timestamp": "1700000000",
            "distribution": "5", "sharing_group_id": "0", "comment": "", "deleted": False,
            "disable_correlation": False, "first_seen": None, "last_seen": None,
            "_allTags": [{"name": "tlp:green", "inherited": True}], **extra}


def relations(obj: dict) -> dict[str, tuple[str, str]]:
    return {a["object_relation"]: (a["type"], a["value"]) for a in obj["Attribute"]}


# --- hashlookup ---------------------------------------------------------------------------------

def test_hashlookup_introspection_is_upstreams():
    assert hl_module.introspection() == {"input": ["md5", "sha1", "sha256"], "format": "misp_standard"}
    meta = hl_module.version()
    assert meta["module-type"] == ["expansion", "hover"] and meta["config"] == ["custom_API"]


@pytest.mark.parametrize("algo,key", [("md5", "MD5"), ("sha1", "SHA-1"), ("sha256", "SHA-256")])
def test_known_hash_gives_the_hashlookup_object_first(intel, algo, key):
    record = KNOWN[0]
    answer = hl_module.dict_handler({"module": "hashlookup", "event_id": "7", "attribute": attr(algo, record[key].lower()),
                                     "config": {"custom_API": None}})
    results = answer["results"]
    assert results["Attribute"][0]["uuid"] == UUID and results["Attribute"][0]["value"] == record[key].lower()
    assert "_allTags" not in results["Attribute"][0]
    first = results["Object"][0]
    assert first["name"] == "hashlookup"
    rel = relations(first)
    assert rel["FileName"] == ("filename", "known-0.dll")
    assert rel["SHA-1"] == ("sha1", record["SHA-1"]) and rel["MD5"] == ("md5", record["MD5"])
    assert rel["FileSize"] == ("size-in-bytes", record["FileSize"]) and rel["source"] == ("text", "NSRL")
    assert "KnownMalicious" not in rel
    assert first["ObjectReference"][0]["referenced_uuid"] == UUID
    assert first["ObjectReference"][0]["relationship_type"] == "related-to"
    # the blueprint's filter, as MISP evaluates it on the attribute after attach-enrichment
    enriched = {**attr(algo, "x"), "enrichment": [results]}
    path = "enrichment.{n}.Object.{n}.Attribute.{n}[object_relation=FileName].type"
    assert hashpath.extract(enriched, path) == ["filename"]


def test_known_malicious_is_carried(intel):
    answer = hl_module.dict_handler({"attribute": attr("sha1", MALICIOUS["SHA-1"]), "config": []})
    assert relations(answer["results"]["Object"][0])["KnownMalicious"] == ("text", "virustotal")


def test_unknown_hash_is_upstreams_error(intel):
    assert hl_module.dict_handler({"attribute": attr("md5", "0" * 32)}) == {"error": "Non existing hash"}


@pytest.mark.parametrize("request_", [
    {},
    {"attribute": "8.8.8.8"},
    {"attribute": {"type": "md5", "value": "0" * 32}},        # no uuid
    {"attribute": {"type": "md5", "uuid": UUID}},              # no value
    {"attribute": {"type": "md5", "value": ["x"], "uuid": UUID}},
])
def test_missing_attribute_is_the_standard_error(intel, request_):
    assert "requires an \"attribute\" field" in hl_module.dict_handler(request_)["error"]


def test_unsupported_type_and_malformed_hash(intel):
    hl, _ = intel
    assert hl_module.dict_handler({"attribute": attr("ip-src", "1.2.3.4")}) == {"error": "md5 or sha1 or sha256 is missing."}
    error = hl_module.dict_handler({"attribute": attr("sha256", "abcd")})["error"]
    assert "malformed sha256" in error and "64 hexadecimal" in error
    assert hl.requests == []


def test_custom_api_overrides_the_configured_url(intel, hl_fake):
    from tests.support.fakes.hashlookup import HashlookupFake
    with HashlookupFake([KNOWN[2]]) as other:
        answer = hl_module.dict_handler({"attribute": attr("md5", KNOWN[2]["MD5"]),
                                         "config": {"custom_API": other.url}})  # no trailing slash
        assert answer["results"]["Object"][0]["name"] == "hashlookup"
        assert [r.path for r in other.requests] == [f"/lookup/md5/{KNOWN[2]['MD5']}"]
    assert hl_fake.requests == []


def test_service_failures_are_errors(intel):
    hl, _ = intel
    hl.fault_status = 503
    assert hl_module.dict_handler({"attribute": attr("md5", "1" * 32)})["error"].startswith("hashlookup: service error (HTTP 503)")
    hl.fault_status = 429
    assert "rate limited" in hl_module.dict_handler({"attribute": attr("md5", "2" * 32)})["error"]


# --- bgpranking ---------------------------------------------------------------------------------

def yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def test_bgpranking_introspection():
    assert bgp_module.introspection() == {"input": ["AS", "ip-src", "ip-dst"], "format": "misp_standard"}
    assert bgp_module.version()["module-type"] == ["expansion", "hover"]


def test_as_attribute_gives_asn_and_bgp_ranking_objects(intel):
    answer = bgp_module.dict_handler({"attribute": attr("AS", "AS64500", category="Network activity"), "config": {"_": "_"}})
    asn_obj, ranking_obj = answer["results"]["Object"]
    assert asn_obj["name"] == "asn" and ranking_obj["name"] == "bgp-ranking"
    assert relations(asn_obj) == {"asn": ("AS", "64500"), "description": ("text", "EVIL-HOSTING"), "country": ("text", "RU")}
    rel = relations(ranking_obj)
    assert rel["position"][0] == "float" and float(rel["position"][1]) == 3
    assert rel["ranking"][0] == "float" and float(rel["ranking"][1]) == 0.0081
    assert rel["date"] == ("datetime", f"{yesterday()}T00:00:00")
    assert rel["address-family"] == ("text", "v4")
    refs = {r["relationship_type"]: r["referenced_uuid"] for r in asn_obj["ObjectReference"]}
    assert refs == {"describes": UUID, "ranked-with": ranking_obj["uuid"]}


@pytest.mark.parametrize("asn,low", [("AS64500", True), ("64501", True), ("AS64502", False), ("AS64503", False),
                                     ("AS64504", False)])
def test_blueprint_path_selects_exactly_low_ranked(intel, asn, low):
    answer = bgp_module.dict_handler({"attribute": attr("AS", asn)})
    enriched = {**attr("AS", asn), "enrichment": [answer["results"]]}
    path = "enrichment.{n}.Object.{n}[name=bgp-ranking].Attribute.{n}[object_relation=position][value<50].type"
    assert hashpath.extract(enriched, path) == (["float"] if low else [])


def test_unranked_asn_has_no_position(intel):
    answer = bgp_module.dict_handler({"attribute": attr("AS", "64503")})
    assert "position" not in relations(answer["results"]["Object"][1])


def test_ip_is_resolved_through_ip_asn_history(intel):
    _, bgp = intel
    answer = bgp_module.dict_handler({"attribute": attr("ip-dst", "203.0.113.9")})
    asn_obj, ranking_obj = answer["results"]["Object"]
    assert relations(asn_obj)["asn"] == ("AS", "64501")
    assert relations(asn_obj)["subnet-announced"] == ("ip-src", "203.0.113.0/24")
    assert float(relations(ranking_obj)["position"][1]) == 49
    assert [r.path for r in bgp.requests] == ["/ip", "/json/asn"]
    assert bgp.bodies("/ip")[0]["ip"] == "203.0.113.9"
    assert bgp.bodies("/json/asn")[0] == {"asn": "64501", "address_family": "v4", "date": yesterday()}


def test_ipv6_uses_address_family_v6(intel):
    _, bgp = intel
    bgp_module.dict_handler({"attribute": attr("ip-src", "2001:db8::5")})
    assert bgp.bodies("/json/asn")[0]["address_family"] == "v6"


@pytest.mark.parametrize("attribute,expected", [
    (attr("AS", "AS65000"), "There is no result about this ASN in BGP Ranking"),
    (attr("ip-src", "10.9.9.9"), "IP ASN History has no routing history for 10.9.9.9"),
    (attr("AS", "ASN-X"), "is not an AS number"),
    (attr("ip-dst", "999.1.1.1"), "is not an IP address"),
    (attr("domain", "example.org"), "Unsupported attribute type."),
])
def test_bgpranking_errors(intel, attribute, expected):
    assert expected in bgp_module.dict_handler({"attribute": attribute})["error"]


def test_bgpranking_service_down(intel):
    _, bgp = intel
    bgp.fault_status = 500
    error = bgp_module.dict_handler({"attribute": attr("AS", "AS64500")})["error"]
    assert error.startswith("BGP Ranking: service error (HTTP 500)")


# --- through the module server, as MISP calls it -------------------------------------------------

def test_misp_enrichment_requests_through_the_server(intel_server, hl_fake, bgp_fake):
    entries = {m["name"]: m for m in intel_server.modules()}
    assert entries["hashlookup"]["mispattributes"] == {"input": ["md5", "sha1", "sha256"], "format": "misp_standard"}
    assert entries["hashlookup"]["meta"]["config"] == ["custom_API"]
    assert entries["bgpranking"]["meta"]["module-type"] == ["expansion", "hover"]
    assert entries["hashlookup_curation"]["meta"]["module-type"] == ["action"]
    assert entries["hashlookup_curation"]["meta"]["config"]["support_filters"] is True
    assert entries["attach_enrichment"]["meta"]["misp_workflow"]["id"] == "attach-enrichment"
    # MISP's misp_standard menu enrichment body (misp-modules-protocol.md §5.2)
    status, answer = intel_server.query({"module": "hashlookup", "event_id": "42", "attribute": attr("md5", KNOWN[0]["MD5"].lower()),
                                         "config": {"custom_API": None}})
    assert status == 200 and answer["results"]["Object"][0]["name"] == "hashlookup"
    status, answer = intel_server.query({"module": "bgpranking", "attribute": attr("AS", "AS64501"), "persistent": 1})
    assert status == 200 and [o["name"] for o in answer["results"]["Object"]] == ["asn", "bgp-ranking"]
    bgp_fake.fault_status = 503
    status, answer = intel_server.query({"module": "bgpranking", "attribute": attr("AS", "AS64500")})
    assert status == 200 and answer == {"error": f"BGP Ranking: service error (HTTP 503) from {bgp_fake.url}/"}
