"""Benchmark (issue 6): curating an event's file hashes with CIRCL hashlookup.

Both ways run through a real module server (``POST /query``) against the local hashlookup fake
(tests/fakes/hashlookup.py) on the same event of ``--attributes`` hash attributes (MD5 and
SHA-1, ``--known`` of them known to hashlookup):

* baseline -- what MISP's blueprints do: the ``attach-enrichment`` node with the ``hashlookup``
  expansion module, one lookup request per attribute;
* ours -- the ``hashlookup_curation`` action: bulk lookups (``[modules.hashlookup] bulk_size``
  hashes per request).

The lookup cache is off (``cache_ttl = 0``) so every run pays its requests; each side runs
``--repeat`` times and the best wall time counts. Printed: HTTP requests the fake received and
wall time per side, and the ratios (baseline / ours). Targets: >= 20x fewer requests, >= 10x
less time (``--check`` exits 1 when missed).

    python3 bench/hashlookup/bench_hashlookup.py [--attributes 5000] [--known 0.3] [--repeat 3] [--check]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from misp_modules.semantics.convert import to_core_format  # noqa: E402
from tests.support.fakes.hashlookup import HashlookupFake, make_record  # noqa: E402
from tests.support.harness import ModuleServer  # noqa: E402

TARGET_REQUESTS = 20.0
TARGET_TIME = 10.0


def build_event(attributes: int, known: float, fake: HashlookupFake, seed: int = 6) -> dict:
    rng = random.Random(seed)
    attrs = []
    for i in range(attributes):
        algo = "md5" if i % 5 < 3 else "sha1"
        if rng.random() < known:
            record = fake.add(make_record(f"bench-{i}"))
            value = record["MD5" if algo == "md5" else "SHA-1"].lower()
        else:
            value = f"{rng.getrandbits(128 if algo == 'md5' else 160):0{32 if algo == 'md5' else 40}x}"
        attrs.append({"id": str(1000 + i), "event_id": "42", "object_id": "0", "object_relation": None,
                      "category": "Payload delivery", "type": algo, "value": value, "to_ids": True,
                      "uuid": f"00000000-0000-4000-8000-{i:012d}", "timestamp": "1700000000",
                      "distribution": "5", "sharing_group_id": "0", "comment": "", "deleted": False,
                      "disable_correlation": False, "Tag": []})
    raw = {"Event": {"id": "42", "uuid": "00000000-0000-4000-8000-e00000000042", "info": "hashlookup bench",
                     "threat_level_id": "2", "analysis": "1", "distribution": "1", "published": False,
                     "orgc_id": "1", "org_id": "1", "Attribute": attrs, "Object": [], "Tag": []}}
    return to_core_format(raw)


def measure(server: ModuleServer, fake: HashlookupFake, request: dict, repeat: int) -> tuple[int, float, dict]:
    best = float("inf")
    requests = 0
    answer: dict = {}
    for _ in range(repeat):
        before = len(fake.requests)
        started = time.perf_counter()
        status, answer = server.query(request, timeout=600)
        elapsed = time.perf_counter() - started
        if status != 200 or not isinstance(answer, dict) or answer.get("error"):
            raise SystemExit(f"query failed: HTTP {status}: {str(answer)[:300]}")
        requests = len(fake.requests) - before
        best = min(best, elapsed)
    return requests, best, answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributes", type=int, default=5000)
    parser.add_argument("--known", type=float, default=0.3, help="share of hashes hashlookup knows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    with HashlookupFake() as fake:
        data = build_event(args.attributes, args.known, fake)
        config = {"services": {"hashlookup": fake.url + "/"},
                  "server": {"default_timeout": 600},
                  "modules": {"hashlookup": {"cache_ttl": 0}, "attach_enrichment": {"query_timeout": 30}}}
        with ModuleServer(config=config) as server:
            node = {"id": "1", "saved_filters": {}}
            base_req, base_time, base = measure(server, fake, {
                "module": "attach_enrichment", "data": data, "params": {"modules": ["hashlookup"]}, "node": node},
                args.repeat)
            ours_req, ours_time, ours = measure(server, fake, {
                "module": "hashlookup_curation", "data": data, "params": [], "dry_run": True}, args.repeat)

    found_base = sum(1 for a in base["data"]["Event"]["_AttributeFlattened"]
                     if "Object" in (a.get("enrichment") or [{}])[0])
    found_ours = sum(1 for c in ours["changes"] if c["op"] == "set")
    if found_base != found_ours:
        raise SystemExit(f"the two ways disagree: {found_base} known hashes vs {found_ours}")
    req_ratio = base_req / max(ours_req, 1)
    time_ratio = base_time / ours_time
    print(f"hashlookup curation, {args.attributes} hash attributes ({found_ours} known), best of {args.repeat}")
    print(f"  baseline attach-enrichment + hashlookup: {base_req:6d} requests  {base_time * 1000:9.1f} ms")
    print(f"  hashlookup_curation (bulk):              {ours_req:6d} requests  {ours_time * 1000:9.1f} ms")
    print(f"  ratio requests {req_ratio:.1f}x (target >= {TARGET_REQUESTS:g}x), "
          f"time {time_ratio:.1f}x (target >= {TARGET_TIME:g}x)")
    if args.check and (req_ratio < TARGET_REQUESTS or time_ratio < TARGET_TIME):
        print("TARGET MISSED")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
