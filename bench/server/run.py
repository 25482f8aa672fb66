"""Benchmark this server against upstream misp-modules, in the same run, on loopback.

    python3 bench/server/run.py [--duration 10] [--connections 32] [--workers 1,2] [--isolation thread,process]

Installs upstream ``misp-modules`` (pinned) from PyPI into ``bench/.venv-upstream`` on first
use, starts each server with the same trivial action module (``-c bench/server/modules``) and
drives them with the same load generator (``wrk``; ``apt-get install wrk``). Prints, for each
configuration of ours, the ratio to upstream of: ``/query`` requests/s, p50 and p99 latency at
N connections; the servers' CPU time per ``/query`` (the figure least disturbed by other load on
the machine), and how the machine's cores were shared meanwhile (server, wrk, everything else:
other work on a shared box lowers a 2-process server's throughput more than a 1-process one's);
``/modules`` p99 latency while ``/query`` is loaded (new connection per call,
as MISP's curl does); startup time to the first answered ``/healthcheck``; peak RSS. Ours runs
the module both ways: in threads (``isolation = "thread"``, what this project's built-ins do)
and in worker processes (``isolation = "process"``, the default for ``-c`` and upstream's tree).
Raw numbers go to ``bench/results/`` (gitignored). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENV = REPO / "bench" / ".venv-upstream"
RESULTS = REPO / "bench" / "results"
MODULES = HERE / "modules"
UPSTREAM_VERSION = "3.1.1"
BODY = {"module": "bench_action", "data": {"Event": {"info": "benchmark", "Attribute": []}}, "params": {"message": ""}}


@dataclass
class Result:
    name: str
    startup_s: float = 0.0
    query_rps: float = 0.0
    query_p50_ms: float = 0.0
    query_p99_ms: float = 0.0
    query_cpu_us: float = 0.0
    server_cores: float = 0.0  # CPU the server used during the /query phase, in cores
    wrk_cores: float = 0.0  # the load generator's share of the same 2 cores
    other_cores: float = 0.0  # everything else on the machine meanwhile (other work, kernel)
    modules_p50_ms: float = 0.0
    modules_p99_ms: float = 0.0
    modules_max_ms: float = 0.0
    modules_errors: int = 0
    peak_rss_mb: float = 0.0
    pss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def ensure_upstream() -> Path:
    exe = VENV / "bin" / "misp-modules"
    if not exe.exists():
        print(f"installing misp-modules=={UPSTREAM_VERSION} into {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"misp-modules=={UPSTREAM_VERSION}"], check=True)
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/healthcheck")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def peak_rss_mb(pid: int) -> float:
    """Sum of VmHWM (peak resident set) of the server process and its children."""
    import psutil

    total = 0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size now (pages shared by forked workers counted once), summed."""
    import psutil

    total = 0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except (psutil.Error, AttributeError):
            continue
    return total / (1024 * 1024)


