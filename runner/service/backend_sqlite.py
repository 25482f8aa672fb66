"""The embedded queue: leases in one SQLite file (WAL), for one host, no server.

Why not an engine (docs/service.md, "Choosing the queue engine"): Huey's SQLite storage
removes a task when it hands it to a worker, so a worker killed mid-run loses it; Dramatiq has
no SQLite broker; RQ and Celery need Redis (Celery's SQLAlchemy broker is experimental and
polls). None offers per-key ordering. So this is a small lease queue behind the same
interface as the Redis backend:

* a task row is ``ready``, ``leased`` (``lease_owner``, ``lease_until``) or ``dead``;
* a claim takes, in one ``BEGIN IMMEDIATE`` transaction, the oldest task that is the head of
  its key (no older live task with the same key) and is either ready and due, or leased with
  an expired lease (its worker died): per-key order and serialisation, redelivery;
* ack deletes the row; retry puts it back ``ready`` with ``not_before``; dead keeps it out of
  every line.

Several processes of one host may share the file (SQLite locks it); workers of this process
are woken at once by a put, others notice within ``poll`` seconds.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from runner.service.backend import Backend, Claimed, DeadLetter
from runner.service.tasks import Task, new_run_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL,
    meta BLOB NOT NULL,
    data BLOB,
    state TEXT NOT NULL DEFAULT 'ready',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    error TEXT,
    enqueued_at REAL NOT NULL,
    dead_at REAL
);
CREATE INDEX IF NOT EXISTS tasks_live_by_key ON tasks(key, seq) WHERE state != 'dead';
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks(state, seq);
CREATE TABLE IF NOT EXISTS rejected (
    id TEXT PRIMARY KEY, source TEXT, error TEXT NOT NULL, raw BLOB, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seen (dedupe TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (task_id TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS written (
    task_id TEXT NOT NULL, idx INTEGER NOT NULL, note TEXT, PRIMARY KEY (task_id, idx));
CREATE TABLE IF NOT EXISTS own_writes (
    event TEXT NOT NULL, low REAL NOT NULL, high REAL NOT NULL, run_id TEXT, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS own_writes_by_event ON own_writes(event);
CREATE TABLE IF NOT EXISTS fingerprints (
    rowid INTEGER PRIMARY KEY, fp TEXT NOT NULL, run_id TEXT, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS fingerprints_by_fp ON fingerprints(fp);
CREATE TABLE IF NOT EXISTS run_starts (event TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS run_starts_by_event ON run_starts(event, at);
CREATE TABLE IF NOT EXISTS schedule_slots (name TEXT NOT NULL, slot INTEGER NOT NULL, PRIMARY KEY (name, slot));
"""

_CLAIM = """
SELECT seq, meta, data, attempts FROM tasks AS t
WHERE ((t.state = 'ready' AND t.not_before <= :now) OR (t.state = 'leased' AND t.lease_until < :now))
  AND NOT EXISTS (SELECT 1 FROM tasks AS u WHERE u.key = t.key AND u.seq < t.seq AND u.state != 'dead')
ORDER BY t.seq LIMIT 1
"""

REJECTED_KEEP = 1 << 20  # bytes of a rejected message that are kept (its size is in the error)


