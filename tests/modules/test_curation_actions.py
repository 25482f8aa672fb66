"""The curation actions hashlookup_curation and bgpranking_curation (MISP-facing, bulk lookups)."""

from __future__ import annotations

import contextlib

import pytest

from misp_modules.contract import changes as ch
from misp_modules.modules.action_mod import bgpranking_curation as bgpc
from misp_modules.modules.action_mod import hashlookup_curation as hlc
from tests.support.fakes.hashlookup import make_record
from tests.support.intel import KNOWN, MALICIOUS, attribute, core, intel_settings, raw_event

U = lambda n: attribute(n, "x", "")["uuid"]  # noqa: E731
EVENT_UUID = raw_event([])["Event"]["uuid"]

HASHES = raw_event([
    attribute(1, "md5", KNOWN[0]["MD5"].lower(), category="Payload delivery"),
    attribute(2, "sha1", KNOWN[1]["SHA-1"], category="Payload delivery", to_ids=False),
    attribute(3, "filename|sha256", f"setup.exe|{KNOWN[2]['SHA-256']}", category="Payload delivery"),
    attribute(4, "sha1", MALICIOUS["SHA-1"], category="Payload delivery"),
    attribute(5, "md5", "f" * 32, category="Payload delivery"),
    attribute(6, "md5", "not-a-hash", category="Payload delivery"),
    attribute(7, "ip-src", "192.0.2.1"),
], objects=[{"id": "9", "name": "file", "uuid": "5f1c0000-0000-4000-8000-0000000000f9", "distribution": "5",
             "Attribute": [attribute(8, "malware-sample", f"x.bin|{KNOWN[0]['MD5']}", object_id="9",
                                     object_relation="malware-sample", category="Payload delivery")]}])


def curate(data, params=None, **extra) -> dict:
    return hlc.dict_handler({"module": "hashlookup_curation", "data": data, "params": params or [], **extra})


def ops(answer) -> list[tuple]:
    return [(c["op"], c["uuid"], c.get("field") or c.get("tag")) for c in answer["changes"]]


def test_known_good_files_lose_ids_and_get_tagged(intel):
    hl, _ = intel
    data = core(HASHES)
    answer = curate(data)
    assert answer["result"] is True and answer["errors"] == []
    tag = 'misp-workflow:analysis="known-file-hash"'
    assert ops(answer) == [
        ("set", U(1), "to_ids"), ("attach_tag", U(1), tag), ("touch", U(1), None),
        ("attach_tag", U(2), tag), ("touch", U(2), None),                       # already not IDS: tag only
        ("set", U(3), "to_ids"), ("attach_tag", U(3), tag), ("touch", U(3), None),
        ("set", U(8), "to_ids"), ("attach_tag", U(8), tag), ("touch", U(8), None),
    ]
    assert all(c["local"] for c in answer["changes"] if c["op"] == "attach_tag")
    assert answer["notes"] == [{"uuid": U(6), "value": "not-a-hash",
                                "note": "malformed md5 'not-a-hash': expected 32 hexadecimal characters"}]
    # to_ids in every copy of the returned roaming data; tags only as changes
    out = answer["data"]["Event"]
    ids = {a["uuid"]: a["to_ids"] for a in out["_AttributeFlattened"]}
    assert [ids[U(n)] for n in (1, 2, 3, 4, 5, 8)] == [False, False, False, True, True, False]
    assert out["Attribute"][0]["to_ids"] is False and out["Object"][0]["Attribute"][0]["to_ids"] is False
    assert all(a["Tag"] == [] for a in out["_AttributeFlattened"])
    assert data["Event"]["Attribute"][0]["to_ids"] is True  # the request is not modified
    # one bulk request per algorithm, one single lookup for the SHA-256
    assert sorted(r.path for r in hl.requests) == ["/bulk/md5", "/bulk/sha1", f"/lookup/sha256/{KNOWN[2]['SHA-256']}"]


def test_changes_fold_into_the_stored_event(intel):
    answer = curate(core(HASHES))
    published = {"Event": {**HASHES["Event"], "published": True}}
    stored = ch.apply_changes(published, answer["changes"], now=1800000000)
    attr = stored["Event"]["Attribute"][0]
    assert attr["to_ids"] is False and [t["name"] for t in attr["Tag"]] == ['misp-workflow:analysis="known-file-hash"']
    assert stored["Event"]["published"] is False


def test_tags_already_there_are_no_change(intel):
    raw = {"Event": {**HASHES["Event"], "Attribute": [dict(a) for a in HASHES["Event"]["Attribute"]]}}
    raw["Event"]["Attribute"][1]["Tag"] = [{"id": "3", "name": 'misp-workflow:analysis="known-file-hash"', "local": 1}]
    answer = curate(core(raw))
    assert [c for c in answer["changes"] if c["uuid"] == U(2)] == []  # not IDS and already tagged: nothing
    net = {"Event": {**NETWORK["Event"], "Attribute": [dict(a) for a in NETWORK["Event"]["Attribute"]]}}
    net["Event"]["Attribute"][0]["Tag"] = [{"id": "4", "name": 'adversary:infrastructure-state="active"', "local": 0}]
    assert U(1) not in {c["uuid"] for c in rank(core(net))["changes"]}


