"""MISP's ``blocklist-action-module`` ("Update blocklist", 0.8) through the real server, with a
temporary ``[modules.blocklist_action_module] export_dir``: the three formats written and read
back, additions / already present / removal by tag / warninglist skips, PHP's sort, the
``.previous``/``.tmp``/permission handling, snapshots and their retention, the failures MISP
reports, ``Event._blocklistDelta``, the tag change records and their write-back through PyMISP,
and the toasts (docs/misp-behaviour.md §16.12)."""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from misp_modules.modules.action_mod import blocklist_action_module
from misp_modules.semantics.convert import to_core_format
from misp_modules.settings import Settings, get_settings, set_settings
from tests.support import graphs as G
from tests.support.cli import run_json
from tests.support.fakes.misp import API_KEY, MispFake
from tests.support.harness import ModuleServer
from tests.support.nodes import query_node

MODULE = "blocklist_action_module"  # the server names a module by its file; MISP by its id
EVENT_UUID = "b10c4115-0000-4000-8000-000000000001"
NOW = 1700000000  # 2023-11-14 22:13:20 UTC
INITIATOR = {"User": {"id": "7", "email": "analyst@example.org"}}
REMOVE = "blocklist:remove"
IN_LIST = "blocklist:in"
REMOVED = "blocklist:removed"


def uuid(n: int) -> str:
    return f"b10c4115-0000-4000-8000-0000000001{n:02d}"


def attr(n: int, type_: str, value: str, to_ids: bool = True, tags: list[str] | None = None) -> dict:
    return {"id": str(n), "event_id": "42", "uuid": uuid(n), "type": type_, "category": "Network activity",
            "value": value, "to_ids": to_ids, "comment": "", "distribution": "5", "timestamp": "1700000000",
            "Tag": [{"name": t, "local": 0} for t in tags or []]}


def raw_event() -> dict:
    return {"Event": {
        "id": "42", "uuid": EVENT_UUID, "info": "Campaign X", "published": False, "timestamp": "1700000000",
        "Tag": [],
        "Attribute": [
            attr(1, "ip-dst", "10"),
            attr(2, "ip-dst", "9"),
            attr(3, "domain", "https://evil.example"),
            attr(4, "domain", "  bad.example "),
            attr(5, "domain", "warn.example"),
            attr(6, "domain", "gone.example", tags=[REMOVE, IN_LIST]),
            attr(7, "domain", "noids.example", to_ids=False),
            attr(8, "url", "http://url.example/x"),
        ]}}


def data(**overrides: dict) -> dict:
    """The event in core format; attribute 5 has a warninglist hit (as attach-warninglist leaves it)."""
    core = to_core_format(raw_event())
    for attribute in core["Event"]["_AttributeFlattened"]:
        if attribute["id"] == "5":
            attribute["warnings"] = [{"warninglist_id": "1", "warninglist_name": "Top domains"}]
        attribute.update(overrides.get(attribute["id"], {}))
    return core


PARAMS = {"attributeTypesToInclude": ["ip-dst", "domain"], "removalTag": ["BlockList:Remove"]}


def params(name: str, **more: object) -> dict:
    return {**PARAMS, "blocklist": name, **more}


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export") / "misp-export"  # not there yet: the module creates it


@pytest.fixture(scope="module")
def server(export_dir) -> Iterator[ModuleServer]:
    with ModuleServer(config={"modules": {"blocklist_action_module": {"export_dir": str(export_dir)}}}) as srv:
        yield srv


def run(server: ModuleServer, name: str, roaming: dict | None = None, *, initiator: dict | None = INITIATOR,
        dry_run: bool = False, **more: object) -> dict:
    extra: dict = {"initiator_user": initiator} if initiator is not None else {}
    if dry_run:
        extra["dry_run"] = True
    return query_node(server, MODULE, data() if roaming is None else roaming, params(name, **more), now=NOW, **extra)


def ids(items: list[dict]) -> list[str]:
    return [a["id"] for a in items]


# --- formats, buckets, sort ---------------------------------------------------------------------

