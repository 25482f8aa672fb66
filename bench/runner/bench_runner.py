"""Benchmark of the workflow runner (issue 7): the PAP/TLP blocking blueprint and the hashlookup
blueprint on events of 100, 1,000 and 10,000 attributes.

For each (blueprint, size) it reports:

* wall time per run (median), and runs per second;
* per node: the node's time as the runner sees it, the module's own time, the runner's
  overhead (the difference: request building, JSON, HTTP, response handling), and that
  overhead as a ratio to encoding + decoding the node's request payload once with the fastest
  JSON library installed (orjson), measured in the same run on the same payload.

The module's own time comes from the server's ``Server-Timing: module;dur=`` header when it
sends one; otherwise from calling the module's handler in this process on the very request the
runner sent (pure modules only: a module that queries other modules in-process, such as
``attach-enrichment``, is reported without a ratio).

Targets: ratio <= 3; >= 200 runs/s for the blocking blueprint on a 100-attribute event.

    python3 bench/runner/bench_runner.py [--sizes 100,1000,10000] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402

from events import hash_value, make_event  # noqa: E402
from runner.catalog import Catalog  # noqa: E402
from runner.client import ModuleClient  # noqa: E402
from runner.engine import RunOptions, Runner  # noqa: E402
from runner.loader import load_workflow  # noqa: E402
from tests.fakes.hashlookup import HashlookupFake, make_record  # noqa: E402
from tests.server_harness import ModuleServer  # noqa: E402

BLUEPRINTS = Path("/work/shared/workflows/blueprints")
PAP_TLP = BLUEPRINTS / "blueprint_pap_red-and-tlp_red-blocking_1661328258.json"
HASHLOOKUP = BLUEPRINTS / "blueprint_disable-to_ids-flag-for-existing-hash-in-hashlookup_1667228944.json"
RUNS = {"pap-tlp": {100: 300, 1000: 60, 10000: 10}, "pap-tlp-red": {100: 300, 1000: 60, 10000: 10},
        "hashlookup": {100: 20, 1000: 5, 10000: 2}}


class RecordingClient(ModuleClient):
    """The runner's client, keeping each request body so its JSON cost can be measured."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.bodies: list[dict] = []

    def query_bytes(self, payload: bytes, timeout: float | None = None):
        self.bodies.append(payload)
        return super().query_bytes(payload, timeout)


def json_cost(body: dict, reps: int = 5) -> float:
    """Encode + decode the payload once with orjson (best of ``reps``)."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        raw = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        orjson.loads(raw)
        best = min(best, time.perf_counter() - t0)
    return best


def handlers(entries: list[dict]) -> dict[str, Any]:
    """Module name → in-process dict handler (None when it cannot run outside the server)."""
    found = {}
    for entry in entries:
        name, kind = entry["name"], entry.get("type")
        try:
            module = importlib.import_module(f"misp_modules.modules.{kind}.{name}")
        except ImportError:
            found[name] = None
            continue
        handler = getattr(module, "dict_handler", None)
        found[name] = None if handler is None or _is_async(handler) else handler
    return found


def _is_async(fn: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


def module_cost(handler: Any, body: dict, reps: int = 5) -> float | None:
    if handler is None:
        return None
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        try:
            handler(body)
        except Exception:  # noqa: BLE001 - needs the server (in-process queries): no number
            return None
        best = min(best, time.perf_counter() - t0)
    return best


def bench(name: str, workflow_path: Path, event: dict, runs: int, url: str, entries: list[dict],
          local: dict[str, Any]) -> dict:
    client = RecordingClient(url, timeout=120)
    catalog = Catalog.from_modules(entries)
    runner = Runner(catalog, client, RunOptions())
    workflow = load_workflow(workflow_path)
    runner.run(workflow, event)  # warm-up: connections, caches
    walls, per_node, outcome = [], {}, None
    started = time.perf_counter()
    for _ in range(runs):
        client.bodies.clear()
        t0 = time.perf_counter()
        result = runner.run(workflow, event)
        walls.append(time.perf_counter() - t0)
        outcome = result.outcome
        bodies = iter(client.bodies)
        for node in result.walk.trace:
            body = next(bodies) if not node.mocked and node.status not in ("disabled_module", "loading_error") else None
            per_node.setdefault((node.node, node.module), []).append((node.duration, node.module_time, body))
    total = time.perf_counter() - started
    client.close()
    nodes = []
    for (nid, module), samples in per_node.items():
        duration = statistics.median(s[0] for s in samples)
        body = orjson.loads(samples[-1][2]) if samples[-1][2] is not None else None
        server_times = [s[1] for s in samples if s[1] is not None]
        spec = catalog.get("logic", module) or catalog.get("action", module)
        mod_time = statistics.median(server_times) if server_times else (
            module_cost(local.get(spec.name), body) if body is not None and spec else None)
        baseline = json_cost(body) if body is not None else None
        overhead = duration - mod_time if mod_time is not None else None
        nodes.append({"node": nid, "module": module, "node_ms": duration * 1e3,
                      "module_ms": None if mod_time is None else mod_time * 1e3,
                      "overhead_ms": None if overhead is None else overhead * 1e3,
                      "payload_bytes": len(samples[-1][2]) if body is not None else None,
                      "json_ms": None if baseline is None else baseline * 1e3,
                      "ratio": None if overhead is None or not baseline else overhead / baseline})
    return {"blueprint": name, "attributes": len(event["Event"]["Attribute"]), "runs": runs, "outcome": outcome,
            "wall_ms_median": statistics.median(walls) * 1e3, "runs_per_s": runs / total, "nodes": nodes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--quick", action="store_true", help="a tenth of the runs")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with HashlookupFake() as fake:
        for i in range(0, max(sizes), 7):  # one hash in seven is known to hashlookup
            fake.add(make_record(f"bench-{i}", filename=f"known-{i}.dll"))
        config = {"services": {"hashlookup": fake.url + "/"}}
        with ModuleServer(config=config) as server:
            entries = server.modules()
            local = handlers(entries)
            for size in sizes:
                clean = make_event(size)
                red = make_event(size, red_attribute=size - 1)
                for name, path, event in (("pap-tlp", PAP_TLP, clean), ("pap-tlp-red", PAP_TLP, red),
                                          ("hashlookup", HASHLOOKUP, clean)):
                    runs = max(1, RUNS[name][size] // (10 if args.quick else 1))
                    results.append(bench(name, path, event, runs, server.url, entries, local))
                    report(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def report(r: dict) -> None:
    print(f"\n{r['blueprint']} on {r['attributes']} attributes: {r['runs']} runs, outcome {r['outcome']}, "
          f"wall {r['wall_ms_median']:.2f} ms/run (median), {r['runs_per_s']:.0f} runs/s")
    print(f"  {'node':>5} {'module':<30} {'node ms':>9} {'module ms':>10} {'overhead ms':>12} "
          f"{'payload':>10} {'json ms':>9} {'ratio':>6}")
    for n in r["nodes"]:
        def f(v, fmt):
            return "n/a" if v is None else format(v, fmt)
        print(f"  {n['node']:>5} {n['module']:<30} {n['node_ms']:>9.3f} {f(n['module_ms'], '.3f'):>10} "
              f"{f(n['overhead_ms'], '.3f'):>12} {f(n['payload_bytes'], ','):>10} {f(n['json_ms'], '.3f'):>9} "
              f"{f(n['ratio'], '.2f'):>6}")


if __name__ == "__main__":
    sys.exit(main())
