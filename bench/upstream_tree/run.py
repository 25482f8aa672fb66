"""Upstream's whole module tree: this server against upstream's own server, same tree, same run.

    python3 bench/upstream_tree/run.py [--rounds 5] [--duration 5] [--connections 32]

Builds ``bench/.venv-upstream-all`` on first use: upstream ``misp-modules[all]`` (pinned) from
PyPI, which needs system packages for a few of its requirements (Debian/Ubuntu:
``apt-get install libpoppler-cpp-dev pkg-config g++ libzbar0``), then this project's own
requirements (not this package: both are called ``misp_modules``). Both servers then run on that
one venv, so every module sees the same third-party packages:

* upstream: ``misp-modules`` as installed, serving its package's tree;
* ours: ``python -m misp_modules`` from this checkout (``PYTHONPATH``), with ``--upstream`` on the
  installed upstream package directory; ``--workers 1`` and ``--workers 2``.

Prints, as medians over ``--rounds`` alternating starts: startup time to the first answered
``/healthcheck``, peak RSS (VmHWM summed over the server's processes) after startup and after a
``/query`` load on upstream's ``testaction`` module (``wrk``: ``apt-get install wrk``), PSS, the
``/query`` rate, and how many of upstream's modules each server serves. Raw numbers go to
``bench/results/`` (gitignored). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "bench" / "server"))
from run import free_port, healthy, peak_rss_mb, pss_mb, wrk  # noqa: E402  (bench/server/run.py)

VENV = REPO / "bench" / ".venv-upstream-all"
RESULTS = REPO / "bench" / "results"
UPSTREAM_VERSION = "3.1.1"
QUERY = {"module": "testaction", "data": {"Event": {"info": "benchmark", "Attribute": []}}, "params": {}}
SERVED = re.compile(r"(?:UPSTREAM )?MISP module (\S+) \(type=(\w+)\) imported")


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    if (VENV / "bin" / "misp-modules").exists() and (VENV / ".ours-requirements").exists():
        return
    print(f"building {VENV}: misp-modules[all]=={UPSTREAM_VERSION}, then this project's requirements ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python()), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, f"misp-modules[all]=={UPSTREAM_VERSION}"], check=True)
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    ours = [line.strip() for line in setup["options"]["install_requires"].splitlines() if line.strip()]
    subprocess.run([*pip, *ours], check=True)
    (VENV / ".ours-requirements").write_text("\n".join(ours) + "\n")


def upstream_package() -> Path:
    found = subprocess.run([str(python()), "-I", "-c", "import misp_modules, os; print(os.path.dirname(misp_modules.__file__))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return Path(found)


def start_and_measure(name: str, command: list[str], env: dict, port: int, log: Path, load: bool,
                      args) -> dict:
    with open(log, "w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            while not healthy(port):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited during startup; see {log}")
                if time.perf_counter() - started > 120:
                    raise RuntimeError(f"{name} not healthy after 120 s; see {log}")
                time.sleep(0.005)
            result = {"startup_s": time.perf_counter() - started}
            time.sleep(0.5)  # let --workers children settle before reading their RSS
            result["rss_startup_mb"] = peak_rss_mb(proc.pid)
            if load:
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
                    lua.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                              f"wrk.body = {json.dumps(json.dumps(QUERY))}\n")
                url = f"http://127.0.0.1:{port}/query"
                wrk(url, lua.name, 1, args.connections)
                result["query_rps"] = wrk(url, lua.name, args.duration, args.connections)["rps"]
                os.unlink(lua.name)
                result["rss_peak_mb"] = peak_rss_mb(proc.pid)
                result["pss_mb"] = pss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text()
    result["served"] = sorted({f"{t}/{n}" for n, t in SERVED.findall(text)})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="starts per server (default 5); medians are printed")
    parser.add_argument("--duration", type=int, default=5, help="seconds of /query load per round (default 5)")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    ensure_venv()
    tree = upstream_package()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MISP_MODULES")}
    env_upstream = {k: v for k, v in clean.items() if k != "PYTHONPATH"}
    env_ours = dict(clean, PYTHONPATH=str(REPO))
    configs = {
        "upstream": ([str(VENV / "bin" / "misp-modules"), "-l", "127.0.0.1"], env_upstream),
        "ours --workers 1": ([str(python()), "-m", "misp_modules", "-l", "127.0.0.1", "--upstream", str(tree)], env_ours),
        "ours --workers 2": ([str(python()), "-m", "misp_modules", "-l", "127.0.0.1", "--upstream", str(tree),
                              "--workers", "2"], env_ours),
    }
    rounds: dict[str, list[dict]] = {name: [] for name in configs}
    for index in range(args.rounds):
        order = list(configs) if index % 2 == 0 else list(reversed(configs))
        for name in order:
            command, env = configs[name]
            log = RESULTS / f"{stamp}-tree-{name.replace(' ', '').replace('-', '')}-{index}.log"
            for attempt in range(3):  # free_port() can race with other programs binding ports
                port = free_port()
                try:
                    rounds[name].append(start_and_measure(name, [*command, "-p", str(port)], env, port, log, True,
                                                          args))
                    break
                except RuntimeError:
                    if attempt == 2 or "already in use" not in log.read_text():
                        raise
            print(f"round {index + 1} {name}: {rounds[name][-1]['startup_s']:.2f}s", flush=True)
    base = rounds["upstream"]
    upstream_served = set(base[0]["served"])
    ours_served = set(rounds["ours --workers 1"][0]["served"])
    print(f"\nupstream misp-modules {UPSTREAM_VERSION} [all] tree {tree}, {os.cpu_count()} CPUs, "
          f"{args.rounds} rounds (medians), /query on testaction at {args.connections} connections\n")
    print(f"modules upstream serves from its tree: {len(upstream_served)}; ours serves {len(ours_served)} in all "
          f"(built-ins included); upstream's not served here: {sorted(upstream_served - ours_served) or 'none'}\n")
    metrics = [("startup s (to /healthcheck)", "startup_s"), ("peak RSS MB after startup", "rss_startup_mb"),
               ("peak RSS MB after /query load", "rss_peak_mb"), ("PSS MB after load", "pss_mb"),
               ("/query requests/s", "query_rps")]
    print(f"{'metric':34}{'upstream':>12}" + "".join(f"{n:>20}{'ratio':>8}" for n in list(configs)[1:]))
    summary = {}
    for label, key in metrics:
        theirs = statistics.median(r[key] for r in base)
        line = f"{label:34}{theirs:>12.2f}"
        for name in list(configs)[1:]:
            ours = statistics.median(r[key] for r in rounds[name])
            summary.setdefault(name, {})[key] = ours
            line += f"{ours:>20.2f}{ours / theirs:>7.2f}x"
        summary.setdefault("upstream", {})[key] = theirs
        print(line)
    out = RESULTS / f"{stamp}-upstream-tree.json"
    out.write_text(json.dumps({"rounds": rounds, "medians": summary}, indent=2))
    print(f"\nraw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