class SqliteBackend(Backend):
    def __init__(self, path: str | os.PathLike, *, lease: float = 60.0, poll: float = 0.5,
                 synchronous: str = "normal") -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lease = lease
        self.poll = poll
        self.synchronous = synchronous.upper()
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wakeup = threading.Condition()
        self._closed = False
        self._db().executescript(SCHEMA)

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    # -- connections ----------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            with self._conns_lock:
                self._conns.append(db)
        return db

    class _Tx:
        """One write transaction. The threads of this process take turns on a Python lock
        first: SQLite's own busy handler sleeps (1, 2, 5... ms) when the file is locked, which
        between threads of one process is pure waste."""

        def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
            self.db, self.lock = db, lock

        def __enter__(self) -> sqlite3.Connection:
            self.lock.acquire()
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.lock.release()
                raise
            return self.db

        def __exit__(self, kind, *_exc) -> None:
            try:
                self.db.execute("ROLLBACK" if kind else "COMMIT")
            finally:
                self.lock.release()

    def _tx(self) -> _Tx:
        return self._Tx(self._db(), self._write_lock)

    def _notify(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()

    # -- queue ----------------------------------------------------------------------------
    def put(self, task: Task, *, dedupe: str | None = None, dedupe_ttl: float = 86400.0) -> bool:
        meta, data = task.meta(), task.packed_data()
        now = time.time()
        with self._tx() as db:
            if dedupe is not None:
                cur = db.execute("INSERT INTO seen(dedupe, expires) VALUES (?, ?) ON CONFLICT(dedupe) DO UPDATE "
                                 "SET expires = excluded.expires WHERE seen.expires < ?", (dedupe, now + dedupe_ttl, now))
                if cur.rowcount == 0:
                    return False
            db.execute("INSERT INTO tasks(id, key, meta, data, enqueued_at) VALUES (?, ?, ?, ?, ?)",
                       (task.id, task.key, meta, data, task.enqueued_at))
        self._notify()
        return True

    def claim(self, consumer: str, timeout: float, window: float | None = None) -> Claimed | None:
        deadline = time.monotonic() + timeout
        while not self._closed:
            claimed = self._try_claim(consumer, window)
            if claimed is not None:
                return claimed
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with self._wakeup:
                self._wakeup.wait(min(left, self.poll))
        return None

    def _try_claim(self, consumer: str, window: float | None = None) -> Claimed | None:
        now = time.time()
        db = self._db()
        # A cheap read first: most empty polls end here without taking the write lock.
        if db.execute("SELECT 1 FROM tasks WHERE state != 'dead' LIMIT 1").fetchone() is None:
            return None
        with self._tx() as db:
            row = db.execute(_CLAIM, {"now": now}).fetchone()
            if row is None:
                return None
            seq, meta, data, attempts = row
            db.execute("UPDATE tasks SET state = 'leased', lease_owner = ?, lease_until = ?, attempts = ? "
                       "WHERE seq = ?", (consumer, now + self.lease, attempts + 1, seq))
            count = self._count(db, self._key_of(db, seq), window, now) if window else None
        task = Task.unpack(meta, data)
        task.attempts = attempts + 1
        return Claimed(task, seq, consumer, self.lease, runs_in_window=count)

    @staticmethod
    def _key_of(db: sqlite3.Connection, seq: int) -> str:
        return db.execute("SELECT key FROM tasks WHERE seq = ?", (seq,)).fetchone()[0]

    @staticmethod
    def _count(db: sqlite3.Connection, event: str, window: float, now: float) -> int:
        db.execute("DELETE FROM run_starts WHERE event = ? AND at <= ?", (event, now - window))
        db.execute("INSERT INTO run_starts(event, at) VALUES (?, ?)", (event, now))
        return db.execute("SELECT COUNT(*) FROM run_starts WHERE event = ?", (event,)).fetchone()[0]

    def heartbeat(self, claimed: Claimed) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE tasks SET lease_until = ? WHERE seq = ? AND state = 'leased' AND lease_owner = ?",
                             (time.time() + claimed.lease, claimed.token, claimed.consumer))
            return cur.rowcount == 1

    def ack(self, claimed: Claimed, history: bytes | None = None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM tasks WHERE seq = ?", (claimed.token,))
            db.execute("DELETE FROM checkpoints WHERE task_id = ?", (claimed.task.id,))
            db.execute("DELETE FROM written WHERE task_id = ?", (claimed.task.id,))
        self._notify()  # the key's next task may be deliverable now

    def retry(self, claimed: Claimed, error: str, delay: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE tasks SET state = 'ready', not_before = ?, error = ?, lease_owner = NULL, "
                       "lease_until = NULL WHERE seq = ?", (time.time() + delay, error, claimed.token))

    def dead(self, claimed: Claimed, error: str, history: bytes | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE tasks SET state = 'dead', error = ?, dead_at = ?, lease_owner = NULL, "
                       "lease_until = NULL WHERE seq = ?", (error, time.time(), claimed.token))
            db.execute("DELETE FROM checkpoints WHERE task_id = ?", (claimed.task.id,))
        self._notify()

    def release(self, claimed: Claimed) -> None:
        with self._tx() as db:
            db.execute("UPDATE tasks SET state = 'ready', attempts = MAX(attempts - 1, 0), lease_owner = NULL, "
                       "lease_until = NULL WHERE seq = ? AND state = 'leased'", (claimed.token,))
        self._notify()

    def cancel(self, task_id: str) -> bool:
        with self._tx() as db:
            cur = db.execute("DELETE FROM tasks WHERE id = ? AND state = 'ready'", (task_id,))
            return cur.rowcount == 1

    @staticmethod
    def _state(state: str, not_before: float, now: float) -> str:
        if state == "leased":
            return "running"
        if state == "dead":
            return "dead"
        return "delayed" if not_before > now else "queued"

    def get(self, task_id: str) -> tuple[Task, str] | None:
        row = self._db().execute("SELECT meta, data, state, not_before, attempts, error FROM tasks WHERE id = ?",
                                 (task_id,)).fetchone()
        if row is None:
            return None
        task = Task.unpack(row[0], row[1])
        task.attempts, task.error = row[4], row[5]
        return task, self._state(row[2], row[3], time.time())

    def pending(self, limit: int = 100) -> list[tuple[Task, str]]:
        now = time.time()
        rows = self._db().execute("SELECT meta, state, not_before, attempts, error FROM tasks WHERE state != 'dead' "
                                  "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        out = []
        for meta, state, not_before, attempts, error in rows:
            task = Task.unpack(meta, None)
            task.attempts, task.error = attempts, error
            out.append((task, self._state(state, not_before, now)))
        return out

    def depth(self) -> dict[str, int]:
        now = time.time()
        counts = {"queued": 0, "delayed": 0, "running": 0, "dead": 0}
        for state, not_before_due, n in self._db().execute(
                "SELECT state, not_before > ?, COUNT(*) FROM tasks GROUP BY state, not_before > ?", (now, now)):
            counts[self._state(state, now + 1 if not_before_due else 0, now)] += n
        counts["dead"] += self._db().execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
        return counts

    def reject(self, raw: bytes, error: str, source: str) -> str:
        rid = new_run_id()
        with self._tx() as db:
            db.execute("INSERT INTO rejected(id, source, error, raw, at) VALUES (?, ?, ?, ?, ?)",
                       (rid, source, error, bytes(raw[:REJECTED_KEEP]), time.time()))
        return rid

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        db = self._db()
        out = []
        for tid, meta, data, error, at, attempts in db.execute(
                "SELECT id, meta, data, error, dead_at, attempts FROM tasks WHERE state = 'dead' "
                "ORDER BY dead_at DESC LIMIT ?", (limit,)):
            task = Task.unpack(meta, data)
            task.attempts, task.error = attempts, error
            out.append(DeadLetter(tid, error or "", at or 0.0, task, source=task.source))
        for rid, source, error, raw, at in db.execute(
                "SELECT id, source, error, raw, at FROM rejected ORDER BY at DESC LIMIT ?", (limit,)):
            out.append(DeadLetter(rid, error, at, None, raw, source))
        out.sort(key=lambda d: d.dead_at, reverse=True)
        return out[:limit]

    def requeue_dead(self, dead_id: str) -> Task | None:
        with self._tx() as db:
            row = db.execute("SELECT seq, meta, data FROM tasks WHERE id = ? AND state = 'dead'", (dead_id,)).fetchone()
            if row is None:
                return None
            # To the back of the line: a new sequence number, as if put now.
            db.execute("DELETE FROM tasks WHERE seq = ?", (row[0],))
            task = Task.unpack(row[1], row[2])
            db.execute("INSERT INTO tasks(id, key, meta, data, enqueued_at) VALUES (?, ?, ?, ?, ?)",
                       (task.id, task.key, row[1], row[2], time.time()))
        self._notify()
        return task

    # -- run state ------------------------------------------------------------------------
    def save_checkpoint(self, task_id: str, blob: bytes) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints(task_id, blob) VALUES (?, ?)", (task_id, blob))

    def load_checkpoint(self, task_id: str) -> bytes | None:
        row = self._db().execute("SELECT blob FROM checkpoints WHERE task_id = ?", (task_id,)).fetchone()
        return row[0] if row else None

    def mark_written(self, task_id: str, index: int, note: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO written(task_id, idx, note) VALUES (?, ?, ?)", (task_id, index, note))

    def written(self, task_id: str) -> dict[int, str]:
        return dict(self._db().execute("SELECT idx, note FROM written WHERE task_id = ?", (task_id,)).fetchall())

    def add_own_write(self, event: str, low: float, high: float, run_id: str, ttl: float) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO own_writes(event, low, high, run_id, expires) VALUES (?, ?, ?, ?, ?)",
                       (event, low, high, run_id, time.time() + ttl))

    def own_write(self, event: str, timestamp: float) -> str | None:
        row = self._db().execute("SELECT run_id FROM own_writes WHERE event = ? AND low < ? AND ? <= high "
                                 "AND expires > ? LIMIT 1", (event, timestamp, timestamp, time.time())).fetchone()
        return row[0] if row else None

    def add_fingerprint(self, fingerprint: str, run_id: str, ttl: float) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO fingerprints(fp, run_id, expires) VALUES (?, ?, ?)",
                       (fingerprint, run_id, time.time() + ttl))

    def take_fingerprint(self, fingerprint: str) -> str | None:
        with self._tx() as db:
            row = db.execute("SELECT rowid, run_id FROM fingerprints WHERE fp = ? AND expires > ? ORDER BY rowid "
                             "LIMIT 1", (fingerprint, time.time())).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM fingerprints WHERE rowid = ?", (row[0],))
            return row[1]

    def count_run(self, event: str, window: float, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._tx() as db:
            return self._count(db, event, window, now)

    def claim_slot(self, name: str, slot: int) -> bool:
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO schedule_slots(name, slot) VALUES (?, ?)", (name, slot))
            return cur.rowcount == 1

    # -- life -------------------------------------------------------------------------------
    def maintain(self) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM seen WHERE expires < ?", (now,))
            db.execute("DELETE FROM own_writes WHERE expires < ?", (now,))
            db.execute("DELETE FROM fingerprints WHERE expires < ?", (now,))
            db.execute("DELETE FROM run_starts WHERE at < ?", (now - 86400,))
            db.execute("DELETE FROM schedule_slots WHERE rowid NOT IN "
                       "(SELECT rowid FROM schedule_slots ORDER BY slot DESC LIMIT 1000)")

    def wake(self) -> None:
        self._notify()

    def close(self) -> None:
        self._closed = True
        self._notify()
        with self._conns_lock:
            for db in self._conns:
                try:
                    db.close()
                except sqlite3.ProgrammingError:
                    pass
            self._conns.clear()
        self._local = threading.local()
