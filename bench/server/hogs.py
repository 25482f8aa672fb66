"""``/modules`` and ``/healthcheck`` latency while a misbehaving query runs (issue #13).

    python3 bench/server/hogs.py [--duration 8] [--hogs regex,bigint,...] [--check]

Starts this server with the tests' hog modules (``-c tests/support/trees/hogs``: a catastrophic
regex, big-integer squaring, a pure-Python spin, ``os._exit``, a 50 MB-per-call leak, an async
handler calling ``time.sleep``) and the built-in template renderers; for each hog, two client
threads send its query back to back for ``--duration`` seconds while the main thread asks
``/modules`` and ``/healthcheck`` in turn on a new connection each time (as MISP's curl does).
Prints p50 / p99 / max per endpoint and hog; ``--check`` exits 1 when a ``/modules`` p99 is at
or above the target (50 ms). Raw numbers go to ``bench/results/`` (gitignored).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RESULTS = REPO / "bench" / "results"
HOG_TREE = REPO / "tests" / "support" / "trees" / "hogs"
TARGET_MS = 50.0

NESTED = ("{% set l = range(1000)|list %}{% for a in l %}{% for b in l %}{% for c in l %}{% endfor %}"
          "{% endfor %}{% endfor %}")
FAN_OUT = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"
BIG_SQUARE = "{% set ns = namespace(x=3**63000) %}{% for i in range(9) %}{% set ns.x = ns.x * ns.x %}{% endfor %}"


def template(text: str) -> dict:
    return {"module": "jinja_template_rendering", "text": json.dumps({"template": text, "data": {}})}


HOGS = {
    "none": None,
    "regex": {"module": "hog", "mode": "regex"},
    "bigint": {"module": "hog", "mode": "bigint"},
    "spin": {"module": "hog", "mode": "spin"},
    "os_exit": {"module": "hog", "mode": "exit"},
    "leak": {"module": "hog", "mode": "leak", "mb": 50},
    "async_blocking": {"module": "async_blocker", "hold": 2},
    "template_bigint": template(BIG_SQUARE),
    "template_loops": template(NESTED),
    "template_macros": template(FAN_OUT),
    "async_template": {"module": "telegram", "data": {},
                       "params": {"bot_token": "1:x", "chat_id": "1", "message_template": NESTED}},
}
CONFIG = """
[server]
template_cpu_seconds = 2
shutdown_grace = 1
[modules.hog]
timeout = 2
concurrency = 2
memory_limit = 300
[modules.async_blocker]
timeout = 3
[modules.jinja_template_rendering]
timeout = 5
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    finally:
        conn.close()
    return 1000 * (time.perf_counter() - started)


def hammer(port: int, payload: dict, stop: threading.Event, done: list[int]) -> None:
    body = json.dumps(payload).encode()
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/query", body, {"Content-Type": "application/json"})
            conn.getresponse().read()
            done[0] += 1
        except OSError:
            pass
        finally:
            conn.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def measure(port: int, payload: dict | None, duration: float) -> dict:
    stop, done = threading.Event(), [0]
    threads = [threading.Thread(target=hammer, args=(port, payload, stop, done)) for _ in range(2 if payload else 0)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the hog is running
    samples: dict[str, list[float]] = {"/modules": [], "/healthcheck": []}
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        for path in samples:
            samples[path].append(get(port, path))
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join(60)
    row = {"hog_queries": done[0]}
    for path, values in samples.items():
        row[path] = {"n": len(values), "p50": statistics.median(values), "p99": percentile(values, 99),
                     "max": max(values)}
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of sampling per hog (default 8)")
    parser.add_argument("--hogs", default=",".join(HOGS), help="which hogs (default: all)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a /modules p99 misses the target")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(CONFIG)
    port = free_port()
    log = open(RESULTS / f"{stamp}-hogs.log", "w")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "misp_modules", "-l", "127.0.0.1", "-p", str(port), "-c",
                             str(HOG_TREE), "--config", config.name], cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    results = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(port, "/healthcheck")
                break
            except (OSError, RuntimeError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)
        for name in args.hogs.split(","):
            results[name] = measure(port, HOGS[name], args.duration)
            row = results[name]
            print(f"{name:16} hog queries {row['hog_queries']:5}   " + "   ".join(
                f"{path} p50 {row[path]['p50']:6.1f} p99 {row[path]['p99']:6.1f} max {row[path]['max']:7.1f} ms"
                for path in ("/modules", "/healthcheck")), flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
        os.unlink(config.name)
    out = RESULTS / f"{stamp}-hogs.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nraw results: {out}")
    missed = [name for name, row in results.items() if row["/modules"]["p99"] >= TARGET_MS]
    if missed:
        print(f"/modules p99 at or above {TARGET_MS:g} ms during: {', '.join(missed)}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
