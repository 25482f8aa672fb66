"""How the runner's costs grow with the graph and with the event (issue 14).

Graphs of real logic nodes on the real module server (``generic-if``, true on every event, so
every node runs), on a small event (PyMISP's 9-attribute ransomware event):

* ``chain``: the trigger, then n IF nodes one after the other (paths n deep);
* ``fanout``: an IF node whose ``then`` connects to n-1 IF nodes (MISP walks every connection);
* ``diamond``: an IF node forking to k IF nodes that all join one IF node, which therefore runs
  k times (n = 2k + 1 executions).

For each shape and size: the run in this process (best of ``--repeat``: milliseconds per node
execution for the walk, the text tree and the ``--json`` document, and the document's bytes per
node), then ``misp-workflow run`` in a subprocess, text and ``--json``, for its peak RSS.

Then one large event (``--big-mb``, default 200 MB, grown from PyMISP's ``long_event.json``) through
the PAP/TLP blocking blueprint (one ``tag-if``), text and ``--json``: the subprocess's peak RSS
against the event file's size. The module server's ``max_body_size`` is raised for it (the
request carries the roaming data, about 2.9x the event: MISP's core format lists every attribute
twice).

Targets (ratios measured in the same run): per-node cost flat from the smallest to the largest
size (at most 1.5x), ``--json`` bytes per node flat (linear size, at most 1.5x), peak RSS at
most 3x the event's size. ``--check`` exits 1 when one is missed.

    python3 bench/runner/bench_scale.py [--sizes 100,1000,5000] [--repeat 3] [--big-mb 200] [--json OUT] [--check]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402
from events import make_event  # noqa: E402

from misp_modules.contract.client import ModuleClient  # noqa: E402
from runner.catalog import Catalog  # noqa: E402
from runner.engine import Runner, RunOptions  # noqa: E402
from runner.loader import workflow_from_document  # noqa: E402
from runner.report import text, write_document  # noqa: E402
from tests.support import graphs as G  # noqa: E402
from tests.support.data import EVENTS, PAP_TLP_BLUEPRINT  # noqa: E402
from tests.support.harness import ModuleServer, server_env  # noqa: E402

TRUE_IF = {"hash_path": "Event.info", "operator": "any_value"}
SMALL_EVENT = EVENTS / "57c4445b-c548-4654-af0b-4be3950d210f.json"


def chain(n: int) -> list[dict]:
    return [G.trigger(1, "event-publish", [2])] + [
        G.logic_if(i, "generic-if", then=[i + 1] if i < n + 1 else [], params=TRUE_IF) for i in range(2, n + 2)]


def fanout(n: int) -> list[dict]:
    hub = G.logic_if(2, "generic-if", then=list(range(3, n + 2)), params=TRUE_IF)
    hub["data"]["multiple_output_connection"] = True
    return [G.trigger(1, "event-publish", [2]), hub] + [G.logic_if(i, "generic-if", params=TRUE_IF)
                                                         for i in range(3, n + 2)]


def diamond(n: int) -> list[dict]:
    k = max(1, (n - 1) // 2)
    join = k + 3
    hub = G.logic_if(2, "generic-if", then=list(range(3, k + 3)), params=TRUE_IF)
    hub["data"]["multiple_output_connection"] = True
    middle = [G.logic_if(i, "generic-if", then=[join], params=TRUE_IF) for i in range(3, k + 3)]
    return [G.trigger(1, "event-publish", [2]), hub, *middle, G.logic_if(join, "generic-if", params=TRUE_IF)]


SHAPES = {"chain": chain, "fanout": fanout, "diamond": diamond}


# The child reports its own high-water mark (VmHWM, reset by exec): the rusage of a child counts
# the parent's pages it was forked with, and this process holds graphs and a large event.
_CHILD = ("import atexit, sys\n"
          "def hwm():\n"
          "    line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM'))\n"
          "    sys.stderr.write('VMHWM ' + line.split()[1] + '\\n')\n"
          "atexit.register(hwm)\n"
          "from runner.cli import main\n"
          "sys.exit(main(sys.argv[1:]))\n")


def peak_rss(args: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """``misp-workflow ARGS`` in a subprocess: (its peak RSS in MB, exit code, seconds)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"misp-workflow {' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}")
    kb = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("VMHWM "))
    return kb / 1024, done.returncode, seconds


def in_process(client: ModuleClient, catalog: Catalog, nodes: list[dict], event: dict, repeat: int) -> dict[str, Any]:
    """Best of ``repeat``: the run, the text tree and the --json document, per node execution."""
    wf = workflow_from_document(G.workflow(nodes), "bench.json")
    best: dict[str, Any] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = Runner(catalog, client, RunOptions(max_executions=10**6, pause_collector=True)).run(wf, event)
        t1 = time.perf_counter()
        tree = text(result)
        t2 = time.perf_counter()
        out = io.BytesIO()
        write_document(result, out)
        t3 = time.perf_counter()
        executions = len(result.walk.trace)
        sample = {"executions": executions, "walk_ms": (t1 - t0) * 1000 / executions,
                  "text_ms": (t2 - t1) * 1000 / executions, "json_ms": (t3 - t2) * 1000 / executions,
                  "json_bytes": len(out.getvalue()) / executions, "text_bytes": len(tree) / executions}
        for key, value in sample.items():
            best[key] = value if key in ("executions", "json_bytes", "text_bytes") else min(best.get(key, value), value)
        assert result.outcome == "success", result.message
    return best


