"""Run history: one row per run, its detail compressed beside it (SQLite, or PostgreSQL).

A row says what ran (workflow, version, trigger), on what (event id and uuid), from where
(source), when (enqueued, started, finished), how it ended (outcome, message) and what it
wrote; the detail (:mod:`runner.service.record`) holds the input, the per-node input, params,
output, errors and data changes, and the write-back.

Built for a runs list with filters (docs/service.md, "History"): an index per filter
(workflow, trigger, outcome, event id, event uuid, source), each ending in ``finished_at``, so
a filtered page is an index range; pages go by keyset (``before`` = the last row's
``(finished_at, seq)``), never by offset. ``seq`` grows with every write of a row, so
``since`` lists the runs written after a cursor (live updates by polling).

``url``: ``sqlite:///path`` (or a plain path) or ``postgresql://...`` (psycopg, for history
shared by workers on several hosts).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runner.service.tasks import compress, decompress

COLUMNS = ("id", "workflow", "version", "trigger", "event_id", "event_uuid", "source", "parent", "outcome",
           "message", "attempts", "enqueued_at", "started_at", "finished_at", "duration_ms", "nodes", "changes",
           "written", "state")
FILTERS = ("workflow", "trigger", "outcome", "event_id", "event_uuid", "source", "version", "parent")

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workflow TEXT, version TEXT, trigger TEXT, event_id TEXT, event_uuid TEXT, source TEXT, parent TEXT,
    outcome TEXT, message TEXT, attempts INTEGER, enqueued_at REAL, started_at REAL, finished_at REAL,
    duration_ms REAL, nodes INTEGER, changes INTEGER, written INTEGER, state TEXT,
    detail BLOB
);
CREATE TABLE IF NOT EXISTS workflow_versions (
    version TEXT PRIMARY KEY, name TEXT NOT NULL, content BLOB NOT NULL, first_seen REAL NOT NULL);
"""
_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    workflow TEXT, version TEXT, trigger TEXT, event_id TEXT, event_uuid TEXT, source TEXT, parent TEXT,
    outcome TEXT, message TEXT, attempts INTEGER, enqueued_at DOUBLE PRECISION, started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION, duration_ms DOUBLE PRECISION, nodes INTEGER, changes INTEGER, written INTEGER,
    state TEXT, detail BYTEA
);
CREATE TABLE IF NOT EXISTS workflow_versions (
    version TEXT PRIMARY KEY, name TEXT NOT NULL, content BYTEA NOT NULL, first_seen DOUBLE PRECISION NOT NULL);