def wrk(url: str, script: str | None, duration: int, connections: int) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx answers under load:\n{out}")
    return {"rps": rps, "p50": latency("50"), "p99": latency("99"), "requests": requests}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process and its children (worker processes)."""
    import psutil

    total = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def children_cpu() -> float:
    """CPU time of this script's finished children: the wrk runs."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def box_cpu() -> float:
    """CPU seconds the whole machine spent busy (all cores, everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def modules_latency(port: int, seconds: float) -> tuple[list[float], int]:
    """GET /modules every 20 ms on a new connection each time, like MISP; latencies in ms."""
    latencies, errors = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/modules")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status != 200:
                errors += 1
        except OSError:
            errors += 1
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(max(0.0, 0.02 - (time.perf_counter() - started)))
    return latencies, errors


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def measure(name: str, command: list[str], port: int, env: dict, args, script: str, log: Path) -> Result:
    result = Result(name)
    with open(log, "w") as log_file:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            while not healthy(port):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited during startup; see {log}")
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"{name} not healthy after 60 s; see {log}")
                time.sleep(0.005)
            result.startup_s = time.perf_counter() - started
            url = f"http://127.0.0.1:{port}/query"
            wrk(url, script, 2, args.connections)  # warm up
            cpu_before, wrk_before, box_before = cpu_seconds(proc.pid), children_cpu(), box_cpu()
            wall = time.perf_counter()
            q = wrk(url, script, args.duration, args.connections)
            wall = time.perf_counter() - wall
            server_cpu, wrk_cpu = cpu_seconds(proc.pid) - cpu_before, children_cpu() - wrk_before
            result.query_cpu_us = 1e6 * server_cpu / q["requests"]
            result.server_cores, result.wrk_cores = server_cpu / wall, wrk_cpu / wall
            result.other_cores = max(0.0, (box_cpu() - box_before) / wall - result.server_cores - result.wrk_cores)
            result.query_rps, result.query_p50_ms, result.query_p99_ms = q["rps"], q["p50"], q["p99"]
            # /modules while /query is saturated
            loader = threading.Thread(target=wrk, args=(url, script, args.duration, args.connections))
            loader.start()
            time.sleep(1)
            lat, result.modules_errors = modules_latency(port, args.duration - 2)
            loader.join()
            result.modules_p50_ms = statistics.median(lat)
            result.modules_p99_ms = percentile(lat, 99)
            result.modules_max_ms = max(lat)
            result.peak_rss_mb = peak_rss_mb(proc.pid)
            result.pss_mb = pss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load phase (default 10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="our --workers values to compare (default 1,2)")
    parser.add_argument("--isolation", default="thread,process",
                        help="isolation modes of the benchmark module on our side (default thread,process)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    upstream = ensure_upstream()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                  f"wrk.body = {json.dumps(json.dumps(BODY))}\n")
    env_ours = dict(os.environ, PYTHONPATH=str(REPO))
    env_ours.pop("MISP_MODULES_CONFIG", None)
    runs = []
    port = free_port()
    runs.append(measure("upstream", [str(upstream), "-l", "127.0.0.1", "-p", str(port), "-c", str(MODULES)],
                        port, dict(os.environ), args, lua.name, RESULTS / f"{stamp}-upstream.log"))
    for mode in args.isolation.split(","):
        config = RESULTS / f"{stamp}-{mode}.toml"
        config.write_text(f'[modules.bench_action]\nisolation = "{mode}"\n')
        for workers in [int(w) for w in args.workers.split(",")]:
            port = free_port()
            runs.append(measure(f"ours w{workers} {mode}",
                                [sys.executable, "-m", "misp_modules", "-l", "127.0.0.1", "-p", str(port),
                                 "-c", str(MODULES), "--workers", str(workers), "--config", str(config)],
                                port, env_ours, args, lua.name, RESULTS / f"{stamp}-ours-w{workers}-{mode}.log"))
    os.unlink(lua.name)
    base = runs[0]
    rows = [("/query requests/s", "query_rps", True), ("/query p50 ms", "query_p50_ms", False),
            ("/query p99 ms", "query_p99_ms", False),
            ("server CPU us per /query", "query_cpu_us", False),
            ("cores: server during /query", "server_cores", False), ("cores: wrk during /query", "wrk_cores", False),
            ("cores: other work on the box", "other_cores", False),
            ("/modules p99 ms under load", "modules_p99_ms", False),
            ("/modules max ms under load", "modules_max_ms", False), ("startup s (to /healthcheck)", "startup_s", False),
            ("peak RSS MB (sum of processes)", "peak_rss_mb", False),
            ("PSS MB after load (shared once)", "pss_mb", False)]
    print(f"\n{args.connections} connections, {args.duration}s per phase, {os.cpu_count()} CPUs, "
          f"upstream misp-modules {UPSTREAM_VERSION}\n")
    header = f"{'metric':32}{'upstream':>12}" + "".join(f"{r.name:>18}{'ratio':>8}" for r in runs[1:])
    print(header)
    for label, key, _higher in rows:
        line = f"{label:32}{getattr(base, key):>12.2f}"
        for run in runs[1:]:
            ours, theirs = getattr(run, key), getattr(base, key)
            line += f"{ours:>18.2f}{(ours / theirs if theirs else float('nan')):>7.2f}x"
        print(line)
    errors = {r.name: r.modules_errors for r in runs if r.modules_errors}
    if errors:
        print(f"\n/modules errors under load: {errors}")
    out = RESULTS / f"{stamp}-server.json"
    out.write_text(json.dumps([asdict(r) for r in runs], indent=2))
    print(f"\nraw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