def graph_rows(server: ModuleServer, sizes: list[int], repeat: int, tmp: Path, env: dict[str, str]) -> list[dict]:
    client = ModuleClient(server.url, timeout=60)
    catalog = Catalog.from_modules(client.modules())
    event = json.loads(SMALL_EVENT.read_text())
    data = tmp / "small-event.json"
    data.write_text(json.dumps(event))
    rows = []
    for shape, build in SHAPES.items():
        for n in sizes:
            nodes = build(n)
            row = {"shape": shape, "size": n, **in_process(client, catalog, nodes, event, repeat)}
            path = tmp / f"{shape}-{n}.json"
            path.write_text(json.dumps(G.workflow(nodes)))
            base = ["run", str(path), "--data", str(data), "--modules-url", server.url, "--max-executions", "1000000"]
            row["rss_text_mb"], _, row["cli_text_s"] = peak_rss(base, env)
            row["rss_json_mb"], _, row["cli_json_s"] = peak_rss(base + ["--json"], env)
            rows.append(row)
            print(f"  {shape:8} {n:>6} nodes: {row['executions']:>6} executions, walk {row['walk_ms']:.3f} ms/node, "
                  f"text {row['text_ms']:.4f}, json {row['json_ms']:.4f} ms/node, {row['json_bytes']:.0f} B/node; "
                  f"peak RSS {row['rss_text_mb']:.0f} MB text, {row['rss_json_mb']:.0f} MB --json", flush=True)
    client.close()
    return rows


def big_rows(megabytes: float, tmp: Path, env: dict[str, str]) -> list[dict]:
    attributes = int(megabytes * 1e6 / 455)  # ~455 bytes per attribute of long_event.json
    path = tmp / "big-event.json"
    path.write_bytes(orjson.dumps(make_event(attributes)))
    size_mb = path.stat().st_size / 1e6
    limit = int(size_mb * 1e6 * 4) + 64 * 1024 * 1024
    rows = []
    with ModuleServer(config={"server": {"max_body_size": limit, "default_timeout": 600}}) as server:
        for mode in ("text", "json"):
            args = ["run", str(PAP_TLP_BLUEPRINT), "--data", str(path), "--modules-url", server.url, "--timeout", "600"]
            rss, code, seconds = peak_rss(args + (["--json"] if mode == "json" else []), env)
            rows.append({"mode": mode, "event_mb": size_mb, "attributes": attributes, "rss_mb": rss,
                         "ratio": rss / size_mb, "seconds": seconds, "exit": code})
            print(f"  {size_mb:.0f} MB event ({attributes:,} attributes), {mode}: peak RSS {rss:.0f} MB = "
                  f"{rss / size_mb:.2f}x the event, {seconds:.1f} s", flush=True)
    return rows


def verdicts(rows: list[dict], big: list[dict]) -> list[tuple[str, float, float, bool]]:
    out = []
    for shape in SHAPES:
        mine = sorted((r for r in rows if r["shape"] == shape), key=lambda r: r["size"])
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        for key, label in (("walk_ms", "walk ms/node"), ("text_ms", "text ms/node"), ("json_ms", "--json ms/node"),
                           ("json_bytes", "--json bytes/node")):
            ratio = large[key] / small[key] if small[key] else float("inf")
            out.append((f"{shape} {label}, {large['size']} vs {small['size']} nodes", ratio, 1.5, ratio <= 1.5))
    for row in big:
        out.append((f"{row['event_mb']:.0f} MB event, {row['mode']}: peak RSS / event size", row["ratio"], 3.0,
                    row["ratio"] <= 3.0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-mb", type=float, default=200.0, help="0: skip the large event")
    parser.add_argument("--json", metavar="OUT", help="write the figures there")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env = server_env()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        print("graphs (real module server, generic-if nodes, 9-attribute event):")
        with ModuleServer() as server:
            rows = graph_rows(server, sizes, args.repeat, Path(tmp), env)
        big = []
        if args.big_mb > 0:
            print("large event (PAP/TLP blocking blueprint):")
            big = big_rows(args.big_mb, Path(tmp), env)
    print("\nmemory per node (what each further execution adds to the peak, graph included):")
    for shape in SHAPES:
        mine = sorted((r for r in rows if r["shape"] == shape), key=lambda r: r["size"])
        if len(mine) >= 2:
            executions = mine[-1]["executions"] - mine[0]["executions"]
            print("  " + shape + ": " + ", ".join(
                f"{(mine[-1][f'rss_{m}_mb'] - mine[0][f'rss_{m}_mb']) * 1024 / executions:.1f} KB ({m})"
                for m in ("text", "json")))
    print("\ntargets:")
    results = verdicts(rows, big)
    for label, ratio, limit, ok in results:
        print(f"  {'ok  ' if ok else 'MISS'} {label}: {ratio:.2f} (target <= {limit:g})")
    if args.json:
        Path(args.json).write_text(json.dumps({"graphs": rows, "big_event": big, "targets": [
            {"what": label, "ratio": ratio, "target": limit, "met": ok} for label, ratio, limit, ok in results]},
            indent=2))
    return 1 if args.check and not all(ok for *_, ok in results) else 0


if __name__ == "__main__":
    sys.exit(main())