"""
_INDEXES = [f"CREATE INDEX IF NOT EXISTS runs_by_{c} ON runs({c}, finished_at, seq)" for c in FILTERS] + [
    "CREATE INDEX IF NOT EXISTS runs_by_finished ON runs(finished_at, seq)",
]


@dataclass
class RunRow:
    id: str
    workflow: str
    version: str | None
    trigger: str | None
    event_id: str | None
    event_uuid: str | None
    source: str
    parent: str | None
    outcome: str           # success | blocked | failure | error | skipped | loop | dead | cancelled
    message: str
    attempts: int
    enqueued_at: float
    started_at: float | None
    finished_at: float
    duration_ms: float | None
    nodes: int
    changes: int
    written: int
    state: str = "done"    # done | dead | skipped | cancelled

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def encode(self, detail: bytes | None) -> bytes:
        """The row and its detail as one relayed history entry."""
        import orjson

        head = orjson.dumps(self.as_dict())
        return b"R" + len(head).to_bytes(4, "big") + head + (detail or b"")


def version_entry(version: str, name: str, content: bytes) -> bytes:
    """A workflow version as one relayed history entry."""
    import orjson

    head = orjson.dumps({"version": version, "name": name})
    return b"V" + len(head).to_bytes(4, "big") + head + content


def apply_entries(history: History, entries: list[bytes]) -> int:
    """Write relayed entries (runs in one transaction); returns the runs written."""
    import orjson

    runs = []
    for entry in entries:
        kind, size = entry[:1], int.from_bytes(entry[1:5], "big")
        head, rest = orjson.loads(entry[5:5 + size]), entry[5 + size:]
        if kind == b"V":
            history.add_version(head["version"], head["name"], rest)
        elif kind == b"R":
            runs.append((RunRow(**head), rest or None))
    if runs:
        history.record_many(runs)
    return len(runs)


class History:
    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith(("postgresql://", "postgres://"))
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # this process's writers take turns (no SQLite busy sleeps)
        if not self.pg:
            self.path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = self._db()
        if self.pg:
            with db.transaction():
                db.execute(_PG_SCHEMA)
                for statement in _INDEXES:
                    db.execute(statement)
        else:
            db.executescript(_SQLITE_SCHEMA + ";\n".join(_INDEXES) + ";")

    def describe(self) -> str:
        if self.pg:
            from misp_modules.lib.http import public_url

            return f"postgresql:{public_url(self.url)}"
        return f"sqlite:{self.path}"

    # -- connections ----------------------------------------------------------------------
    def _db(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            if self.pg:
                import psycopg

                db = psycopg.connect(self.url, autocommit=True)
            else:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.pg else statement

    def _execute(self, statement: str, params: Iterable[Any] = ()) -> Any:
        return self._db().execute(self._sql(statement), tuple(params))

    # -- writing --------------------------------------------------------------------------
    def record(self, row: RunRow, detail: bytes | None) -> None:
        """Write (or rewrite: a redelivered run) a run's row and detail."""
        values = [getattr(row, c) for c in COLUMNS] + [detail]
        names = ", ".join(COLUMNS) + ", detail"
        marks = ", ".join("?" for _ in values)
        if self.pg:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*COLUMNS[1:], "detail"))
            self._execute(f"INSERT INTO runs({names}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}, "
                          "seq = nextval(pg_get_serial_sequence('runs', 'seq'))", values)
        else:
            with self._write_lock:
                self._execute(f"INSERT OR REPLACE INTO runs({names}) VALUES ({marks})", values)

    def record_many(self, entries: list[tuple[RunRow, bytes | None]]) -> None:
        """Several runs in one transaction (the history relay)."""
        if self.pg:
            for row, detail in entries:
                self.record(row, detail)
            return
        names = ", ".join(COLUMNS) + ", detail"
        marks = ", ".join("?" for _ in range(len(COLUMNS) + 1))
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(f"INSERT OR REPLACE INTO runs({names}) VALUES ({marks})",
                               [[getattr(r, c) for c in COLUMNS] + [d] for r, d in entries])
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add_version(self, version: str, name: str, content: bytes) -> None:
        """Keep a workflow version's file (once), so a run can be replayed on it later."""
        if version in getattr(self._local, "versions", ()):
            return
        conflict = "ON CONFLICT (version) DO NOTHING" if self.pg else ""
        verb = "INSERT" if self.pg else "INSERT OR IGNORE"
        self._execute(f"{verb} INTO workflow_versions(version, name, content, first_seen) VALUES (?, ?, ?, ?) "
                      f"{conflict}", (version, name, compress(content), time.time()))
        self._local.versions = getattr(self._local, "versions", set()) | {version}

    def prune(self, max_age: float | None, max_runs: int | None) -> int:
        """Retention: drop runs finished more than ``max_age`` seconds ago, then all but the
        newest ``max_runs``. Returns how many went."""
        dropped = 0
        if max_age:
            dropped += self._execute("DELETE FROM runs WHERE finished_at < ?", (time.time() - max_age,)).rowcount
        if max_runs:
            row = self._execute("SELECT seq FROM runs ORDER BY seq DESC LIMIT 1 OFFSET ?", (max_runs - 1,)).fetchone()
            if row is not None:
                dropped += self._execute("DELETE FROM runs WHERE seq < ?", (row[0],)).rowcount
        return dropped

    # -- reading --------------------------------------------------------------------------
    def _row(self, values: tuple) -> dict[str, Any]:
        out = dict(zip(("seq", *COLUMNS), values))
        return out

    def get(self, run_id: str) -> dict[str, Any] | None:
        row = self._execute(f"SELECT seq, {', '.join(COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._row(row) if row else None

    def find(self, prefix: str) -> dict[str, Any] | None:
        """A run by id or unambiguous id prefix (the CLI's short ids)."""
        found = self.get(prefix)
        if found is not None or len(prefix) < 4:
            return found
        rows = self._execute(f"SELECT seq, {', '.join(COLUMNS)} FROM runs WHERE id LIKE ? LIMIT 2",
                             (prefix.replace("%", "") + "%",)).fetchall()
        return self._row(rows[0]) if len(rows) == 1 else None

    def detail_blob(self, run_id: str) -> bytes | None:
        row = self._execute("SELECT detail FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def version_content(self, version: str) -> tuple[str, bytes] | None:
        row = self._execute("SELECT name, content FROM workflow_versions WHERE version = ?", (version,)).fetchone()
        return (row[0], decompress(bytes(row[1]))) if row else None

    def versions(self, name: str) -> list[dict[str, Any]]:
        """The kept versions of workflow ``name``, newest first: ``{version, first_seen}``."""
        rows = self._execute("SELECT version, first_seen FROM workflow_versions WHERE name = ? "
                             "ORDER BY first_seen DESC", (name,)).fetchall()
        return [{"version": r[0], "first_seen": r[1]} for r in rows]

    def list(self, filters: Mapping[str, Any] | None = None, *, since_time: float | None = None,
             until_time: float | None = None, before: tuple[float, int] | None = None,
             limit: int = 50) -> tuple[list[dict[str, Any]], tuple[float, int] | None]:
        """Newest first. ``before``: the cursor the previous page returned. Returns the rows and
        the cursor of the next page (None at the end)."""
        where, params = [], []
        for name, value in (filters or {}).items():
            if name not in FILTERS:
                raise ValueError(f"unknown filter `{name}` (known: {', '.join(FILTERS)})")
            if value is not None and value != "":
                where.append(f"{name} = ?")
                params.append(value)
        if since_time is not None:
            where.append("finished_at >= ?")
            params.append(since_time)
        if until_time is not None:
            where.append("finished_at < ?")
            params.append(until_time)
        if before is not None:
            where.append("(finished_at < ? OR (finished_at = ? AND seq < ?))")
            params += [before[0], before[0], before[1]]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._execute(f"SELECT seq, {', '.join(COLUMNS)} FROM runs {clause} "
                             "ORDER BY finished_at DESC, seq DESC LIMIT ?", (*params, limit + 1)).fetchall()
        page = [self._row(r) for r in rows[:limit]]
        cursor = (page[-1]["finished_at"], page[-1]["seq"]) if len(rows) > limit and page else None
        return page, cursor

    def since(self, seq: int, limit: int = 100) -> list[dict[str, Any]]:
        """Runs written after cursor ``seq``, oldest first (poll with the last ``seq`` seen)."""
        rows = self._execute(f"SELECT seq, {', '.join(COLUMNS)} FROM runs WHERE seq > ? ORDER BY seq LIMIT ?",
                             (seq, limit)).fetchall()
        return [self._row(r) for r in rows]

    def last_seq(self) -> int:
        row = self._execute("SELECT MAX(seq) FROM runs").fetchone()
        return int(row[0] or 0)

    def count(self) -> int:
        return int(self._execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except Exception:  # noqa: BLE001 - closing from another thread at shutdown
                    pass
            self._all.clear()
        self._local = threading.local()