def test_regex_additions_removal_skip_and_sort(server, export_dir) -> None:
    answer = run(server, "first.txt")  # the first query also creates the export directory
    assert export_dir.is_dir()
    path = export_dir.resolve() / "first.txt"
    (path).write_text("type=regex\n*gone.example*\n\n  *kept.example*  \n")
    answer = run(server, "first.txt")
    assert answer["result"] is True and answer["errors"] == []
    # PHP 8 sort(): numeric strings numerically (9 before 10), then byte order
    assert path.read_text() == "type=regex\n*9*\n*10*\n*bad.example*\n*evil.example*\n*kept.example*\n"
    delta = answer["data"]["Event"]["_blocklistDelta"]
    assert [a["value"] for a in delta["added"]] == ["10", "9", "evil.example", "bad.example"]
    assert [a["value"] for a in delta["removed"]] == ["gone.example"]
    assert [a["value"] for a in delta["skipped_warninglist"]] == ["warn.example"]
    assert delta["already_present"] == [] and delta["snapshot"] is None and delta["written"] is True
    assert (delta["blocklist"], delta["export_format"]) == (str(path), "regex")
    assert delta["added"][2] == {"id": "3", "uuid": uuid(3), "value": "evil.example", "event_id": "42",
                                 "Tag": [], "_allTags": [], "warnings": False}
    assert delta["skipped_warninglist"][0]["warnings"] is True
    # narrowed to added + already present
    assert ids(answer["data"]["Event"]["Attribute"]) == ["1", "2", "3", "4"]
    assert ids(answer["data"]["Event"]["_AttributeFlattened"]) == ["1", "2", "3", "4"]
    assert answer["toasts"] == [{"variant": "success", "header": "Update blocklist", "body":
                                 f'Blocklist "{path}" updated from event "Campaign X": 4 indicator(s) added, '
                                 "0 already present, 1 removed, 1 skipped (warninglist)."}]
    # removal tag matched case-insensitively; no detach/attach params -> no change records
    assert answer["changes"] == []


@pytest.mark.parametrize(("fmt", "existing", "written"), [
    ("regex", "type=regex\n*kept.example*\n", "type=regex\n*9*\n*10*\n*bad.example*\n*evil.example*\n*kept.example*\n"),
    ("paloalto", "**kept.example\n", "*9\n*10\n*bad.example\n*evil.example\n*kept.example\n"),
    ("firewall", "kept.example\n", "9\n10\nbad.example\nevil.example\nkept.example\n"),
])
def test_each_format_written_and_read_back(server, export_dir, fmt, existing, written) -> None:
    run(server, "probe.txt")  # the directory exists
    path = export_dir.resolve() / f"format-{fmt}.txt"
    path.write_text(existing)
    first = run(server, path.name, exportFormat=fmt)
    assert first["result"] is True and path.read_text() == written
    assert first["data"]["Event"]["_blocklistDelta"]["export_format"] == fmt
    again = run(server, path.name, exportFormat=fmt)  # every entry parsed back: nothing to add
    delta = again["data"]["Event"]["_blocklistDelta"]
    assert again["result"] is True and delta["added"] == [] and delta["written"] is False
    assert [a["value"] for a in delta["already_present"]] == ["10", "9", "evil.example", "bad.example"]
    assert again["toasts"][0]["variant"] == "info"
    assert again["toasts"][0]["body"] == (f'No changes applied to blocklist "{path}" from event "Campaign X" '
                                          "(4 indicator(s) already present, 1 skipped (warninglist)).")
    assert path.read_text() == written


def test_paloalto_truncates_to_255_bytes(server, export_dir) -> None:
    run(server, "probe.txt")
    long = "a" * 300 + ".example"
    roaming = data(**{"3": {"value": long}})
    answer = run(server, "palo-long.txt", roaming, exportFormat="paloalto", attributeTypesToInclude=["domain"])
    lines = (export_dir.resolve() / "palo-long.txt").read_text().splitlines()
    assert answer["result"] is True and ("*" + long)[:255] in lines and len(max(lines, key=len)) == 255


def test_warninglist_hits_added_when_not_excluded(server, export_dir) -> None:
    answer = run(server, "nowarn.txt", excludeWarninglist="no", attributeTypesToInclude=["domain"])
    assert answer["result"] is True
    assert (export_dir.resolve() / "nowarn.txt").read_text() == (
        "type=regex\n*bad.example*\n*evil.example*\n*warn.example*\n")


# --- tags: change records -------------------------------------------------------------------------

