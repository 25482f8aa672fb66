"""The distributed queue: Redis Streams consumer groups through redis-py, for several hosts.

Why Streams and not a task-queue engine (docs/service.md, "Choosing the queue engine"): a
consumer group keeps every delivered entry in its pending list until it is acknowledged
(``XACK``), and ``XAUTOCLAIM`` hands entries whose consumer went silent to another one, which
is the redelivery a killed worker needs; Celery, RQ and Dramatiq offer that only with
``acks_late``-style settings and none keeps runs of one key in order.

Layout (all keys under ``<namespace>:``):

* ``task:<id>`` hash: the task (meta, compressed data, attempts, state, error);
* ``line:<key>`` list: the ids of a key's tasks in order; only its head is ever delivered;
* ``ready`` stream (group ``workers``): one entry per key whose head can be delivered, so the
  stream schedules keys, and a key has at most one entry (``sched:<key>`` marks it);
* ``delayed`` sorted set: keys whose head waits for its retry back-off, by due time;
* ``tasks`` / ``dead`` / ``rejected`` sorted sets: live tasks, dead letters, bad messages.

Every step that touches more than one key is one Lua script, so it is atomic. Durability is
Redis's: with ``appendonly yes`` and ``appendfsync always`` every acknowledged write is on disk
before the reply, so a Redis restart loses nothing acknowledged (docs/service.md, "Redis").
Not for Redis Cluster (the scripts use keys they compute).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis

from runner.service.backend import Backend, Claimed, DeadLetter
from runner.service.tasks import Task

GROUP = "workers"
REJECTED_KEEP = 1 << 20

_PUT = """
local ns, id, key, meta, data, dedupe, ttl, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if dedupe ~= '' then
  if not redis.call('SET', ns .. ':seen:' .. dedupe, '1', 'NX', 'EX', ttl) then return 0 end
end
local t = ns .. ':task:' .. id
redis.call('HSET', t, 'meta', meta, 'key', key, 'attempts', 0, 'state', 'queued', 'not_before', 0, 'enqueued', now)
if data ~= '' then redis.call('HSET', t, 'data', data) end
redis.call('ZADD', ns .. ':tasks', now, id)
redis.call('RPUSH', ns .. ':line:' .. key, id)
if redis.call('SET', ns .. ':sched:' .. key, '1', 'NX') then
  redis.call('XADD', ns .. ':ready', '*', 'k', key)
end
return 1
"""

# The stream entry `sid` for `key` was delivered to `consumer`: lease the key's head task.
_TAKE_HEAD_BODY = """
local ns, key, sid, consumer, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local ready, line = ns .. ':ready', ns .. ':line:' .. key
local id = redis.call('LINDEX', line, 0)
if not id then
  redis.call('XACK', ready, 'workers', sid)
  redis.call('XDEL', ready, sid)
  redis.call('DEL', ns .. ':sched:' .. key)
  return false
end
local t = ns .. ':task:' .. id
local nb = tonumber(redis.call('HGET', t, 'not_before') or '0')
if nb > now then
  redis.call('XACK', ready, 'workers', sid)
  redis.call('XDEL', ready, sid)
  redis.call('ZADD', ns .. ':delayed', nb, key)
  return false
end
local attempts = redis.call('HINCRBY', t, 'attempts', 1)
redis.call('HSET', t, 'state', 'running', 'consumer', consumer, 'sid', sid)
local count = -1
local window = tonumber(ARGV[6] or '0')
if window > 0 then
  local k = ns .. ':runs:' .. key
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
  redis.call('ZADD', k, now, id .. ':' .. attempts)
  redis.call('EXPIRE', k, math.ceil(window) + 1)
  count = redis.call('ZCARD', k)
end
return {id, redis.call('HGET', t, 'meta'), redis.call('HGET', t, 'data') or '', attempts, count}
"""

# One round trip (and one AOF fsync) for a claim when work is waiting: due back-offs promoted,
# the next entry read, its key's head leased and counted.
_CLAIM_NEXT = """
local ns, consumer = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', ns .. ':delayed', '-inf', now, 'LIMIT', 0, 100)
for _, key in ipairs(due) do
  redis.call('ZREM', ns .. ':delayed', key)
  redis.call('XADD', ns .. ':ready', '*', 'k', key)
