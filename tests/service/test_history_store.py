"""The history store on its own (SQLite in a temp folder): filtered keyset pages, the changes
cursor, retention by age and count, workflow versions, the relayed entries."""

from __future__ import annotations

import time

from runner.service.history import History, RunRow, apply_entries, version_entry


def row(i: int, **over) -> RunRow:
    base = dict(id=f"run-{i:05d}", workflow="guard" if i % 2 else "tagger", version="v1", trigger="event-after-save",
                event_id=str(i % 7), event_uuid=None, source="feed", parent=None,
                outcome="blocked" if i % 3 == 0 else "success", message="", attempts=1, enqueued_at=1000.0 + i,
                started_at=1000.0 + i, finished_at=1000.0 + i, duration_ms=1.0, nodes=2, changes=0, written=0)
    base.update(over)
    return RunRow(**base)


def test_filtered_pages_go_by_keyset_newest_first(tmp_path):
    history = History(str(tmp_path / "h.db"))
    history.record_many([(row(i), None) for i in range(300)])
    seen, cursor = [], None
    while True:
        page, cursor = history.list({"workflow": "guard", "outcome": "blocked"}, before=cursor, limit=17)
        seen += page
        if cursor is None:
            break
    expected = [f"run-{i:05d}" for i in range(299, -1, -1) if i % 2 and i % 3 == 0]
    assert [r["id"] for r in seen] == expected
    page, _ = history.list({"event_id": "3"}, since_time=1100, until_time=1200, limit=100)
    assert [r["id"] for r in page] == [f"run-{i:05d}" for i in range(199, 99, -1) if i % 7 == 3]


def test_the_changes_cursor_and_rewrites(tmp_path):
    history = History(str(tmp_path / "h.db"))
    history.record(row(1), b"detail")
    history.record(row(2), None)
    first = history.since(0)
    assert [r["id"] for r in first] == ["run-00001", "run-00002"]
    history.record(row(1, outcome="failure"), b"again")  # a redelivered run rewrites its row
    later = history.since(first[-1]["seq"])
    assert [(r["id"], r["outcome"]) for r in later] == [("run-00001", "failure")]
    assert history.detail_blob("run-00001") == b"again" and history.count() == 2
    assert history.find("run-0000") is None  # ambiguous prefix
    assert history.find("run-00002")["id"] == "run-00002"


def test_retention_by_age_then_count(tmp_path):
    history = History(str(tmp_path / "h.db"))
    now = time.time()
    history.record_many([(row(i, finished_at=now - 100 * 86400 + i), None) for i in range(5)]
                        + [(row(i, finished_at=now - 10 + i), None) for i in range(5, 20)])
    assert history.prune(30 * 86400, 10) == 10
    assert sorted(r["id"] for r in history.since(0)) == [f"run-{i:05d}" for i in range(10, 20)]


def test_relayed_entries_and_versions(tmp_path):
    history = History(str(tmp_path / "h.db"))
    entries = [version_entry("abcd", "guard", b'{"Workflow": {}}'), row(1).encode(b"blob"), row(2).encode(None)]
    assert apply_entries(history, entries) == 2
    assert apply_entries(history, entries) == 2  # written again (a relay died mid-batch): same rows
    assert history.count() == 2 and history.detail_blob("run-00001") == b"blob"
    assert history.version_content("abcd") == ("guard", b'{"Workflow": {}}')
