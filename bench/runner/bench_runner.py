"""Benchmark of the workflow runner (issue 7): the PAP/TLP blocking blueprint and the hashlookup
blueprint on events of 100, 1,000 and 10,000 attributes.

For each (blueprint, size): wall time per run (median) and runs per second, and per node:

* ``node ms``: the node's time as the runner records it (``NodeRun.duration``: from resolving
  the module to the answer applied: params, request body, HTTP, the server's work, decoding the
  answer, data/changes taken over; for a node that needs the stored event, folding the pending
  changes into the stored view and encoding it);
* ``module ms``: the module's own time (handler start to result), from the server's
  ``Server-Timing: module;dur=<ms>`` header; when the server sends none, the module's handler is
  called in this process on the very request the runner sent (best of 5; modules that need the
  running server, such as ``attach-enrichment``, then get no number);
* ``overhead ms`` = node - module: everything the runner, HTTP and the server spend around the
  module; ``outside`` is the part spent in the runner outside the HTTP exchange (params, request
  body and the data's encoding, the stored view, taking the answer over); the rest is the
  exchange: sending, the server's work around the module, reading and decoding the answer;
* the baseline, ``json ms``: the node's JSON payload is what it exchanges over HTTP, the request
  body (``req``) and the answer body (``ans``); the baseline encodes each once with orjson (from
  the decoded object) and decodes each once (from the bytes), best of 5, with the cyclic
  collector paused as it is during a run. The answer bytes are the decoded answer re-encoded by
  orjson, which is what the server's orjson sent;
* ``ratio`` = overhead / baseline (target <= 3);
* ``fold ms``: nodes that need the stored event only: the part of the overhead spent folding the
  changes recorded so far into the runner's stored-event view (``misp_modules.contract.changes.
  apply_changes``), replayed on the same changes; ``ratio-fold`` is the ratio without it.

Before the table: the floor, one HTTP round trip of a tiny ``/query`` to ``stop-execution`` on
the same keep-alive connection (what every node pays whatever its size).

Targets: ratio <= 3; >= 200 runs/s for the blocking blueprint on a 100-attribute event.

    python3 bench/runner/bench_runner.py [--sizes 100,1000,10000] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
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
from events import make_event  # noqa: E402

from misp_modules.contract.client import ModuleClient  # noqa: E402
from misp_modules.contract.wire import collector_paused  # noqa: E402
from runner.catalog import Catalog  # noqa: E402
from runner.engine import Runner, RunOptions  # noqa: E402
from runner.loader import load_workflow  # noqa: E402
from runner.stored import StoredEvent  # noqa: E402
from tests.support.data import BLUEPRINTS  # noqa: E402
from tests.support.fakes.hashlookup import HashlookupFake, make_record  # noqa: E402
from tests.support.harness import ModuleServer  # noqa: E402

PAP_TLP = BLUEPRINTS / "blueprint_pap_red-and-tlp_red-blocking_1661328258.json"
HASHLOOKUP = BLUEPRINTS / "blueprint_disable-to_ids-flag-for-existing-hash-in-hashlookup_1667228944.json"
RUNS = {"pap-tlp": {100: 300, 1000: 60, 10000: 10}, "pap-tlp-red": {100: 300, 1000: 60, 10000: 10},
        "hashlookup": {100: 20, 1000: 5, 10000: 2}}


class RecordingClient(ModuleClient):
    """The runner's client, timing each HTTP exchange and, when ``keep`` is set, keeping its
    request body and decoded answer (their JSON cost is the baseline). Timed runs keep nothing:
    a request body kept alive would stop the allocator reusing its memory, and the next
    node would pay fresh pages that a real run does not."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.keep = False
        self.seconds: list[float] = []
        self.exchanges: list[tuple[bytes, Any]] = []

    def query_bytes(self, payload: bytes | list, timeout: float | None = None):
        t0 = time.perf_counter()
        answer, module_time = super().query_bytes(payload, timeout)
        self.seconds.append(time.perf_counter() - t0)
        if self.keep:  # the runner sends the body in parts (the data's encoding is not copied)
            self.exchanges.append((payload if isinstance(payload, bytes) else b"".join(payload), answer))
        return answer, module_time


