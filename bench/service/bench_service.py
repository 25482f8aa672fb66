"""Benchmark of the automation service (issue 17), every figure measured in the same run.

    python3 bench/service/bench_service.py [--runs 600] [--rate 100] [--seconds 10] [--json OUT]

1. **Throughput** of MISP's PAP/TLP blocking blueprint (bound to ``event-after-save``) on a
   100-attribute event, N runs on N different events:

   * ``bare``: the runner in a loop (``Runner.run`` on one keep-alive connection), the baseline;
   * ``embedded``: ``misp-workflow serve`` (one process, the SQLite queue and history, 1 and 2
     worker threads);
   * ``redis-1``, ``redis-2``: ``serve --role worker`` processes on a real redis-server (AOF,
     ``appendfsync always``), 1 or 2 of them, one worker thread each.

   The N tasks are put on the queue first (through the service's own backend, as the ingester
   puts them), then the workers start; throughput = N / (last run's end - first run's start),
   from the history. Every run is checked: N rows, N distinct ids, all ``success``.
2. **Intake-to-done latency** at ``--rate`` events/s for ``--seconds``: a ZeroMQ publisher in
   MISP's format feeds the embedded service; per run, ``finished_at - enqueued_at`` (the
   ingester stamps a task when the message arrives); p50 / p99.
3. **Recovery after a worker SIGKILL**: two Redis workers under a steady feed of runs; one is
   SIGKILLed; time from the kill until the run it held is finished by the other worker (the
   lease, 5 s here, plus the run), and a check that no run is lost or doubled.

Targets (issue 17): embedded >= 0.8x bare; 2 Redis workers >= 1.6x bare; p99 < 50 ms at 100
events/s; zero lost or duplicated runs in every fault run. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "runner"))

import orjson  # noqa: E402
from events import make_event  # noqa: E402

from misp_modules.contract.client import ModuleClient  # noqa: E402
from runner.catalog import Catalog  # noqa: E402
from runner.engine import Runner, RunOptions  # noqa: E402
from runner.loader import load_workflow  # noqa: E402
from runner.service.backend_redis import RedisBackend  # noqa: E402
from runner.service.backend_sqlite import SqliteBackend  # noqa: E402
from runner.service.tasks import Task  # noqa: E402
from tests.support.data import PAP_TLP_BLUEPRINT  # noqa: E402
from tests.support.feed import FeedPublisher  # noqa: E402
from tests.support.harness import ModuleServer, to_toml  # noqa: E402
from tests.support.service import TOKEN, RedisServer, ServiceProcess  # noqa: E402

TRIGGER = "event-after-save"


def events(n: int, base: dict) -> list[bytes]:
    out = []
    for i in range(n):
        event = dict(base["Event"], id=str(10_000 + i), uuid=f"00000000-0000-4000-8000-{i:012d}",
                     timestamp=str(1_700_000_000 + i))
        out.append(orjson.dumps({"Event": event, "action": "edit"}))
    return out


def workflow_file(folder: Path) -> None:
    wf = load_workflow(PAP_TLP_BLUEPRINT, TRIGGER)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paptlp.json").write_text(json.dumps({"Workflow": {"id": 1, "name": "PAP/TLP", "trigger_id": TRIGGER,
                                                                 "data": wf.graph}}))


def config(root: Path, modules_url: str, **queue: Any) -> Path:
    data = {"service": {"workflows": "workflows", "modules_url": modules_url, "workers": 1, "reload_check": 5},
            "queue": {"backend": "sqlite", "path": "state/queue.db", "poll": 0.05, **queue},
            "history": {"url": "state/history.db"}, "api": {"tokens": [TOKEN], "port": 0},
            "guard": {"max_runs_per_event": 1_000_000}}
    path = root / "automation.toml"
    path.write_text(to_toml(data))
    return path


def history_rows(root: Path) -> list[tuple]:
    db = sqlite3.connect(root / "state" / "history.db")
    try:
        return db.execute("SELECT id, outcome, enqueued_at, started_at, finished_at, attempts FROM runs").fetchall()
    finally:
        db.close()


def wait_rows(root: Path, n: int, timeout: float = 600) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows = history_rows(root)
        except sqlite3.OperationalError:
            rows = []
        if len(rows) >= n:
            return rows
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(rows)} of {n} runs finished within {timeout}s")
        time.sleep(0.05)


def check(rows: list[tuple], ids: list[str], label: str) -> dict[str, Any]:
    got = [r[0] for r in rows]
    lost, doubled = len(set(ids) - set(got)), len(got) - len(set(got))
    bad = [r[1] for r in rows if r[1] != "success"]
    if lost or doubled or bad:
        print(f"  {label}: LOST {lost}, DOUBLED {doubled}, not success {len(bad)}", flush=True)
    return {"runs": len(got), "lost": lost, "doubled": doubled, "failed": len(bad)}


def bare(url: str, messages: list[bytes]) -> float:
    client = ModuleClient(url, timeout=60)
    catalog = Catalog.from_modules(client.modules())
    runner = Runner(catalog, client, RunOptions(dry_run=True, pause_collector=True))
    workflow = load_workflow(PAP_TLP_BLUEPRINT, TRIGGER)
    for raw in messages[:20]:
        runner.run(workflow, orjson.loads(raw), TRIGGER)
    started = time.perf_counter()
    for raw in messages:
        result = runner.run(workflow, orjson.loads(raw), TRIGGER)
        assert result.outcome == "success"
    elapsed = time.perf_counter() - started
    client.close()
    return len(messages) / elapsed


def preload(backend: Any, messages: list[bytes]) -> list[str]:
    ids = []
    for raw in messages:
        event = orjson.loads(raw)["Event"]
        task = Task(workflow="paptlp", source="feed", key=f"event:{event['id']}", trigger=TRIGGER, data=raw,
                    feed={"topic": "misp_json_event", "uuid": event["uuid"], "timestamp": float(event["timestamp"]),
                          "event_id": event["id"]})
        backend.put(task)
        ids.append(task.id)
    return ids


def throughput(rows: list[tuple]) -> float:
    first = min(r[3] for r in rows)
    last = max(r[4] for r in rows)
    return len(rows) / (last - first)


def embedded(url: str, messages: list[bytes], threads: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="bench-svc-") as tmp:
        root = Path(tmp)
        workflow_file(root / "workflows")
        path = config(root, url)
        backend = SqliteBackend(root / "state" / "queue.db")
        ids = preload(backend, messages)
        backend.close()
        with ServiceProcess(path, "--workers", str(threads)):
            rows = wait_rows(root, len(ids))
        return throughput(rows), check(rows, ids, f"embedded x{threads}")


def redis_workers(url: str, messages: list[bytes], processes: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="bench-svc-") as tmp, RedisServer() as server:
        root = Path(tmp)
        workflow_file(root / "workflows")
        path = config(root, url, backend="redis", url=server.url)
        backend = RedisBackend(server.url)
        ids = preload(backend, messages)
        backend.close()
        intake = ServiceProcess(path, "--role", "intake")  # owns the history: the workers relay to it
        workers = [ServiceProcess(path, "--role", "worker", "--workers", "1", wait_ready=False)
                   for _ in range(processes)]
        try:
            for worker in workers:
                worker.wait_ready()
            rows = wait_rows(root, len(ids))
        finally:
            for worker in workers:
                worker.stop()
            intake.stop()
        return throughput(rows), check(rows, ids, f"redis x{processes}")


def latency(url: str, base: dict, rate: float, seconds: float) -> dict[str, Any]:
    n = int(rate * seconds)
    messages = events(n, base)
    with tempfile.TemporaryDirectory(prefix="bench-svc-") as tmp, FeedPublisher() as feed:
        root = Path(tmp)
        workflow_file(root / "workflows")
        path = config(root, url)
        text = path.read_text() + f'\n[feed]\nurl = "{feed.url}"\ntopics = ["misp_json_event"]\n'
        path.write_text(text)
        with ServiceProcess(path, "--workers", "2"):
            feed.wait_subscribed(("misp_json_event",))
            started = time.perf_counter()
            for i, raw in enumerate(messages):
                due = started + i / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                feed.publish("misp_json_event", raw)
            rows = wait_rows(root, n)
    waits = sorted((r[4] - r[2]) * 1000 for r in rows)
    q = statistics.quantiles(waits, n=100)
    return {"events": n, "rate": rate, "p50_ms": round(statistics.median(waits), 2), "p90_ms": round(q[89], 2),
            "p99_ms": round(q[98], 2), "max_ms": round(waits[-1], 2), **check(rows, [r[0] for r in rows], "latency")}


def recovery(url: str, base: dict, lease: float = 5.0) -> dict[str, Any]:
    gate_events = events(3000, base)
    with tempfile.TemporaryDirectory(prefix="bench-svc-") as tmp, RedisServer() as server:
        root = Path(tmp)
        workflow_file(root / "workflows")
        path = config(root, url, backend="redis", url=server.url, lease=lease)
        backend = RedisBackend(server.url, lease=lease)
        intake = ServiceProcess(path, "--role", "intake")
        workers = [ServiceProcess(path, "--role", "worker", "--workers", "1") for _ in range(2)]
        ids = []
        try:
            ids += preload(backend, gate_events[:2000])
            wait_rows(root, 100)
            victim = workers[0]
            killed_at = time.time()
            victim.kill()  # mid-stream: it holds the run it was on
            ids += preload(backend, gate_events[2000:])
            rows = wait_rows(root, len(ids))
            redelivered = [r for r in rows if r[5] > 1]  # delivered twice: the victim's run
            recovered = max((r[4] - killed_at for r in redelivered), default=None)
        finally:
            for worker in workers:
                worker.stop()
            intake.stop()
            backend.close()
    result = {"lease_s": lease, "redelivered": len(redelivered),
              "recovery_s": round(recovered, 3) if recovered is not None else None,
              **check(rows, ids, "recovery")}
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=600)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    base = make_event(100)
    messages = events(args.runs, base)
    out: dict[str, Any] = {"runs": args.runs, "cpus": os.cpu_count()}
    with ModuleServer() as modules:
        url = modules.url
        bare_rate = bare(url, messages)
        out["bare_runs_per_s"] = round(bare_rate, 1)
        print(f"bare runner: {bare_rate:.0f} runs/s", flush=True)
        for label, fn, arg in (("embedded-1", embedded, 1), ("embedded-2", embedded, 2),
                               ("redis-1", redis_workers, 1), ("redis-2", redis_workers, 2)):
            rate, checked = fn(url, messages, arg)
            out[label] = {"runs_per_s": round(rate, 1), "ratio": round(rate / bare_rate, 2), **checked}
            print(f"{label}: {rate:.0f} runs/s = {rate / bare_rate:.2f}x bare; {checked}", flush=True)
        out["latency"] = latency(url, base, args.rate, args.seconds)
        print(f"intake-to-done at {args.rate:g}/s: {out['latency']}", flush=True)
        out["recovery"] = recovery(url, base)
        print(f"recovery after a worker SIGKILL: {out['recovery']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
