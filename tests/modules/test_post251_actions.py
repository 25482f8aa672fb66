"""MISP's action nodes added after v2.5.1 (attribute_distribution_operation, add_analyst_data,
tag_country_asn_from_enrichment, tag_cve_from_enrichment), handler-level through the real
server: offline (changes returned), and written back end to end through PyMISP to the MISP
fake; tag_cve_from_enrichment against a local vulnerability-lookup (docs/misp-behaviour.md §16.7-16.10)."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator

import pytest

from misp_modules.contract import changes as ch
from misp_modules.semantics.convert import to_core_format
from tests.support.data import EVENTS
from tests.support.fakes.misp import API_KEY, MispFake
from tests.support.fakes.vulnerability_lookup import VulnerabilityLookupFake, cve_record
from tests.support.harness import ModuleServer
from tests.support.nodes import query_node

RAW = json.loads((EVENTS / "misp_event.json").read_text())
EVENT_UUID = RAW["uuid"]
CVE_UUID = "5f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
IP_UUID = "6a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d"
ARBITRARY_OFF = "`Security.rest_client_enable_arbitrary_urls` is turned off"
CONSTRUCTOR = ("/servers/getVersion", "/users/view/me", "/attributes/describeTypes.json")


def raw_event() -> dict:
    event = copy.deepcopy(RAW)
    event["Attribute"] += [
        {"id": "8", "event_id": RAW["id"], "uuid": CVE_UUID, "type": "vulnerability", "category": "External analysis",
         "value": "CVE-2024-3094", "comment": "seen in the wild", "to_ids": False, "distribution": "5",
         "timestamp": "1465681304", "Tag": []},
        {"id": "9", "event_id": RAW["id"], "uuid": IP_UUID, "type": "ip-dst", "category": "Network activity",
         "value": "198.51.100.7", "comment": "", "to_ids": True, "distribution": "5",
         "timestamp": "1465681304", "Tag": []},
    ]
    return {"Event": event}


def enrichment(*pairs: tuple[str, str], where: str = "Object") -> list[dict]:
    attributes = [{"object_relation": relation, "value": value, "type": "text"} for relation, value in pairs]
    if where == "Object":
        return [{"Object": [{"name": "asn", "Attribute": attributes}]}]
    return [{"Attribute": attributes}]


def data(**enrich: list[dict]) -> dict:
    """The event in core format; ``enrich`` gives an attribute (by uuid) an ``enrichment`` list."""
    core = to_core_format(raw_event())
    event = core["Event"]
    for attribute in [*event["Attribute"], *event["_AttributeFlattened"]]:
        if attribute["uuid"] in enrich:
            attribute["enrichment"] = enrich[attribute["uuid"]]
    return core


def flat(answer_data: dict, uuid: str) -> dict:
    return next(a for a in answer_data["Event"]["_AttributeFlattened"] if a["uuid"] == uuid)


def nested(answer_data: dict, uuid: str) -> dict:
    return next(a for a in answer_data["Event"]["Attribute"] if a["uuid"] == uuid)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- attribute_distribution_operation -----------------------------------------------------------

def test_distribution_edits_every_copy_and_reports_changes(module_server) -> None:
    answer = query_node(module_server, "attribute_distribution_operation", data(), {"distribution": "2"})
    assert answer["result"] is True and answer["errors"] == []
    for uuid in (a["uuid"] for a in raw_event()["Event"]["Attribute"]):
        for copy_ in (flat(answer["data"], uuid), nested(answer["data"], uuid)):
            assert copy_["distribution"] == "2" and "timestamp" not in copy_  # the param's value; MISP drops it
    sets = [c for c in answer["changes"] if c["op"] == "set"]
    assert {c["field"] for c in sets} == {"distribution"} and len(sets) == 4
    assert sum(c["op"] == "touch" for c in answer["changes"]) == 4


def test_distribution_sharing_group(module_server) -> None:
    answer = query_node(module_server, "attribute_distribution_operation", data(),
                        {"distribution": "4", "sharing_group_id": "3"})
    assert answer["result"] is True
    assert flat(answer["data"], CVE_UUID)["sharing_group_id"] == "3"
    assert {(c["field"], c["value"]) for c in answer["changes"] if c["op"] == "set"} == {("distribution", "4"),
                                                                                       ("sharing_group_id", "3")}
    missing = query_node(module_server, "attribute_distribution_operation", data(), {"distribution": "4"})
    assert missing["result"] is False and "param `sharing_group_id`" in missing["error"]
    assert "changes" not in missing or missing["changes"] == []
    wrong = query_node(module_server, "attribute_distribution_operation", data(), {"distribution": "9"})
    assert wrong["result"] is False and "distribution '9'" in wrong["error"]


def test_distribution_selection_and_crash(module_server) -> None:
    nothing = query_node(module_server, "attribute_distribution_operation", data(), {"distribution": "1"},
                         {"selector": "Event._AttributeFlattened.{n}", "value": "nope", "operator": "equals",
                          "path": "type"})
    assert (nothing["result"], nothing["errors"]) == (False, []) and nothing["warnings"]
    one = query_node(module_server, "attribute_distribution_operation", data(), {"distribution": "1"},
                     {"selector": "Event._AttributeFlattened.{n}", "value": "vulnerability", "operator": "equals",
                      "path": "type"})
    assert one["result"] is True and {c["uuid"] for c in one["changes"]} == {CVE_UUID}
    error = query_node(module_server, "attribute_distribution_operation", data(), {"distribution": "1"},
                       {"selector": ["not", "a", "path"], "value": "", "operator": "", "path": ""})
    assert error["result"] is False and "MISP's run would end here" in error["crash"]


# --- add_analyst_data ---------------------------------------------------------------------------

def test_note_on_the_event(module_server) -> None:
    answer = query_node(module_server, "add_analyst_data", data(), {"note": "Triaged", "author": "soc@example.org",
                                                                    "language": "en", "sharing_group_id": "7"})
    assert answer["result"] is True and answer["errors"] == [] and "data" not in answer
    assert answer["changes"] == [{"op": "add_analyst_data", "type": "Note", "object_type": "Event",
                                  "object_uuid": EVENT_UUID,
                                  "fields": {"target": "Event", "distribution": "0", "sharing_group_id": "7",
                                             "author": "soc@example.org", "language": "en", "note": "Triaged"}}]
    inverted = query_node(module_server, "add_analyst_data", data(), {"note": "x", "distribution": "4",
                                                                      "sharing_group_id": "7"})
    assert inverted["changes"][0]["fields"]["sharing_group_id"] == 0  # MISP drops it exactly for distribution 4


def test_opinion_on_every_attribute_and_the_stored_view(module_server) -> None:
    answer = query_node(module_server, "add_analyst_data", data(),
                        {"target": "Attribute", "analyst_data_type": "Opinion", "opinion": "80", "comment": "solid"})
    assert answer["result"] is True
    uuids = [a["uuid"] for a in raw_event()["Event"]["Attribute"]]
    assert [c["object_uuid"] for c in answer["changes"]] == uuids
    assert all(c["fields"]["opinion"] == "80" and "note" not in c["fields"] for c in answer["changes"])
    stored = ch.apply_changes(raw_event(), answer["changes"])
    assert [a["Opinion"][0]["comment"] for a in stored["Event"]["Attribute"]] == ["solid"] * 4
    assert stored["Event"]["Attribute"][0]["Opinion"][0]["object_type"] == "Attribute"


def test_relationship_and_invalid_uuids(module_server) -> None:
    roaming = data()
    roaming["Event"]["_AttributeFlattened"][0]["uuid"] = "not-a-uuid"
    roaming["Event"]["_AttributeFlattened"][1]["uuid"] += "\n"  # PCRE's `$`: CakePHP accepts it
    answer = query_node(module_server, "add_analyst_data", roaming,
                        {"target": "Attribute", "analyst_data_type": "Relationship", "relationship_type": "related-to",
                         "related_object_uuid": EVENT_UUID})
    assert answer["result"] is True and len(answer["changes"]) == 3
    assert answer["changes"][0]["object_uuid"].endswith("\n")
    assert answer["changes"][0]["fields"]["related_object_type"] == "Event"  # the param's default
    none = query_node(module_server, "add_analyst_data", roaming, {"target": "Object"}, trigger={})
    assert none["result"] is False and "TypeError" in none["crash"]  # no Event.Object: MISP crashes


def test_analyst_data_misp_crashes_and_failures(module_server) -> None:
    galaxy = query_node(module_server, "add_analyst_data", data(), {"target": "GalaxyCluster"})
    assert galaxy["result"] is False and "GalaxyCluster" in galaxy["crash"] and "TypeError" in galaxy["crash"]
    unknown = query_node(module_server, "add_analyst_data", data(), {"analyst_data_type": "Sighting"})
    assert unknown["result"] is False and unknown["changes"] == [] and not unknown["errors"][1:]
    strings = query_node(module_server, "add_analyst_data", {**data(), "summary": "text"}, {})  # target Event
    assert strings["result"] is False and "Cannot access offset of type string on string" in strings["crash"]
    unextractable = query_node(module_server, "add_analyst_data", data(), {},
                               {"selector": ["x"], "value": "", "operator": "", "path": ""})
    assert unextractable["result"] is False and "MISP's run would end here" in unextractable["crash"]


def test_stored_view_lists_analyst_data_where_misp_does() -> None:
    event = raw_event()
    event["Event"]["EventReport"] = [{"uuid": "r-1", "name": "report"}]
    event["Event"]["Galaxy"] = [{"GalaxyCluster": [{"uuid": "c-1", "value": "APT"}]}]
    changes = [ch.add_analyst_data("Note", "Event", EVENT_UUID, {"note": "a"}),
               ch.add_analyst_data("Note", "EventReport", "r-1", {"note": "b"}),
               ch.add_analyst_data("Relationship", "GalaxyCluster", "c-1", {"relationship_type": "uses"}),
               ch.add_analyst_data("Note", "Event", "another-event", {"note": "c"})]
    stored = ch.apply_changes(event, changes)["Event"]
    assert [n["note"] for n in stored["Note"]] == ["a"]
    assert stored["EventReport"][0]["Note"][0]["note"] == "b"
    assert stored["Galaxy"][0]["GalaxyCluster"][0]["Relationship"][0]["relationship_type"] == "uses"
    with pytest.raises(ch.ChangeError):
        ch.add_analyst_data("Sighting", "Event", EVENT_UUID, {})


# --- tag_country_asn_from_enrichment -------------------------------------------------------------

def test_country_and_asn_tags_from_enrichment(module_server) -> None:
    roaming = data(**{IP_UUID: enrichment(("country", " Luxembourg "), ("countrycode", "LU"), ("asn", "AS 6661"),
                                          ("ASNOrganization", 'POST "Luxembourg"'))})
    answer = query_node(module_server, "tag_country_asn_from_enrichment", roaming)
    expected = ['country:"LUXEMBOURG"', 'asn_number:"6661"', "asn_org:\"POST 'Luxembourg'\"", 'country_code:"LU"']
    assert answer["result"] is True and answer["errors"] == []
    assert [c["tag"] for c in answer["changes"] if c["op"] == "attach_tag"] == expected
    assert all(c["local"] is True for c in answer["changes"] if c["op"] == "attach_tag")
    assert answer["changes"][-1] == {"op": "touch", "scope": "attribute", "uuid": IP_UUID, "event_uuid": EVENT_UUID}
    for copy_ in (flat(answer["data"], IP_UUID), nested(answer["data"], IP_UUID)):
        assert [t["name"] for t in copy_["Tag"]] == expected
        assert [t["name"] for t in copy_["_allTags"]][-4:] == expected
        assert copy_["Tag"][0] == {"name": expected[0], "relationship_type": "", "local": True}


def test_asn_org_from_a_description_and_php_empty(module_server) -> None:
    roaming = data(**{IP_UUID: enrichment(("country", "0"), ("ASN", "no digits"),
                                          ("description", "ASN 6661 announced by Post Luxembourg SA"),
                                          where="Object")})
    answer = query_node(module_server, "tag_country_asn_from_enrichment", roaming, {"locality": "global"})
    tags = [c for c in answer["changes"] if c["op"] == "attach_tag"]
    # MISP's pattern is case-insensitive: the run after "ASN" starts at the first letter
    assert [t["tag"] for t in tags] == ['asn_org:"announced by Post Luxembourg SA"'] and tags[0]["local"] is False
    named = data(**{IP_UUID: enrichment(("description", 'ASNOrganization: "Example Networks". More text'),
                                        where="Attribute")})
    answer = query_node(module_server, "tag_country_asn_from_enrichment", named)
    assert [c["tag"] for c in answer["changes"] if c["op"] == "attach_tag"] == ['asn_org:"Example Networks"']


def test_country_nothing_to_tag_and_the_filter_quirk(module_server) -> None:
    plain = query_node(module_server, "tag_country_asn_from_enrichment", data())
    assert (plain["result"], plain["changes"], plain["errors"]) == (False, [], [])
    roaming = data(**{IP_UUID: enrichment(("country", "Luxembourg"))})
    filtered = query_node(module_server, "tag_country_asn_from_enrichment", roaming, {},
                          {"selector": "Event._AttributeFlattened.{n}", "value": "ip-dst", "operator": "equals",
                           "path": "type"})
    assert (filtered["result"], filtered["changes"]) == (False, [])  # the matches hold no Event
    again = copy.deepcopy(roaming)
    attribute = flat(again, IP_UUID)
    attribute["Tag"] = [{"name": 'country:"LUXEMBOURG"', "local": 1}]
    already = query_node(module_server, "tag_country_asn_from_enrichment", again)
    assert already["result"] is True and already["changes"] == []


# --- tag_cve_from_enrichment ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def vuln() -> Iterator[VulnerabilityLookupFake]:
    with VulnerabilityLookupFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def cve_server(vuln) -> Iterator[ModuleServer]:
    config = {"services": {"vulnerability_lookup": vuln.url},
              "modules": {"tag_cve_from_enrichment": {"request_timeout": 1}}}
    with ModuleServer(config=config) as srv:
        yield srv


@pytest.fixture
def lookup(vuln) -> VulnerabilityLookupFake:
    vuln.reset()
    vuln.add("CVE-2024-3094", cve_record("CVE-2024-3094", summary="Malicious code in xz.", score=10.0))
    return vuln


def test_cve_tags_and_summary(cve_server, lookup) -> None:
    answer = query_node(cve_server, "tag_cve_from_enrichment", data())
    assert lookup.asked() == ["CVE-2024-3094"]
    assert answer["result"] is True
    assert answer["errors"] == [ARBITRARY_OFF]  # the webhook parent's error, on every run
    attach = [c["tag"] for c in answer["changes"] if c["op"] == "attach_tag"]
    assert attach == ["CVSS:10", 'misp:threat-level="high-risk"']  # PHP prints 10.0 as "10"
    comment = "seen in the wild CVE Summary: Malicious code in xz."
    assert {"op": "set", "scope": "attribute", "uuid": CVE_UUID, "field": "comment", "value": comment} in answer["changes"]
    edited = flat(answer["data"], CVE_UUID)
    assert edited["comment"] == comment and "timestamp" not in edited
    assert edited["Tag"] == []  # MISP sets the data read at the start: this run's tags are dropped
    assert nested(answer["data"], CVE_UUID)["comment"] == comment


def test_cve_ttp_adp_score_and_an_existing_summary(cve_server, lookup) -> None:
    lookup.add("CVE-2024-3094", cve_record("CVE-2024-3094", score=None, adp_score=5.5))
    roaming = data()
    flat(roaming, CVE_UUID)["comment"] = "CVE Summary: known"
    answer = query_node(cve_server, "tag_cve_from_enrichment", roaming, {"add_vulnerability_ttp": "yes"})
    assert answer["result"] is True
    assert [c["tag"] for c in answer["changes"] if c["op"] == "attach_tag"] == [
        'misp-galaxy:mitre-attack-pattern="Vulnerabilities - T1588.006"', "CVSS:5.5", 'misp:threat-level="medium-risk"']
    assert not any(c["op"] == "set" for c in answer["changes"])
    assert [t["name"] for t in flat(answer["data"], CVE_UUID)["Tag"]][-1] == 'misp:threat-level="medium-risk"'


def test_cve_unknown_and_legacy_summary(cve_server, lookup) -> None:
    lookup.reset()
    answer = query_node(cve_server, "tag_cve_from_enrichment", data())  # the service answers {} with 200
    assert answer["result"] is True
    assert [c["tag"] for c in answer["changes"] if c["op"] == "attach_tag"] == [
        "CVSS:unknown", 'misp:threat-level="unknown-risk"']
    assert flat(answer["data"], CVE_UUID)["comment"] == "seen in the wild CVE Summary: No summary found"
    lookup.add("CVE-2024-3094", cve_record("CVE-2024-3094", summary=None, score=3.1, legacy_summary="Old text."))
    legacy = query_node(cve_server, "tag_cve_from_enrichment", data())
    assert flat(legacy["data"], CVE_UUID)["comment"].endswith("CVE Summary: Old text.")
    assert 'misp:threat-level="low-risk"' in [c["tag"] for c in legacy["changes"] if c["op"] == "attach_tag"]


@pytest.mark.parametrize("status", [404, 500])
def test_cve_http_failures(cve_server, lookup, status) -> None:
    if status == 404:
        lookup.reset()
        lookup.not_found_status = 404
    else:
        lookup.fault_status = 500
    answer = query_node(cve_server, "tag_cve_from_enrichment", data())
    assert answer["result"] is False and answer["changes"] == [] and "data" not in answer
    assert answer["errors"][0] == ARBITRARY_OFF
    assert answer["errors"][1].startswith(f"Request failed with HTTP {status}: ")
    assert ("not found" if status == 404 else "Internal Server Error") in answer["errors"][1]


def test_cve_bad_json_and_quoted_json(cve_server, lookup) -> None:
    lookup.raw_body = "<html>maintenance</html>"
    bad = query_node(cve_server, "tag_cve_from_enrichment", data())
    assert bad["result"] is True and "CVSS:unknown" in [c["tag"] for c in bad["changes"] if c["op"] == "attach_tag"]
    record = json.dumps(cve_record("CVE-2024-3094", score=7.0))
    lookup.raw_body = "data: noise\n" + record + "\n"  # not JSON: MISP tries each line starting with {
    lines = query_node(cve_server, "tag_cve_from_enrichment", data())
    assert [c["tag"] for c in lines["changes"] if c["op"] == "attach_tag"] == ["CVSS:7", 'misp:threat-level="high-risk"']
    lookup.raw_body = '"noise\n' + record.replace('"', '\\"') + '"'  # a quoted, escaped record (a raw newline: not JSON)
    quoted = query_node(cve_server, "tag_cve_from_enrichment", data())
    assert [c["tag"] for c in quoted["changes"] if c["op"] == "attach_tag"] == ["CVSS:7", 'misp:threat-level="high-risk"']
    lookup.raw_body = json.dumps("a JSON string")  # valid JSON, not a record: no score
    string = query_node(cve_server, "tag_cve_from_enrichment", data())
    assert "CVSS:unknown" in [c["tag"] for c in string["changes"] if c["op"] == "attach_tag"]


def test_cve_timeout_is_a_caught_exception(cve_server, lookup) -> None:
    lookup.hang = True
    answer = query_node(cve_server, "tag_cve_from_enrichment", data())
    lookup.release.set()  # let the held handler go
    assert answer["result"] is False and "no answer from http://127.0.0.1" in answer["exception"]
    assert answer["errors"] == [ARBITRARY_OFF] and answer["changes"] == []


def test_cve_unreachable_and_the_url_error() -> None:
    config = {"services": {"vulnerability_lookup": f"http://127.0.0.1:{closed_port()}"},
              "modules": {"misp_webhook": {"rest_client_enable_arbitrary_urls": True}}}
    with ModuleServer(config=config) as srv:
        answer = query_node(srv, "tag_cve_from_enrichment", data())
        assert answer["result"] is False and "connection refused" in answer["exception"]
        assert answer["errors"] == ["URL not provided."]
        other = data()
        flat(other, CVE_UUID)["type"] = "text"  # no vulnerability: no request, the URL error only
        quiet = query_node(srv, "tag_cve_from_enrichment", other)
        assert (quiet["result"], quiet["errors"]) == (False, ["URL not provided."])


# --- written back to MISP through PyMISP ----------------------------------------------------------

@pytest.fixture(scope="module")
def fake_misp() -> Iterator[MispFake]:
    with MispFake() as misp:
        yield misp


@pytest.fixture(scope="module")
def misp_server(fake_misp, vuln) -> Iterator[ModuleServer]:
    config = {"misp": {"url": fake_misp.url, "key": API_KEY, "timeout": 5},
              "services": {"vulnerability_lookup": vuln.url}}
    with ModuleServer(config=config) as srv:
        yield srv


@pytest.fixture
def misp(fake_misp) -> MispFake:
    fake_misp.events.clear()
    fake_misp.analyst_data.clear()
    fake_misp.fail.clear()
    fake_misp.add_event(raw_event())
    fake_misp.requests.clear()
    return fake_misp


def work(fake: MispFake) -> list[str]:
    return [p for p in fake.paths() if not p.endswith(CONSTRUCTOR)]


def stored_attribute(fake: MispFake, uuid: str) -> dict:
    return next(a for a in fake.events[EVENT_UUID]["Event"]["Attribute"] if a["uuid"] == uuid)


def test_distribution_written_through_pymisp(misp_server, misp) -> None:
    answer = query_node(misp_server, "attribute_distribution_operation", data(), {"distribution": "1"},
                        {"selector": "Event._AttributeFlattened.{n}", "value": "vulnerability", "operator": "equals",
                         "path": "type"})
    assert answer["result"] is True and all(c["applied"] for c in answer["changes"])
    assert work(misp) == [f"POST /attributes/edit/{CVE_UUID}", f"POST /events/unpublish/{EVENT_UUID}"]
    assert misp.calls("/attributes/edit/") == [{"distribution": "1"}]
    assert stored_attribute(misp, CVE_UUID)["distribution"] == "1"


def test_analyst_data_written_through_pymisp(misp_server, misp) -> None:
    answer = query_node(misp_server, "add_analyst_data", data(), {"note": "Triaged", "language": "en"})
    assert answer["result"] is True and answer["changes"][0]["applied"] is True
    assert work(misp) == [f"POST /analyst_data/add/Note/{EVENT_UUID}/Event"]
    sent = misp.calls("/analyst_data/add/")[0]  # PyMISP sends the Note unwrapped; MISP's CRUD add takes both
    assert (sent["note"], sent["language"], sent["object_uuid"], sent["object_type"]) == (
        "Triaged", "en", EVENT_UUID, "Event")
    assert [n["note"] for n in misp.events[EVENT_UUID]["Event"]["Note"]] == ["Triaged"]
    opinion = query_node(misp_server, "add_analyst_data", data(), {"target": "Attribute",
                                                                   "analyst_data_type": "Opinion",
                                                                   "opinion": "90", "comment": "ok"})
    assert opinion["result"] is True, opinion
    assert len(misp.calls("/analyst_data/add/Opinion/")) == 4
    assert stored_attribute(misp, CVE_UUID)["Opinion"][0]["opinion"] == "90"


def test_analyst_data_misp_refuses(misp_server, misp) -> None:
    out_of_range = query_node(misp_server, "add_analyst_data", data(), {"analyst_data_type": "Opinion",
                                                                        "opinion": "150", "comment": "?"})
    assert out_of_range["result"] is False and "0 and 100" in out_of_range["error"]  # PyMISP refuses to send it
    misp.fail["/analyst_data/add"] = (403, {"saved": False, "name": "Could not add Note",
                                            "message": "Could not add Note", "errors": {"note": ["Org blocked"]}})
    refused = query_node(misp_server, "add_analyst_data", data(), {"note": "x"})
    assert refused["result"] is False and refused["changes"] == []
    assert "add_analyst_data Note on Event" in refused["error"] and "Could not add Note" in refused["error"]


def test_cve_written_through_pymisp(misp_server, misp, lookup) -> None:
    answer = query_node(misp_server, "tag_cve_from_enrichment", data(), {"locality": "global"})
    assert answer["result"] is True and all(c["applied"] for c in answer["changes"])
    assert misp.calls("/tags/attachTagToObject") == [
        {"uuid": CVE_UUID, "tag": "CVSS:10", "local": False},
        {"uuid": CVE_UUID, "tag": 'misp:threat-level="high-risk"', "local": False}]
    stored = stored_attribute(misp, CVE_UUID)
    assert stored["comment"] == "seen in the wild CVE Summary: Malicious code in xz."
    assert [t["name"] for t in stored["Tag"]] == ["CVSS:10", 'misp:threat-level="high-risk"']


def test_country_written_through_pymisp_and_unreachable_misp(misp_server, misp) -> None:
    roaming = data(**{IP_UUID: enrichment(("country", "Luxembourg"))})
    answer = query_node(misp_server, "tag_country_asn_from_enrichment", roaming)
    assert answer["result"] is True
    assert [t["name"] for t in stored_attribute(misp, IP_UUID)["Tag"]] == ['country:"LUXEMBOURG"']
    with ModuleServer(config={"misp": {"url": f"http://127.0.0.1:{closed_port()}", "key": API_KEY,
                                       "timeout": 2}}) as srv:
        down = query_node(srv, "tag_country_asn_from_enrichment", roaming)
        assert down["result"] is False and down["changes"] == [] and API_KEY not in down["error"]
        note = query_node(srv, "add_analyst_data", data(), {"note": "x"})
        assert note["result"] is False and "127.0.0.1" in note["error"]