def best(fn: Any, reps: int = 5) -> float:
    result = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        result = min(result, time.perf_counter() - t0)
    return result


def json_cost(request: bytes, answer: Any) -> tuple[float, int]:
    """(encode + decode the request once and the answer once with orjson, answer size)."""
    answer_bytes = orjson.dumps(answer)
    request_obj = orjson.loads(request)
    with collector_paused():
        cost = best(lambda: (orjson.dumps(request_obj), orjson.loads(request),
                             orjson.dumps(answer), orjson.loads(answer_bytes)))
    return cost, len(answer_bytes)


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
        found[name] = None if handler is None or inspect.iscoroutinefunction(handler) else handler
    return found


def module_cost(handler: Any, body: dict) -> float | None:
    if handler is None:
        return None
    try:
        return best(lambda: handler(body))
    except Exception:  # noqa: BLE001 - needs the server (in-process queries): no number
        return None


def fold_costs(event: dict, trace: list, catalog: Catalog, reps: int = 3) -> dict[int, float]:
    """The runner's stored-view upkeep per trace index, replayed (best of ``reps``): the changes
    of the nodes before each node that needs the stored event, folded as the run folded them."""
    costs: dict[int, float] = {}
    for _ in range(reps):
        stored = StoredEvent(event)
        for i, node in enumerate(trace):
            spec = catalog.get("action", node.module) or catalog.get("logic", node.module)
            if spec is not None and spec.needs_stored_event and not node.mocked:
                t0 = time.perf_counter()
                with collector_paused():
                    stored.snapshot()
                costs[i] = min(costs.get(i, float("inf")), time.perf_counter() - t0)
            if node.changes:
                stored.apply([{k: v for k, v in c.items() if k != "node"} for c in node.changes], node.node)
    return costs


def floor_ms(url: str) -> float:
    """One tiny /query round trip on a kept-alive connection (median of 200)."""
    client = ModuleClient(url, timeout=30)
    body = b'{"module":"stop-execution","data":{},"params":{"message":"x"}}'
    times = []
    for _ in range(220):
        t0 = time.perf_counter()
        client.query_bytes(body)
        times.append(time.perf_counter() - t0)
    client.close()
    return statistics.median(times[20:]) * 1e3


def bench(name: str, workflow_path: Path, event: dict, runs: int, url: str, entries: list[dict],
          local: dict[str, Any]) -> dict:
    client = RecordingClient(url, timeout=120)
    catalog = Catalog.from_modules(entries)
    runner = Runner(catalog, client, RunOptions(pause_collector=True))  # as misp-workflow runs
    workflow = load_workflow(workflow_path)
    runner.run(workflow, event)  # warm-up: connections, caches
    walls, per_node, outcome, trace = [], {}, None, []
    started = time.perf_counter()
    for _ in range(runs):
        client.seconds.clear()
        t0 = time.perf_counter()
        result = runner.run(workflow, event)
        walls.append(time.perf_counter() - t0)
        outcome, trace = result.outcome, result.walk.trace
        exchanges = iter(client.seconds)
        for node in trace:
            http = next(exchanges) if _sent(node) else 0.0
            per_node.setdefault((node.node, node.module), []).append((node.duration, node.module_time, node.duration - http))
    total = time.perf_counter() - started
    client.keep = True  # one more run, untimed, for the payloads
    exchanges = iter(client.exchanges)
    payloads = {(n.node, n.module): next(exchanges) for n in runner.run(workflow, event).walk.trace if _sent(n)}
    client.close()
    folds = {trace[i].node: cost for i, cost in fold_costs(event, trace, catalog).items()}
    nodes = []
    for (nid, module), samples in per_node.items():
        duration = statistics.median(s[0] for s in samples)
        exchange = payloads.get((nid, module))
        server_times = [s[1] for s in samples if s[1] is not None]
        spec = catalog.get("logic", module) or catalog.get("action", module)
        if server_times:
            mod_time, source = statistics.median(server_times), "server-timing"
        elif exchange is not None and spec is not None:
            mod_time, source = module_cost(local.get(spec.name), orjson.loads(exchange[0])), "in-process"
        else:
            mod_time, source = None, None
        baseline, answer_size = json_cost(*exchange) if exchange is not None else (None, None)
        overhead = duration - mod_time if mod_time is not None else None
        fold = folds.get(nid)
        outside = statistics.median(s[2] for s in samples)
        nodes.append({"node": nid, "module": module, "node_ms": duration * 1e3,
                      "module_ms": None if mod_time is None else mod_time * 1e3, "module_time_from": source,
                      "overhead_ms": None if overhead is None else overhead * 1e3,
                      "outside_http_ms": outside * 1e3,
                      "request_bytes": len(exchange[0]) if exchange is not None else None,
                      "answer_bytes": answer_size,
                      "json_ms": None if baseline is None else baseline * 1e3,
                      "ratio": None if overhead is None or not baseline else overhead / baseline,
                      "fold_ms": None if fold is None else fold * 1e3,
                      "ratio_without_fold": None if overhead is None or not baseline or fold is None
                      else (overhead - fold) / baseline})
    return {"blueprint": name, "attributes": len(event["Event"]["Attribute"]), "runs": runs, "outcome": outcome,
            "wall_ms_median": statistics.median(walls) * 1e3, "runs_per_s": runs / total, "nodes": nodes}