def test_nothing_to_curate_returns_no_data(intel):
    answer = curate(core(raw_event([attribute(1, "md5", "e" * 32), attribute(2, "ip-src", "192.0.2.1")])))
    assert answer == {"result": True, "errors": [], "changes": [], "notes": []}


def test_filtered_items_limit_the_curation(intel):
    data = core(HASHES)
    answer = curate(data, filteredItems=[data["Event"]["_AttributeFlattened"][2]])
    assert {c["uuid"] for c in answer["changes"]} == {U(3)}
    whole = curate(data, filteredItems=data)  # MISP's fallback when nothing matched: the whole data
    assert {c["uuid"] for c in whole["changes"]} == {U(1), U(2), U(3), U(8)}


@pytest.mark.parametrize("params,expected_uuids,tag,local", [
    ({"tag": "known:good", "tag_locality": "global"}, {1, 2, 3, 8}, "known:good", False),
    ({"minimum_trust": "60"}, {2}, 'misp-workflow:analysis="known-file-hash"', True),
])
def test_params(intel, params, expected_uuids, tag, local):
    hl, _ = intel
    hl.add({**make_record("known-1", filename="known-1.dll"), "hashlookup:trust": 90})
    answer = curate(core(HASHES), params)
    tags = [c for c in answer["changes"] if c["op"] == "attach_tag"]
    assert {c["uuid"] for c in tags} == {U(n) for n in expected_uuids}
    assert {(c["tag"], c["local"]) for c in tags} == {(tag, local)}


def test_default_tag_from_settings(hl_fake):
    with intel_settings(hl_fake, modules={"hashlookup_curation": {"tag": "nsrl:known", "tag_locality": "global"}}):
        answer = curate(core(HASHES))
    assert {(c["tag"], c["local"]) for c in answer["changes"] if c["op"] == "attach_tag"} == {("nsrl:known", False)}


@pytest.mark.parametrize("params,message", [
    ({"minimum_trust": "high"}, "param `minimum_trust`: expected an integer from 0 to 100, got 'high'"),
    ({"minimum_trust": "101"}, "param `minimum_trust`: expected an integer from 0 to 100, got 101"),
    ({"tag_locality": "everywhere"}, "param `tag_locality`: unsupported value 'everywhere'"),
    ({"tag": ["a"]}, "param `tag` must be a string"),
])
def test_bad_params(intel, params, message):
    answer = curate(core(HASHES), params)
    assert answer["result"] is False and message in answer["error"]


@pytest.mark.parametrize("status,words", [(503, "HTTP 503"), (429, "rate limited"), (500, "HTTP 500")])
def test_service_failure_changes_nothing(intel, status, words):
    hl, _ = intel
    hl.fault_status = status
    answer = curate(core(HASHES))
    assert answer["result"] is False and words in answer["error"]
    assert "changes" not in answer and "data" not in answer


def test_dry_run_and_no_misp_leave_changes_unapplied(intel):
    answer = curate(core(HASHES), dry_run=True)
    assert answer["changes"] and not any(c.get("applied") for c in answer["changes"])


# --- BGP Ranking curation -----------------------------------------------------------------------

NETWORK = raw_event([
    attribute(1, "AS", "AS64500"),                    # position 3
    attribute(2, "ip-dst", "203.0.113.9"),            # AS64501, position 49
    attribute(3, "ip-src|port", "192.0.2.7|443"),     # AS64500
    attribute(4, "domain|ip", "bad.example|192.0.2.8"),
    attribute(5, "AS", "64502"),                      # position 50
    attribute(6, "AS", "AS64503"),                    # not ranked
    attribute(7, "ip-dst", "10.1.2.3"),               # no history
    attribute(8, "AS", "AS65000"),                    # unknown
    attribute(9, "AS", "ASX"),                        # malformed
    attribute(10, "ip-src", "2001:db8::1"),           # AS64504 (v6), position 900
    attribute(11, "ip-dst", "192.0.2.200"),           # AS64500 again: no new IP ASN History query per AS
    attribute(12, "md5", "0" * 32),
])


def rank(data, params=None, **extra) -> dict:
    return bgpc.dict_handler({"module": "bgpranking_curation", "data": data, "params": params or [], **extra})


def test_low_ranked_networks_get_tagged(intel):
    _, bgp = intel
    answer = rank(core(NETWORK))
    assert answer["result"] is True
    tagged = [c["uuid"] for c in answer["changes"] if c["op"] == "attach_tag"]
    assert tagged == [U(n) for n in (1, 2, 3, 4, 11)]
    assert {c["tag"] for c in answer["changes"] if c["op"] == "attach_tag"} == {'adversary:infrastructure-state="active"'}
    assert "data" not in answer  # tags never edit the roaming data
    notes = {n["uuid"]: n["note"] for n in answer["notes"]}
    assert set(notes) == {U(7), U(8), U(9)}
    assert "no routing history for 10.1.2.3" in notes[U(7)] and "AS65000" in notes[U(8)]
    # distinct values are looked up once each
    assert sorted(b["ip"] for b in bgp.bodies("/ip")) == sorted(
        ["203.0.113.9", "192.0.2.7", "192.0.2.8", "10.1.2.3", "2001:db8::1", "192.0.2.200"])
    asked = sorted((b["asn"], b["address_family"]) for b in bgp.bodies("/json/asn"))
    assert asked == [("64500", "v4"), ("64501", "v4"), ("64502", "v4"), ("64503", "v4"), ("64504", "v6"),
                     ("65000", "v4")]


