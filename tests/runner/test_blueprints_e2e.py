"""Every MISP blueprint, end to end: the real ``misp-workflow`` CLI, the real module server, the
hashlookup and BGP Ranking fakes, events from tests/data/events (copies, with the tags or
fields a branch needs, as the walk conformance cases do).

Expectations are worked out from MISP's rules (misp-behaviour.md §5-§10) for each event, not
copied from the runner's output: which actions run, which output every logic node takes, the
outcome, the changes to MISP's stored event (§6.4: tags only there; ``to_ids`` edits in both
views) and what the roaming data ends as.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from runner.paths import expand
from tests.support.cli import run_json
from tests.support.data import BLUEPRINTS, EVENTS
from tests.support.fakes.bgpranking import BGPRankingFake, Ranking
from tests.support.fakes.hashlookup import HashlookupFake, make_record
from tests.support.harness import ModuleServer

RANSOM = "57c4445b-c548-4654-af0b-4be3950d210f.json"   # 9 attributes, tlp:white event
MD5 = "0749bae92ca336a02c83d126e04ec628"                  # its md5 attribute (index 5)
MD5_UUID = "57c4448b-454c-4d17-90d1-4d2f950d210f"
EVENT_UUID = "57c4445b-c548-4654-af0b-4be3950d210f"
OSINT = "to_delete1.json"                                 # 75 attributes, two ip-dst
IP_UUID = "5a0a9e4c-bcf8-42ac-86dc-48b0950d210f"          # 98.126.156.210 (index 14)
IP2_INDEX = 32                                            # 104.148.70.217
MUTABLE = 'misp-workflow:mutability="allowed"'


def blueprint(name: str) -> Path:
    (path,) = BLUEPRINTS.glob(name + "*.json")
    return path


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def tag(name: str) -> dict:
    return {"id": "900", "name": name, "colour": "#000000", "exportable": True, "local": 0}


@pytest.fixture(scope="module")
def server():
    known = make_record("known", filename="known.exe")
    known["MD5"] = MD5.upper()
    with HashlookupFake([known]) as hl, \
            BGPRankingFake({"64500": Ranking("EVIL-HOSTING, RU", 0.0081, 3)}, {"98.126.0.0/16": "64500"}) as bgp:
        config = {"services": {"hashlookup": hl.url + "/", "bgpranking": bgp.url + "/", "ipasnhistory": bgp.url + "/"},
                  "modules": {"hashlookup": {"cache_ttl": 0}, "bgpranking": {"cache_ttl": 0}}}
        with ModuleServer(config=config) as srv:
            yield srv


@pytest.fixture
def run(server, tmp_path):
    def run(bp: str, data: dict, *args: str, code: int = 0) -> dict:
        return run_json(blueprint(bp), data, tmp_path, server.url, *args, codes=(code,))
    return run


def decisions(doc: dict) -> list[tuple[str, str | None]]:
    return [(n["node"], n["output"]) for n in doc["nodes"] if n["kind"] == "logic"]


def changes(doc: dict) -> list[tuple]:
    out = []
    for c in doc["changes"]:
        what = c.get("tag") if "tag" in c else (c.get("field"), c.get("value")) if c["op"] == "set" else None
        out.append((c["node"], c["op"], c.get("scope"), c.get("uuid"), what) +
                   ((c["local"],) if c["op"] == "attach_tag" else ()))
    return out


def attribute(doc_event: dict, uuid: str) -> dict:
    return next(a for a in doc_event["Event"]["Attribute"] if a["uuid"] == uuid)


def tag_names(item: dict) -> list[str]:
    return [t["name"] for t in item.get("Tag", [])]


def touch(node: str, scope: str, uuid: str) -> tuple:
    return (node, "touch", scope, uuid, None)


# -- Attach tlp:clear on tlp:white --------------------------------------------------------------

def test_tlp_clear_on_tlp_white(run):
    data = event(RANSOM)
    data["Event"]["Attribute"][5]["Tag"] = [tag("tlp:white")]
    doc = run("blueprint_attach-tlp_clear", data)
    # 56: event scope, filter keeps {Event} (the event has tlp:white): tag the event, locally.
    # 55: attribute scope, filter keeps the attributes with tlp:white: the md5 one.
    assert doc["outcome"] == "success" and doc["executed"] == ["56", "55"] and doc["failed"] == []
    assert changes(doc) == [("56", "attach_tag", "event", EVENT_UUID, "tlp:clear", True),
                            touch("56", "event", EVENT_UUID),
                            ("55", "attach_tag", "attribute", MD5_UUID, "tlp:clear", True),
                            touch("55", "attribute", MD5_UUID)]
    assert "tlp:clear" in tag_names(doc["event"]["Event"]) and doc["event"]["Event"]["published"] is False
    assert tag_names(attribute(doc["event"], MD5_UUID)) == ["tlp:white", "tlp:clear"]
    assert "tlp:clear" not in tag_names(doc["data"]["Event"])  # tag modules do not change the roaming data


def test_tlp_clear_without_tlp_white_attributes(run):
    data = event(RANSOM)
    data["Event"]["Tag"] = [t for t in data["Event"]["Tag"] if t["name"] != "tlp:white"]
    doc = run("blueprint_attach-tlp_clear", data)
    # nothing matches either filter: event scope acts on nothing; attribute scope with no item is false
    assert doc["outcome"] == "success" and doc["executed"] == ["56", "55"] and "55" in doc["failed"]
    assert doc["changes"] == []


# -- Curation - Allow curation process ------------------------------------------------------------

@pytest.mark.parametrize("allowed", [False, True])
def test_allow_curation(run, allowed):
    data = event("HTML_event.json")
    if allowed:
        data["Event"]["Tag"].append(tag('misp-workflow:run="allowed"'))
    doc = run("blueprint_curation---allow-curation-process", data)
    assert doc["outcome"] == "success" and doc["executed"] == [] and doc["changes"] == []
    assert decisions(doc) == [("78", "output_1" if allowed else "output_2")]


# -- Curation - Assign a country / threat-level (mmdb_lookup is not on this server) ----------------

def test_assign_country_without_mmdb_lookup(run):
    doc = run("blueprint_curation---assign-a-country", event(OSINT))
    # 20 keeps the IPs; 16 cannot enrich (no mmdb_lookup): fails on a blocking path, the walk goes on;
    # 17 keeps nothing (no geolocation object); 21: no mutability tag → 22 (local) with no attribute → false;
    # 19 resets: back to the snapshot taken by the first filter, enabledFilters emptied.
    assert doc["outcome"] == "success" and doc["executed"] == ["16", "22"] and doc["failed"] == ["16", "22"]
    assert decisions(doc) == [("20", "output_1"), ("17", "output_1"), ("21", "output_2"), ("19", "output_1")]
    assert len(doc["errors"]) == 1 and "mmdb_lookup" in doc["errors"][0]
    assert doc["changes"] == []
    start = run_start(doc)
    assert doc["data"] == {**start, "enabledFilters": []}


def test_threat_level_by_location_with_mutability(run):
    data = event(OSINT)
    data["Event"]["Tag"].append(tag(MUTABLE))
    doc = run("blueprint_curation---assign-threat-level", data)
    assert doc["outcome"] == "success" and doc["executed"] == ["9", "10"] and doc["failed"] == ["9", "10"]
    assert decisions(doc) == [("12", "output_1"), ("11", "output_1"), ("14", "output_1"), ("13", "output_1")]
    assert doc["changes"] == []


def run_start(doc: dict) -> dict:
    """The roaming data the trigger built (the filter bookkeeping of the final data gone)."""
    data = copy.deepcopy(doc["data"])
    data.pop("enabledFilters", None)
    return data


# -- Curation - Normalize TLP & PAP tags -----------------------------------------------------------

def test_normalize_tlp_pap(run):
    data = event(RANSOM)
    data["Event"]["Tag"].append(tag("PAP--green"))
    data["Event"]["Attribute"][5]["Tag"] = [tag("TLP:AMBER")]
    doc = run("blueprint_curation---normalize-tlp", data)
    # no mutability tag → 49 (tlp, local, keep) → 48 (pap, local, keep). tlp:white is already normal.
    assert doc["outcome"] == "success" and doc["executed"] == ["49", "48"]
    assert decisions(doc) == [("47", "output_2")]
    assert changes(doc) == [("49", "attach_tag", "attribute", MD5_UUID, "tlp:amber", True),
                            touch("49", "attribute", MD5_UUID),
                            ("48", "attach_tag", "event", EVENT_UUID, "PAP:GREEN", True),
                            touch("48", "event", EVENT_UUID)]
    assert tag_names(attribute(doc["event"], MD5_UUID)) == ["TLP:AMBER", "tlp:amber"]  # nothing removed


# -- Curation - feed correlation / warninglist -----------------------------------------------------

def test_feed_correlation_without_mutability(run):
    data = event(OSINT)
    data["Event"]["Attribute"][14]["Feed"] = [{"id": "1", "name": "Tor exit nodes"}]
    doc = run("blueprint_curation---remove-automation-flag-from-data-having-correlation", data)
    assert doc["outcome"] == "success" and doc["executed"] == ["44"]
    assert decisions(doc) == [("39", "output_1"), ("43", "output_2"), ("42", "output_1")]
    assert changes(doc) == [("44", "attach_tag", "attribute", IP_UUID, 'false-positive:risk="medium"', True),
                            ("44", "attach_tag", "attribute", IP_UUID, 'misp-workflow:analysis="false-positive"', True),
                            touch("44", "attribute", IP_UUID)]


def test_feed_correlation_with_mutability_removes_ids_and_reset_loses_the_data_change(run):
    data = event(OSINT)
    data["Event"]["Attribute"][14]["Feed"] = [{"id": "1", "name": "Tor exit nodes"}]
    data["Event"]["Attribute"][14]["Tag"] = [tag(MUTABLE)]
    doc = run("blueprint_curation---remove-automation-flag-from-data-having-correlation", data)
    assert doc["outcome"] == "success" and doc["executed"] == ["40", "41"] and doc["failed"] == []
    assert decisions(doc) == [("39", "output_1"), ("43", "output_1"), ("42", "output_1")]
    got = changes(doc)
    assert got[0] == ("40", "set", "attribute", IP_UUID, ("to_ids", False))
    assert [c[4] for c in got if c[1] == "attach_tag"] == [
        'false-positive:risk="medium"', 'misp-workflow:action-taken="ids-flag-removed"',
        'misp-workflow:analysis="false-positive"']
    assert attribute(doc["event"], IP_UUID)["to_ids"] is False
    # the reset restores the snapshot of the first filter: the to_ids edit in the roaming data is lost (§7.7)
    assert next(a for a in doc["data"]["Event"]["Attribute"] if a["uuid"] == IP_UUID)["to_ids"] is True


def test_warninglist_false_positive(run):
    data = event(OSINT)
    data["Event"]["Attribute"][14]["value"] = "8.8.8.8"             # on the public DNS warninglists
    data["Event"]["Attribute"][IP2_INDEX]["to_ids"] = False           # only to_ids attributes are checked
    doc = run("blueprint_curation---remove-automation-flag-from-false-positive", data)
    assert doc["outcome"] == "success" and doc["executed"] == ["32", "38"]
    assert decisions(doc) == [("33", "output_1"), ("37", "output_2"), ("36", "output_1")]
    assert changes(doc) == [("38", "attach_tag", "attribute", IP_UUID, 'false-positive:risk="high"', True),
                            ("38", "attach_tag", "attribute", IP_UUID, 'misp-workflow:analysis="false-positive"', True),
                            touch("38", "attribute", IP_UUID)]


# -- Curation - known non-malicious hashes (hashlookup) --------------------------------------------

def test_known_hashes(run, server):
    doc = run("blueprint_curation---remove-automation-flag-from-known-non-malicious-hashes", event(RANSOM))
    # 28 keeps md5/sha1/sha256; 23 enriches them through hashlookup (only the md5 is known, with a
    # FileName); 26 keeps the md5; no mutability tag → 31 tags it locally → 29 resets.
    assert doc["outcome"] == "success" and doc["executed"] == ["23", "31"] and doc["failed"] == []
    assert decisions(doc) == [("28", "output_1"), ("26", "output_1"), ("30", "output_2"), ("29", "output_1")]
    assert changes(doc) == [("31", "attach_tag", "attribute", MD5_UUID, 'misp-workflow:analysis="known-file-hash"', True),
                            touch("31", "attribute", MD5_UUID)]
    assert "enrichment" not in json.dumps(doc["data"])  # the reset dropped what was attached after the first filter


# -- Curation - AbuseIPDB / Google Safe Browsing (modules not on this server) ----------------------

def test_abuseipdb_without_the_module(run):
    doc = run("blueprint_curation---toggle-automation-flag-from-network-ioc", event(OSINT))
    # 51 fails (no abuseipdb); 54 keeps nothing; 58: no is-malicious value → else → 61: the event is
    # not mutable (not_in_or true) → 55, 56, 57 act on no attribute (false) → 59 reset.
    assert doc["outcome"] == "success" and doc["executed"] == ["51", "55", "56", "57"]
    assert doc["failed"] == ["51", "55", "56", "57"]
    assert decisions(doc) == [("60", "output_1"), ("54", "output_1"), ("58", "output_2"), ("61", "output_1"),
                              ("59", "output_1")]
    assert doc["changes"] == []


def test_google_safe_browsing_without_the_module(run):
    doc = run("blueprint_curation---toggle-automation-flag-from-urls", event("HTML_event.json"))
    assert doc["outcome"] == "success" and doc["executed"] == ["64", "68", "69", "70"]
    assert decisions(doc) == [("73", "output_1"), ("67", "output_1"), ("71", "output_2"), ("75", "output_1"),
                              ("72", "output_1")]
    assert doc["changes"] == []


# -- Disable to_ids flag for existing hash in hashlookup --------------------------------------------

def test_hashlookup_disables_to_ids(run, server):
    doc = run("blueprint_disable-to_ids-flag", event(RANSOM))
    assert doc["outcome"] == "success" and doc["executed"] == ["10", "13", "16"] and doc["failed"] == []
    assert changes(doc) == [("13", "set", "attribute", MD5_UUID, ("to_ids", False)), touch("13", "attribute", MD5_UUID),
                            ("16", "attach_tag", "attribute", MD5_UUID, "ids-removed", True),
                            touch("16", "attribute", MD5_UUID)]
    stored = attribute(doc["event"], MD5_UUID)
    assert stored["to_ids"] is False and tag_names(stored) == ["ids-removed"]
    # the flag edit is in the roaming data too (both copies), the tag is not (§6.4)
    roaming = [a for a in doc["data"]["Event"]["Attribute"] + doc["data"]["Event"]["_AttributeFlattened"]
               if a["uuid"] == MD5_UUID]
    assert [a["to_ids"] for a in roaming] == [False, False] and all("ids-removed" not in tag_names(a) for a in roaming)
    others = [a for a in doc["data"]["Event"]["Attribute"] if a["uuid"] != MD5_UUID and a["to_ids"]]
    assert len(others) == 4  # filename, sha1, sha256 (unknown to hashlookup) and regkey|value keep it


# -- PAP:RED and tlp:red Blocking ------------------------------------------------------------------

def test_pap_tlp_red_blocks_publishing(run):
    data = event(RANSOM)
    data["Event"]["Attribute"][5]["Tag"] = [tag("PAP:RED")]
    doc = run("blueprint_pap_red", data, code=1)
    assert doc["outcome"] == "blocked" and doc["executed"] == ["54"]
    assert doc["message"] == ("Node `stop-execution` (54) from Workflow `Workflow for trigger event-publish` (1) "
                              "returned the following error: Execution stopped")
    clean = run("blueprint_pap_red", event(RANSOM))
    assert clean["outcome"] == "success" and decisions(clean) == [("53", "output_2")]


def test_pap_tlp_red_on_the_event_counts_through_inherited_tags(run):
    data = event(RANSOM)
    data["Event"]["Tag"].append(tag("tlp:red"))  # event_attribute scope: attributes inherit event tags
    assert run("blueprint_pap_red", data, code=1)["outcome"] == "blocked"


def test_pap_tlp_red_non_blocking_trigger(run):
    data = event(RANSOM)
    data["Event"]["Attribute"][5]["Tag"] = [tag("tlp:red")]
    doc = run("blueprint_pap_red", data, "--trigger", "event-after-save-new", code=1)
    assert doc["trigger"] == {"id": "event-after-save-new", "blocking": False, "for_path": "non-blocking"}
    assert doc["outcome"] == "blocked" and "caller_log" not in doc  # MISP's caller logs blocking triggers only


# -- Set tag based on BGP Ranking maliciousness level ---------------------------------------------

def test_bgp_ranking_in_a_concurrent_branch(run):
    doc = run("blueprint_set-tag-based-on-bgp-ranking", event(OSINT))
    # the main walk only queues the branch (blocking path: nothing runs after the concurrent task)
    assert doc["outcome"] == "success" and doc["executed"] == []
    assert [(n["node"], n["target"], n["enqueued"]) for n in doc["nodes"]] == [("30", "29", [{"job": 1, "start_node": "29"}])]
    (branch,) = doc["branches"]
    assert (branch["from_node"], branch["start_node"], branch["outcome"]) == ("30", "29", "success")
    assert branch["executed"] == ["29", "28"] and branch["failed"] == []
    # 98.126.156.210 is in AS64500, position 3 (< 50): tagged; 104.148.70.217 has no routing history
    assert changes(doc) == [("28", "attach_tag", "attribute", IP_UUID, 'adversary:infrastructure-state="active"', True),
                            touch("28", "attribute", IP_UUID)]
    enriched = next(a for a in branch["data"]["Event"]["_AttributeFlattened"] if a["uuid"] == IP_UUID)
    assert enriched["enrichment"][0]["Object"][1]["name"] == "bgp-ranking"
    assert "enrichment" not in json.dumps(doc["data"])  # the branch had its own copy of the data


def test_bgp_ranking_with_misps_default_enabled_modules(run):
    doc = run("blueprint_set-tag-based-on-bgp-ranking", event(OSINT), "--enabled-modules", "misp-default")
    (branch,) = doc["branches"]
    # attach-enrichment and tag_operation are not in MISP's default set: disabled, non-blocking
    assert branch["executed"] == ["29"] and branch["nodes"][0]["status"] == "disabled_module"
    assert [expand(branch["paths"], i) for i in branch["blocked_paths"]] == [["29:output_1:0:28"]]
    assert doc["changes"] == []