def test_tags_for_present_and_removed_attributes(server, export_dir) -> None:
    run(server, "probe.txt")
    path = export_dir.resolve() / "tags.txt"
    path.write_text("type=regex\n*10*\n*gone.example*\n")
    answer = run(server, "tags.txt", tagAttributeInBlocklist=[IN_LIST, " ", IN_LIST], removalTag=[REMOVE],
                 tagAttributeRemovedFromBlocklist=REMOVED)
    assert answer["result"] is True
    ops = [(c["op"], c["uuid"], c.get("tag"), c.get("local")) for c in answer["changes"]]
    assert ops == [
        ("attach_tag", uuid(1), IN_LIST, True), ("touch", uuid(1), None, None),   # already present
        ("detach_tag", uuid(6), REMOVE, None), ("detach_tag", uuid(6), IN_LIST, None),  # removal: any locality
        ("touch", uuid(6), None, None),
        ("attach_tag", uuid(6), REMOVED, True), ("touch", uuid(6), None, None),
    ]
    assert path.read_text() == "type=regex\n*9*\n*10*\n*bad.example*\n*evil.example*\n"
    # the removed stamp counts as a removal tag: the attribute never comes back
    stamped = data(**{"6": {"Tag": [{"name": REMOVED, "local": 1}], "_allTags": [{"name": REMOVED, "local": 1}]}})
    later = run(server, "tags.txt", stamped, tagAttributeRemovedFromBlocklist=[REMOVED])
    delta = later["data"]["Event"]["_blocklistDelta"]
    assert "gone.example" not in [a["value"] for a in delta["added"]] and delta["removed"] == []


# --- the file: .previous, .tmp, permissions, snapshots ----------------------------------------------