def test_threshold_and_tag_params(intel):
    answer = rank(core(NETWORK), {"threshold": "1000", "tag": "bgp:bad", "tag_locality": "global"})
    tagged = {c["uuid"] for c in answer["changes"] if c["op"] == "attach_tag"}
    assert tagged == {U(n) for n in (1, 2, 3, 4, 5, 10, 11)}
    assert {(c["tag"], c["local"]) for c in answer["changes"] if c["op"] == "attach_tag"} == {("bgp:bad", False)}
    assert rank(core(NETWORK), {"threshold": "4"})["changes"][0]["uuid"] == U(1)


@pytest.mark.parametrize("threshold", ["0", "-3", "fifty"])
def test_bad_threshold(intel, threshold):
    answer = rank(core(NETWORK), {"threshold": threshold})
    assert answer["result"] is False and "param `threshold`" in answer["error"]


def test_bgp_service_failure_tags_nothing(intel):
    _, bgp = intel
    bgp.fault_status = 503
    bgp.fault_prefix = "/json/asn"
    answer = rank(core(NETWORK))
    assert answer["result"] is False and answer["error"].startswith("BGP Ranking: service error (HTTP 503)")
    assert "changes" not in answer


def test_curation_through_the_server(intel_server, hl_fake, bgp_fake):
    status, answer = intel_server.query({"module": "bgpranking_curation", "data": core(NETWORK), "params": [],
                                         "filteredItems": [core(NETWORK)["Event"]["_AttributeFlattened"][1]]})
    assert status == 200 and [c["uuid"] for c in answer["changes"] if c["op"] == "attach_tag"] == [U(2)]
    status, answer = intel_server.query({"module": "hashlookup_curation", "data": core(HASHES), "params": []})
    assert status == 200 and answer["result"] is True and len(answer["changes"]) == 11


@contextlib.contextmanager
def misp_settings(hl, bgp, url: str):
    from misp_modules.settings import MispConnection, Settings, get_settings, set_settings

    with intel_settings(hl, bgp):
        current = get_settings()
        set_settings(Settings(services=current.services, modules=current.modules,
                              misp=MispConnection(url=url, key="S3cr3tApiKey0000", timeout=2)))
        yield


def test_unreachable_misp_is_a_clear_error_without_the_key(hl_fake, bgp_fake):
    with misp_settings(hl_fake, bgp_fake, "http://127.0.0.1:9"):
        answer = curate(core(HASHES))
        assert answer["result"] is False and answer["changes"] == []
        assert "http://127.0.0.1:9" in answer["error"] and "S3cr3tApiKey0000" not in answer["error"]
        tagged = rank(core(NETWORK))
        assert tagged["result"] is False and "http://127.0.0.1:9" in tagged["error"]
        # a dry run never contacts MISP
        dry = curate(core(HASHES), dry_run=True)
        assert dry["result"] is True and len(dry["changes"]) == 11


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_dry_run_param_never_contacts_misp(hl_fake, bgp_fake, value):
    """Upstream 3.1's convention: MISP sends the node's ``dry_run`` param (it has no top-level flag)."""
    with misp_settings(hl_fake, bgp_fake, "http://127.0.0.1:9"):
        dry = curate(core(HASHES), {"dry_run": value})
        assert dry["result"] is True and dry["dry_run"] is True and len(dry["changes"]) == 11
        assert not any(c.get("applied") for c in dry["changes"])
        ranked = rank(core(NETWORK), {"dry_run": value})
        assert ranked["result"] is True and ranked["dry_run"] is True
        # "false" is no dry run: the unreachable MISP is tried, and named
        live = curate(core(HASHES), {"dry_run": "false"})
        assert live["result"] is False and "http://127.0.0.1:9" in live["error"] and "dry_run" not in live


@pytest.mark.parametrize("module", [hlc, bgpc])
def test_bad_dry_run_param_is_refused_before_any_lookup(intel, module):
    hl, bgp = intel
    asked = len(hl.requests), len(bgp.requests)
    answer = module.dict_handler({"module": module.MODULE, "data": core(HASHES), "params": {"dry_run": "maybe"}})
    assert answer["result"] is False
    assert "param `dry_run`: expected true, false, 1 or 0, got 'maybe'" in answer["error"]
    assert (len(hl.requests), len(bgp.requests)) == asked


def test_dry_run_param_is_declared_for_misp():
    for module in (hlc, bgpc):
        declared = module.node.introspection()["config"]["params"]["dry_run"]
        assert declared["type"] == "string" and declared["value"] == "false"
