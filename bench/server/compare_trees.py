"""This server against the same server from another tree (a previous commit), in the same run.

    git worktree add /tmp/base main   # or: mkdir /tmp/base && git archive main | tar -x -C /tmp/base
    python3 bench/server/compare_trees.py /tmp/base [--rounds 2] [--duration 6] [--connections 32]

Starts each tree's ``misp-modules`` (one process, the benchmark module in threads) in turn,
alternating which goes first in each round (the box drifts: what runs first is favoured), and
drives it with ``wrk`` as ``bench/server/run.py`` does (its ``measure()``). Prints each run, then
the ratio this tree / baseline of the medians of ``/query`` requests/s, server CPU per query and
p99 latency. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402 - bench/server/run.py: measure(), wrk(), the CPU accounting

THIS = HERE.parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="the other tree (a checkout of the commit to compare with)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=6, help="seconds per load phase (default 6)")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    trees = {"this": THIS, "baseline": args.baseline.resolve()}
    if not (trees["baseline"] / "misp_modules").is_dir():
        parser.error(f"{args.baseline} holds no misp_modules package")
    work = Path(tempfile.mkdtemp(prefix="compare-trees-"))
    script = work / "query.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = {json.dumps(json.dumps(run.BODY))}\n")
    config = work / "thread.toml"
    config.write_text('[modules.bench_action]\nisolation = "thread"\n')
    results: dict[str, list] = {"this": [], "baseline": []}
    for rnd in range(args.rounds):
        for name in (("this", "baseline") if rnd % 2 == 0 else ("baseline", "this")):
            tree = trees[name]
            run.REPO = tree  # measure() starts the server from its tree (python -m: the tree comes first)
            env = dict(os.environ, PYTHONPATH=str(tree))
            env.pop("MISP_MODULES_CONFIG", None)
            port = run.free_port()
            command = [sys.executable, "-m", "misp_modules", "-l", "127.0.0.1", "-p", str(port),
                       "-c", str(tree / "bench" / "server" / "modules"), "--workers", "1", "--config", str(config)]
            r = run.measure(f"{name} #{rnd + 1}", command, port, env, args, str(script), work / f"{name}-{rnd}.log")
            results[name].append(r)
            print(f"{r.name:12} {r.query_rps:8.0f} req/s  {r.query_cpu_us:6.1f} us CPU/query  p99 {r.query_p99_ms:5.2f} ms  "
                  f"(other work on the box: {r.other_cores:.2f} cores)", flush=True)
    for label, attr in (("/query requests/s", "query_rps"), ("server CPU us per /query", "query_cpu_us"),
                        ("/query p99 ms", "query_p99_ms")):
        this = statistics.median(getattr(r, attr) for r in results["this"])
        base = statistics.median(getattr(r, attr) for r in results["baseline"])
        print(f"{label:26} this {this:9.1f}  baseline {base:9.1f}  ratio {this / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
