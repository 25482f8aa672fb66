"""The seed's two exercises as workflows run by ``misp-workflow`` against the module server, the
server reaching the hashlookup / BGP Ranking fakes through the real client libraries."""

from __future__ import annotations

import json

from tests.support.cli import run_json
from tests.support.data import BLUEPRINTS
from tests.support.intel import KNOWN, attribute, raw_event

NO_FILTER = {"selector": "", "value": "", "operator": "", "path": ""}


def node(nid: int, module_id: str, params: dict, targets: list[int]) -> dict:
    return {"id": nid, "name": module_id, "data": {"id": module_id, "module_type": "action", "indexed_params": params,
                                                 "saved_filters": NO_FILTER},
            "inputs": {"input_1": {"connections": []}},
            "outputs": {"output_1": {"connections": [{"node": str(t), "output": "input_1"} for t in targets]}}}


def run(server, tmp_path, nodes: list[dict], event: dict) -> dict:
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps({"WorkflowBlueprint": {"name": "intel", "description": "", "data": nodes}}))
    return run_json(workflow, event, tmp_path, server.url, "--enabled-modules", "all")


EVENT = raw_event([
    attribute(1, "md5", KNOWN[0]["MD5"].lower(), category="Payload delivery"),
    attribute(2, "sha1", "e" * 40, category="Payload delivery"),
    attribute(3, "AS", "AS64500"),
    attribute(4, "ip-dst", "203.0.113.4"),   # AS64501, position 49
    attribute(5, "ip-dst", "198.51.100.4"),  # AS64502, position 50
])


def by_uuid(event: dict) -> dict:
    return {a["uuid"]: a for a in event["Event"]["Attribute"]}


def test_seed_exercises_as_one_workflow(intel_server, hl_fake, bgp_fake, tmp_path):
    result = run(intel_server, tmp_path, [
        node(2, "hashlookup_curation", {"tag_locality": "global"}, [3]),
        node(3, "bgpranking_curation", {}, []),
    ], EVENT)
    assert result["outcome"] == "success"
    stored = by_uuid(result["event"])
    known = stored[attribute(1, "x", "")["uuid"]]
    assert known["to_ids"] is False
    assert [(t["name"], t["local"]) for t in known["Tag"]] == [('misp-workflow:analysis="known-file-hash"', 0)]
    assert stored[attribute(2, "x", "")["uuid"]]["to_ids"] is True
    low = {u for u, a in stored.items() if any(t["name"] == 'adversary:infrastructure-state="active"' for t in a["Tag"])}
    assert low == {attribute(n, "x", "")["uuid"] for n in (3, 4)}
    assert result["event"]["Event"]["published"] is False
    assert {c["node"] for c in result["changes"]} == {"2", "3"}
    assert [r.path for r in hl_fake.requests] == ["/bulk/md5", "/bulk/sha1"]


def test_service_failure_fails_the_node_and_changes_nothing(intel_server, hl_fake, bgp_fake, tmp_path):
    hl_fake.fault_status = 503
    result = run(intel_server, tmp_path, [node(2, "hashlookup_curation", {}, [])], EVENT)
    assert result["changes"] == []
    assert "hashlookup: service error (HTTP 503)" in json.dumps(result["errors"])


# --- MISP's official blueprints, whole ------------------------------------------------------------



def run_blueprint(server, tmp_path, name: str, event: dict) -> dict:
    return run_json(BLUEPRINTS / name, event, tmp_path, server.url, "--enabled-modules", "all")


def test_bgp_ranking_blueprint_tags_exactly_the_low_ranked(intel_server, hl_fake, bgp_fake, tmp_path):
    from tests.support.intel import BGP_EVENT

    result = run_blueprint(intel_server, tmp_path, "blueprint_set-tag-based-on-bgp-ranking-maliciousness-level_1668498668.json",
                           BGP_EVENT)
    assert result["outcome"] == "success" and result["errors"] == []
    tagged = {c["uuid"] for c in result["changes"] if c["op"] == "attach_tag"}
    assert tagged == {attribute(n, "x", "")["uuid"] for n in (1, 2, 6, 7, 11)}
    assert {c["tag"] for c in result["changes"] if c["op"] == "attach_tag"} == {'adversary:infrastructure-state="active"'}


def test_hashlookup_blueprint_removes_ids_from_known_hashes(intel_server, hl_fake, bgp_fake, tmp_path):
    from tests.support.intel import HASH_EVENT

    result = run_blueprint(intel_server, tmp_path, "blueprint_disable-to_ids-flag-for-existing-hash-in-hashlookup_1667228944.json",
                           HASH_EVENT)
    assert result["outcome"] == "success" and result["errors"] == []
    known = {attribute(n, "x", "")["uuid"] for n in (1, 2, 3, 5)}
    assert {c["uuid"] for c in result["changes"] if c["op"] == "set"} == known
    assert {c["uuid"] for c in result["changes"] if c["op"] == "attach_tag"} == known
    stored = by_uuid(result["event"])
    assert {u for u, a in stored.items() if a["to_ids"] is False} == known


def test_warninglist_curation_blueprint(intel_server, tmp_path):
    event = raw_event([attribute(1, "ip-dst", "8.8.8.8"), attribute(2, "domain", "www.google.com"),
                       attribute(3, "ip-dst", "77.66.55.44")], tags=['misp-workflow:mutability="allowed"'])
    result = run_blueprint(intel_server, tmp_path, "blueprint_curation---remove-automation-flag-from-false-positive-"
                           "tripping-over-warninglist.json", event)
    assert result["outcome"] == "success"
    flagged = {attribute(n, "x", "")["uuid"] for n in (1, 2)}
    assert {c["uuid"] for c in result["changes"] if c["op"] == "set" and c["value"] is False} == flagged
    tags = {(c["uuid"], c["tag"]) for c in result["changes"] if c["op"] == "attach_tag"}
    assert {t for _, t in tags} == {'false-positive:risk="high"', 'misp-workflow:action-taken="ids-flag-removed"',
                                    'misp-workflow:analysis="false-positive"'}
    assert {u for u, _ in tags} == flagged