def test_previous_tmp_and_permission_bits(server, export_dir) -> None:
    run(server, "probe.txt")
    path = export_dir.resolve() / "perm.txt"
    path.write_text("firewall-old.example\n")
    path.chmod(0o640)
    Path(f"{path}.tmp").write_text("stale\n")  # a stale temp file is overwritten, not left behind
    answer = run(server, "perm.txt", exportFormat="firewall")
    assert answer["result"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert Path(f"{path}.previous").read_text() == "firewall-old.example\n"
    assert not Path(f"{path}.tmp").exists() and Path(f"{path}.lock").exists()
    assert path.read_text() == "9\n10\nbad.example\nevil.example\nfirewall-old.example\n"


def test_failed_write_keeps_the_file(server, export_dir) -> None:
    run(server, "probe.txt")
    path = export_dir.resolve() / "blocked.txt"
    path.write_text("type=regex\n*kept.example*\n")
    Path(f"{path}.tmp").mkdir()  # the temp file cannot be written
    answer = run(server, "blocked.txt")
    message = f'Failed to write blocklist "{path}" from event "Campaign X".'
    assert answer["result"] is False and answer["errors"] == [message]
    assert answer["toasts"] == [{"variant": "danger", "header": "Update blocklist", "body": message}]
    assert path.read_text() == "type=regex\n*kept.example*\n"
    assert Path(f"{path}.previous").read_text() == "type=regex\n*kept.example*\n"  # copied before the failure
    delta = answer["data"]["Event"]["_blocklistDelta"]  # the data is replaced all the same
    assert delta["written"] is False and len(delta["added"]) == 4


def test_unknown_format_fails_the_write(server, export_dir) -> None:
    run(server, "probe.txt")
    path = export_dir.resolve() / "csv.txt"
    path.write_text("kept.example\n")
    answer = run(server, "csv.txt", exportFormat="csv", tagAttributeInBlocklist=[IN_LIST],
                 attributeTypesToInclude=["domain"], roaming=data(**{"4": {"value": "kept.example"}}))
    assert answer["result"] is False
    assert answer["errors"] == [f'Failed to write blocklist "{path}" from event "Campaign X".']
    assert path.read_text() == "kept.example\n" and not Path(f"{path}.tmp").exists()
    delta = answer["data"]["Event"]["_blocklistDelta"]
    assert delta["export_format"] == "csv" and delta["written"] is False
    # read verbatim before the write failed; the in-list tag was attached all the same
    assert [a["value"] for a in delta["already_present"]] == ["kept.example"]
    assert [(c["op"], c["uuid"]) for c in answer["changes"]] == [("attach_tag", uuid(4)), ("touch", uuid(4))]


def test_snapshots_and_retention(server, export_dir) -> None:
    run(server, "probe.txt")
    path = export_dir.resolve() / "snap.txt"
    path.write_text("type=regex\n*kept.example*\n")
    old = [Path(f"{path}.snapshot-2020010{i}-000000-abcdef") for i in (1, 2, 3)]
    for i, snapshot in enumerate(old):
        snapshot.write_text("old\n")
        os.utime(snapshot, (1_000_000 + i, 1_000_000 + i))
    answer = run(server, "snap.txt", createSnapshot="yes", snapshotRetention="2")
    snapshot = answer["data"]["Event"]["_blocklistDelta"]["snapshot"]
    assert re.fullmatch(re.escape(str(path)) + r"\.snapshot-20231114-221320-[0-9a-f]{6}", snapshot)
    assert Path(snapshot).read_text() == path.read_text()
    left = sorted(str(p) for p in export_dir.resolve().glob("snap.txt.snapshot-*"))
    assert left == sorted([snapshot, str(old[2])])  # the two newest by mtime
    unchanged = run(server, "snap.txt", createSnapshot="yes", snapshotRetention="0")  # nothing written: none
    assert unchanged["data"]["Event"]["_blocklistDelta"]["snapshot"] is None
    assert len(list(export_dir.resolve().glob("snap.txt.snapshot-*"))) == 2


def test_retention_at_least_one(server, export_dir) -> None:
    run(server, "probe.txt")
    answer = run(server, "snap1.txt", createSnapshot="yes", snapshotRetention="zero")
    assert answer["data"]["Event"]["_blocklistDelta"]["snapshot"]
    assert len(list(export_dir.resolve().glob("snap1.txt.snapshot-*"))) == 1


# --- what MISP refuses or reports -------------------------------------------------------------------

def test_path_escape_and_invalid_names(server, export_dir, tmp_path) -> None:
    run(server, "probe.txt")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    (export_dir / "escape.txt").symlink_to(outside)
    answer = run(server, "escape.txt")
    assert (answer["result"], answer["errors"]) == (False, ["Blocklist path escapes the export directory."])
    assert answer["toasts"][0]["variant"] == "danger" and "data" not in answer
    assert outside.read_text() == "secret\n"
    traversal = run(server, "../../" + outside.name)  # the last path component only, inside the directory
    assert traversal["result"] is True and (export_dir / outside.name).exists()
    assert outside.read_text() == "secret\n"
    for name in ("", "..", "a/.", "/"):
        bad = run(server, name)
        assert (bad["result"], bad["errors"]) == (False, ["Blocklist filename is empty or invalid."]), name


def test_no_candidates(server) -> None:
    answer = run(server, "none.txt", attributeTypesToInclude=["sha256"])
    assert answer["result"] is True and answer["errors"] == [] and "data" not in answer
    assert answer["toasts"] == [{"variant": "info", "header": "Update blocklist",
                                 "body": "No attributes found to update the blocklist"}]


def test_a_dry_run_leaves_the_file_alone(server, export_dir) -> None:
    run(server, "dry.txt")  # creates the directory
    path = export_dir.resolve() / "dry.txt"
    path.write_text("type=regex\n*gone.example*\n")
    answer = run(server, "dry.txt", dry_run=True)
    assert path.read_text() == "type=regex\n*gone.example*\n"
    assert not list(export_dir.glob("dry.txt.*")) or all(p.suffix == ".lock" for p in export_dir.glob("dry.txt.*"))
    assert answer["result"] is True and answer["warnings"] == [f'dry run: blocklist "{path}" was not written (4 entries would be)']
    assert answer["data"]["Event"]["_blocklistDelta"]["written"] is True  # the data MISP's write would give


def test_types_not_a_list_is_php_type_error(server) -> None:
    answer = query_node(server, MODULE, data(), {"blocklist": "types.txt"}, now=NOW)
    assert answer["result"] is False and "MISP's run would end here" in answer["crash"]  # the run stops there
    assert "attributeTypesToInclude" in answer["crash"]


def test_toasts_only_for_an_initiator_user(server) -> None:
    without = run(server, "toasts.txt", initiator=None)
    assert without["result"] is True and "toasts" not in without
    no_id = run(server, "toasts.txt", initiator={"User": {"id": "0", "email": "system"}})
    assert "toasts" not in no_id
    assert run(server, "toasts.txt")["toasts"][0]["variant"] == "info"


def test_export_dir_unset() -> None:
    with ModuleServer() as srv:
        answer = query_node(srv, MODULE, data(), params("x.txt"), now=NOW, initiator_user=INITIATOR)
    assert answer["result"] is False and "[modules.blocklist_action_module] export_dir" in answer["error"]


# --- written back to MISP through PyMISP ----------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_misp() -> Iterator[MispFake]:
    with MispFake() as misp:
        yield misp


def test_tags_written_through_pymisp(fake_misp, tmp_path) -> None:
    fake_misp.events.clear()
    fake_misp.add_event(copy.deepcopy(raw_event()))
    (tmp_path / "wb.txt").write_text("type=regex\n*10*\n*gone.example*\n")
    config = {"misp": {"url": fake_misp.url, "key": API_KEY, "timeout": 5},
              "modules": {"blocklist_action_module": {"export_dir": str(tmp_path)}}}
    with ModuleServer(config=config) as srv:
        answer = run(srv, "wb.txt", tagAttributeInBlocklist=[IN_LIST], removalTag=[REMOVE],
                     tagAttributeRemovedFromBlocklist=[REMOVED])
    assert answer["result"] is True and answer["changes"] and all(c["applied"] for c in answer["changes"])
    stored = {a["uuid"]: [t["name"] for t in a.get("Tag") or []] for a in fake_misp.events[EVENT_UUID]["Event"]["Attribute"]}
    assert stored[uuid(1)] == [IN_LIST]
    assert stored[uuid(6)] == [REMOVED]
    assert fake_misp.calls("/tags/attachTagToObject") == [{"uuid": uuid(1), "tag": IN_LIST, "local": True},
                                                         {"uuid": uuid(6), "tag": REMOVED, "local": True}]


# --- through the runner ---------------------------------------------------------------------------------

def test_through_misp_workflow_run(server, export_dir, tmp_path) -> None:
    run(server, "probe.txt")
    wf = G.workflow([G.trigger(1, "event-publish", [2]),
                     G.node(2, "blocklist-action-module", "action",
                            {**params("runner.txt"), "createSnapshot": "yes"})])
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    doc = run_json(path, raw_event(), tmp_path, server.url, "--now", str(NOW), "--initiator-user", "7")
    blocklist = export_dir.resolve() / "runner.txt"
    assert doc["outcome"] == "success" and doc["nodes"][0]["result"] is True, doc["nodes"]
    assert blocklist.read_text() == "type=regex\n*9*\n*10*\n*bad.example*\n*evil.example*\n*warn.example*\n"
    delta = doc["data"]["Event"]["_blocklistDelta"]
    assert delta["written"] is True and "-20231114-221320-" in delta["snapshot"]
    assert [(t["variant"], t["header"]) for t in doc["nodes"][0]["toasts"]] == [("success", "Update blocklist")]
    again = run_json(path, raw_event(), tmp_path, server.url, "--now", str(NOW))  # no initiator: the SYSTEM user
    assert again["nodes"][0]["result"] is True and "toasts" not in again["nodes"][0]


# --- odd input, in process ------------------------------------------------------------------------------

def test_odd_input_gets_a_node_answer(tmp_path) -> None:
    good = {"id": "1", "uuid": "a", "type": "ip-dst", "value": "1.2.3.4", "to_ids": True, "Tag": [{"name": "r"}]}
    odd_data = [None, "x", [], 5, {"Event": "x"}, {"Event": {"_AttributeFlattened": "x"}},
                {"Event": {"_AttributeFlattened": {"0": 5}, "info": ["x"]}},
                {"Event": {"Attribute": "x", "_AttributeFlattened": [good, {**good, "id": None, "value": 7},
                                                                    {**good, "value": None}]}},
                {"Event": {"Attribute": [good], "_AttributeFlattened": [good, {**good, "Tag": [{"name": ["x"]}]}]}},
                {"Event": {"_AttributeFlattened": [{**good, "Tag": "x", "_allTags": {"a": {"name": "R"}},
                                                    "warnings": {"x": 1}}]}}]
    odd_params = [{}, None, {"attributeTypesToInclude": ["ip-dst"], "blocklist": "f"},
                  {"attributeTypesToInclude": {"a": "ip-dst"}, "blocklist": ["x"], "removalTag": {"a": "r"},
                   "exportFormat": 5, "snapshotRetention": [], "createSnapshot": "yes"},
                  {"attributeTypesToInclude": ["ip-dst"], "blocklist": "g", "removalTag": [["r"]]},
                  {"attributeTypesToInclude": "ip-dst", "blocklist": "h", "tagAttributeInBlocklist": 5,
                   "exportFormat": None}]
    previous = get_settings()
    set_settings(Settings(modules={"blocklist_action_module": {"export_dir": str(tmp_path)}}))
    try:
        answers = [blocklist_action_module.dict_handler({"data": d, "params": p, "node": {}, "dry_run": True})
                   for d, p in itertools.product(odd_data, odd_params)]
    finally:
        set_settings(previous)
    for answer in answers:
        assert isinstance(answer["result"], bool) and all(isinstance(e, str) and e for e in answer["errors"])
        assert bool(answer["errors"]) == ("error" in answer)
        json.dumps(answer)
    assert any("MISP's run would end here" in a.get("crash", "") for a in answers)
    assert any(a["result"] is True and "data" in a for a in answers)