end
for _ = 1, 10 do
  local r = redis.call('XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1, 'STREAMS', ns .. ':ready', '>')
  if not r then break end
  local entry = r[1][2][1]
  local sid, key = entry[1], entry[2][2]
  local got = TAKE_HEAD(ns, key, sid, consumer, now, ARGV[4])
  if got then
    table.insert(got, sid)
    table.insert(got, key)
    return got
  end
end
local nxt = redis.call('ZRANGE', ns .. ':delayed', 0, 0, 'WITHSCORES')
if nxt[2] then return {'', nxt[2]} end
return false
"""

# As a function inside _CLAIM_NEXT, and as a script of its own after a blocking read.
_TAKE_HEAD_FN = ("local function TAKE_HEAD(...)\n  local ARGV = {...}\n"
                 + _TAKE_HEAD_BODY.replace("\n", "\n  ") + "\nend\n")
_TAKE_HEAD = _TAKE_HEAD_BODY
_CLAIM_NEXT = _TAKE_HEAD_FN + _CLAIM_NEXT

# End of a delivery: `how` is ack (done), dead (to the dead letters) or retry (back-off).
_FINISH = """
local ns, key, sid, id, how, now, arg = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local ready, line, t = ns .. ':ready', ns .. ':line:' .. key, ns .. ':task:' .. id
redis.call('XACK', ready, 'workers', sid)
redis.call('XDEL', ready, sid)
if how == 'retry' then
  local due = now + tonumber(ARGV[8])
  redis.call('HSET', t, 'state', 'delayed', 'not_before', due, 'error', arg)
  redis.call('ZADD', ns .. ':delayed', due, key)
  return 1
end
if how == 'release' then
  redis.call('HSET', t, 'state', 'queued')
  redis.call('HINCRBY', t, 'attempts', -1)
  redis.call('XADD', ready, '*', 'k', key)
  return 1
end
if redis.call('LINDEX', line, 0) == id then redis.call('LPOP', line) end
redis.call('ZREM', ns .. ':tasks', id)
redis.call('DEL', ns .. ':ckpt:' .. id, ns .. ':written:' .. id)
if ARGV[9] and ARGV[9] ~= '' then redis.call('RPUSH', ns .. ':history', ARGV[9]) end
if how == 'dead' then
  redis.call('HSET', t, 'state', 'dead', 'error', arg, 'dead_at', now)
  redis.call('ZADD', ns .. ':dead', now, id)
else
  redis.call('DEL', t)
end
if redis.call('LLEN', line) > 0 then
  redis.call('XADD', ready, '*', 'k', key)
else
  redis.call('DEL', ns .. ':sched:' .. key)
end
return 1
"""

# Extend a lease: reset the entry's idle time, but only if this consumer still owns it.
_HEARTBEAT = """
local ns, sid, consumer = ARGV[1], ARGV[2], ARGV[3]
local p = redis.call('XPENDING', ns .. ':ready', 'workers', sid, sid, 1)
if not p[1] or p[1][2] ~= consumer then return 0 end
redis.call('XCLAIM', ns .. ':ready', 'workers', consumer, 0, sid, 'JUSTID')
return 1
"""

_CANCEL = """
local ns, id = ARGV[1], ARGV[2]
local t = ns .. ':task:' .. id
local state = redis.call('HGET', t, 'state')
if state ~= 'queued' and state ~= 'delayed' then return 0 end
local key = redis.call('HGET', t, 'key')
local line = ns .. ':line:' .. key
if state == 'delayed' and redis.call('LINDEX', line, 0) == id then
  redis.call('ZREM', ns .. ':delayed', key)
  redis.call('LPOP', line)
  if redis.call('LLEN', line) > 0 then redis.call('XADD', ns .. ':ready', '*', 'k', key)
  else redis.call('DEL', ns .. ':sched:' .. key) end
else
  redis.call('LREM', line, 0, id)
end
redis.call('DEL', t)
redis.call('ZREM', ns .. ':tasks', id)
return 1
"""

_REQUEUE = """
local ns, id, now = ARGV[1], ARGV[2], ARGV[3]
local t = ns .. ':task:' .. id
if redis.call('HGET', t, 'state') ~= 'dead' then return 0 end
local key = redis.call('HGET', t, 'key')
redis.call('ZREM', ns .. ':dead', id)
redis.call('HSET', t, 'state', 'queued', 'attempts', 0, 'not_before', 0)
redis.call('ZADD', ns .. ':tasks', now, id)
redis.call('RPUSH', ns .. ':line:' .. key, id)
if redis.call('SET', ns .. ':sched:' .. key, '1', 'NX') then redis.call('XADD', ns .. ':ready', '*', 'k', key) end
return 1
"""

_COUNT_RUN = """
local k, now, window, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
redis.call('ZADD', k, now, member)
redis.call('EXPIRE', k, math.ceil(window) + 1)
return redis.call('ZCARD', k)
"""


class RedisBackend(Backend):
    def __init__(self, url: str, *, namespace: str = "misp-workflow", lease: float = 60.0,
                 client: redis.Redis | None = None) -> None:
        self.url = url
        self.ns = namespace
        self.lease = lease
        self.r = client or redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5,
                                                health_check_interval=30)
        self._put = self.r.register_script(_PUT)
        self._take = self.r.register_script(_TAKE_HEAD)
        self._claim_next = self.r.register_script(_CLAIM_NEXT)
        self._next_stale = 0.0
        self._finish = self.r.register_script(_FINISH)
        self._beat = self.r.register_script(_HEARTBEAT)
        self._cancel = self.r.register_script(_CANCEL)
        self._requeue = self.r.register_script(_REQUEUE)
        self._count = self.r.register_script(_COUNT_RUN)
        self._group_ready = False

    def describe(self) -> str:
        from misp_modules.lib.http import public_url

        return f"redis:{public_url(self.url)} ({self.ns})"

    def _k(self, *parts: str) -> str:
        return ":".join((self.ns, *parts))

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.r.xgroup_create(self._k("ready"), GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # -- queue ----------------------------------------------------------------------------
    def put(self, task: Task, *, dedupe: str | None = None, dedupe_ttl: float = 86400.0) -> bool:
        self._ensure_group()
        data = task.packed_data() or b""
        done = self._put(args=[self.ns, task.id, task.key, task.meta(), data, dedupe or "",
                               max(1, int(dedupe_ttl)), task.enqueued_at])
        return bool(done)

    def claim(self, consumer: str, timeout: float, window: float | None = None) -> Claimed | None:
        self._ensure_group()
        deadline = time.monotonic() + timeout
        while True:
            now = time.time()
            if time.monotonic() >= self._next_stale:  # a killed worker's entries: not on every claim
                self._next_stale = time.monotonic() + min(1.0, self.lease / 4)
                entry = self._stale(consumer)
                if entry is not None:
                    claimed = self._lease(consumer, entry[0], entry[1], window)
                    if claimed is not None:
                        return claimed
            got = self._claim_next(args=[self.ns, consumer, now, window or 0])
            if got and got[0]:
                return self._claimed(got, consumer)
            next_due = float(got[1]) if got else None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            wait = left if next_due is None else max(0.001, min(left, next_due - now))
            wait = min(wait, max(0.05, min(1.0, self.lease / 4)))
            answer = self.r.xreadgroup(GROUP, consumer, {self._k("ready"): ">"}, count=1,
                                       block=max(1, int(wait * 1000)))
            if answer:
                sid, fields = answer[0][1][0]
                claimed = self._lease(consumer, sid, fields, window)
                if claimed is not None:
                    return claimed

    def _stale(self, consumer: str) -> Any:
        """An entry whose consumer went silent for a whole lease (a killed worker)."""
        answer = self.r.xautoclaim(self._k("ready"), GROUP, consumer, min_idle_time=int(self.lease * 1000),
                                   start_id="0-0", count=1)
        entries = answer[1] if len(answer) > 1 else []
        for sid, fields in entries:
            if fields:
                return sid, fields
            self.r.xack(self._k("ready"), GROUP, sid)  # deleted meanwhile: nothing to run
        return None

    def _lease(self, consumer: str, sid: Any, fields: dict, window: float | None) -> Claimed | None:
        key = (fields.get(b"k") or b"").decode()
        got = self._take(args=[self.ns, key, sid, consumer, time.time(), window or 0])
        if not got:
            return None
        return self._claimed([*got, sid, key.encode()], consumer)

    def _claimed(self, got: list, consumer: str) -> Claimed:
        tid, meta, data, attempts, count, sid, key = got
        task = Task.unpack(meta, data or None)
        task.attempts = int(attempts)
        sid = sid.decode() if isinstance(sid, bytes) else sid
        key = key.decode() if isinstance(key, bytes) else key
        return Claimed(task, (sid, key), consumer, self.lease, runs_in_window=None if int(count) < 0 else int(count))

    def heartbeat(self, claimed: Claimed) -> bool:
        sid, _key = claimed.token
        return bool(self._beat(args=[self.ns, sid, claimed.consumer]))

    def _end(self, claimed: Claimed, how: str, error: str = "", delay: float = 0.0, history: bytes = b"") -> None:
        sid, key = claimed.token
        self._finish(args=[self.ns, key, sid, claimed.task.id, how, time.time(), error, delay, history])

    def ack(self, claimed: Claimed, history: bytes | None = None) -> None:
        self._end(claimed, "ack", history=history or b"")

    def retry(self, claimed: Claimed, error: str, delay: float) -> None:
        self._end(claimed, "retry", error, delay)

    def dead(self, claimed: Claimed, error: str, history: bytes | None = None) -> None:
        self._end(claimed, "dead", error, history=history or b"")

    def release(self, claimed: Claimed) -> None:
        self._end(claimed, "release")

    def cancel(self, task_id: str) -> bool:
        return bool(self._cancel(args=[self.ns, task_id]))

    def _task(self, task_id: str, with_data: bool = True) -> tuple[Task, str] | None:
        fields = self.r.hgetall(self._k("task", task_id))
        if not fields or b"meta" not in fields:
            return None
        data = fields.get(b"data") if with_data else None
        task = Task.unpack(fields[b"meta"], data)
        task.attempts = int(fields.get(b"attempts", b"0"))
        task.error = fields[b"error"].decode() if fields.get(b"error") else None
        return task, fields.get(b"state", b"queued").decode()

    def get(self, task_id: str) -> tuple[Task, str] | None:
        return self._task(task_id)

    def pending(self, limit: int = 100) -> list[tuple[Task, str]]:
        out = []
        for tid in self.r.zrange(self._k("tasks"), 0, limit - 1):
            found = self._task(tid.decode(), with_data=False)
            if found is not None:
                out.append(found)
        return out

    def depth(self) -> dict[str, int]:
        self._ensure_group()
        pipe = self.r.pipeline(transaction=False)
        pipe.zcard(self._k("tasks"))
        pipe.zcard(self._k("delayed"))
        pipe.xpending(self._k("ready"), GROUP)
        pipe.zcard(self._k("dead"))
        pipe.zcard(self._k("rejected"))
        live, delayed, pend, dead, rejected = pipe.execute()
        running = int(pend.get("pending", 0)) if isinstance(pend, dict) else 0
        return {"queued": max(0, live - delayed - running), "delayed": delayed, "running": running,
                "dead": dead + rejected}

    def reject(self, raw: bytes, error: str, source: str) -> str:
        rid = str(uuid.uuid4())
        now = time.time()
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self._k("rej", rid), mapping={"raw": bytes(raw[:REJECTED_KEEP]), "error": error,
                                                 "source": source, "at": now})
        pipe.zadd(self._k("rejected"), {rid: now})
        pipe.execute()
        return rid

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        out = []
        for tid, at in self.r.zrevrange(self._k("dead"), 0, limit - 1, withscores=True):
            found = self._task(tid.decode())
            if found is not None:
                task = found[0]
                out.append(DeadLetter(task.id, task.error or "", at, task, source=task.source))
        for rid, at in self.r.zrevrange(self._k("rejected"), 0, limit - 1, withscores=True):
            fields = self.r.hgetall(self._k("rej", rid.decode()))
            out.append(DeadLetter(rid.decode(), fields.get(b"error", b"").decode(), at, None, fields.get(b"raw"),
                                  fields.get(b"source", b"").decode() or None))
        out.sort(key=lambda d: d.dead_at, reverse=True)
        return out[:limit]

    def requeue_dead(self, dead_id: str) -> Task | None:
        self._ensure_group()
        if not self._requeue(args=[self.ns, dead_id, time.time()]):
            return None
        found = self._task(dead_id, with_data=False)
        return found[0] if found else None

    # -- run state ------------------------------------------------------------------------
    def save_checkpoint(self, task_id: str, blob: bytes) -> None:
        self.r.set(self._k("ckpt", task_id), blob)

    def load_checkpoint(self, task_id: str) -> bytes | None:
        return self.r.get(self._k("ckpt", task_id))

    def mark_written(self, task_id: str, index: int, note: str) -> None:
        self.r.hset(self._k("written", task_id), str(index), note)

    def written(self, task_id: str) -> dict[int, str]:
        return {int(k): v.decode() for k, v in self.r.hgetall(self._k("written", task_id)).items()}

    def add_own_write(self, event: str, low: float, high: float, run_id: str, ttl: float) -> None:
        key = self._k("own", event)
        pipe = self.r.pipeline(transaction=True)
        pipe.zadd(key, {f"{low}|{high}|{run_id}": high})
        pipe.expire(key, max(1, int(ttl)))
        pipe.execute()

    def own_write(self, event: str, timestamp: float) -> str | None:
        for member in self.r.zrangebyscore(self._k("own", event), timestamp, "+inf"):
            low, _high, run_id = member.decode().split("|", 2)
            if float(low) < timestamp:
                return run_id
        return None

    def add_fingerprint(self, fingerprint: str, run_id: str, ttl: float) -> None:
        key = self._k("fp", fingerprint)
        pipe = self.r.pipeline(transaction=True)
        pipe.rpush(key, run_id)
        pipe.expire(key, max(1, int(ttl)))
        pipe.execute()

    def take_fingerprint(self, fingerprint: str) -> str | None:
        got = self.r.lpop(self._k("fp", fingerprint))
        return got.decode() if got else None

    def count_run(self, event: str, window: float, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return int(self._count(keys=[self._k("runs", event)], args=[now, window, f"{now}:{uuid.uuid4().hex[:8]}"]))

    def claim_slot(self, name: str, slot: int) -> bool:
        return bool(self.r.set(self._k("slot", name, str(slot)), "1", nx=True, ex=7 * 86400))

    # -- the history relay: workers on any host hand their runs' history to the intake ------
    relays_history = True

    def history_batch(self, limit: int) -> list[bytes]:
        return self.r.lrange(self._k("history"), 0, limit - 1)

    def relay_entry(self, entry: bytes) -> None:
        self.r.rpush(self._k("history"), entry)

    def history_done(self, count: int) -> None:
        self.r.ltrim(self._k("history"), count, -1)

    def history_lock(self, owner: str, ttl: float) -> bool:
        key, ms = self._k("history-relay"), max(1, int(ttl * 1000))
        if self.r.set(key, owner, nx=True, px=ms):
            return True
        if self.r.get(key) == owner.encode():
            self.r.pexpire(key, ms)
            return True
        return False

    def close(self) -> None:
        self.r.close()