def _sent(node: Any) -> bool:
    return not node.mocked and node.status not in ("disabled_module", "loading_error")


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
            floor = floor_ms(server.url)
            print(f"floor: a tiny /query round trip (stop-execution, kept-alive connection) takes {floor:.3f} ms")
            for size in sizes:
                clean = make_event(size)
                red = make_event(size, red_attribute=size - 1)
                for name, path, event in (("pap-tlp", PAP_TLP, clean), ("pap-tlp-red", PAP_TLP, red),
                                          ("hashlookup", HASHLOOKUP, clean)):
                    runs = max(1, RUNS[name][size] // (10 if args.quick else 1))
                    results.append(bench(name, path, event, runs, server.url, entries, local))
                    report(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps({"floor_ms": floor, "results": results}, indent=2))
    return 0


def report(r: dict) -> None:
    print(f"\n{r['blueprint']} on {r['attributes']} attributes: {r['runs']} runs, outcome {r['outcome']}, "
          f"wall {r['wall_ms_median']:.2f} ms/run (median), {r['runs_per_s']:.0f} runs/s")
    print(f"  {'node':>4} {'module':<29} {'node ms':>9} {'module ms':>10} {'overhead':>9} {'outside':>8} {'req bytes':>11} "
          f"{'ans bytes':>11} {'json ms':>8} {'ratio':>6} {'fold ms':>8} {'ratio-fold':>10}")

    def f(v: Any, fmt: str) -> str:
        return "n/a" if v is None else format(v, fmt)

    for n in r["nodes"]:
        module_ms = f(n["module_ms"], ".3f") + ("*" if n["module_time_from"] == "in-process" else "")
        print(f"  {n['node']:>4} {n['module']:<29} {n['node_ms']:>9.3f} {module_ms:>10} "
              f"{f(n['overhead_ms'], '.3f'):>9} {n['outside_http_ms']:>8.3f} {f(n['request_bytes'], ','):>11} {f(n['answer_bytes'], ','):>11} "
              f"{f(n['json_ms'], '.3f'):>8} {f(n['ratio'], '.2f'):>6} "
              f"{'' if n['fold_ms'] is None else format(n['fold_ms'], '.3f'):>8} "
              f"{'' if n['ratio_without_fold'] is None else format(n['ratio_without_fold'], '.2f'):>10}")
    if any(n["module_time_from"] == "in-process" for n in r["nodes"]):
        print("  * module time from an in-process call (the server sent no Server-Timing)")


if __name__ == "__main__":
    sys.exit(main())
