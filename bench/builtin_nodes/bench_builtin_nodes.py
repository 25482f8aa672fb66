"""Benchmark (issue 4): what a built-in node costs on a large event, against the cost of merely
handing the event to a module.

For each node, in process (``dict_handler``), on the 370-attribute ``tests/data/events/long_event.json``
scaled up ``--scale`` times, best of ``--repeat`` runs. Baseline, measured in the same run: one
JSON round trip of the roaming data with orjson (what the server does anyway to receive the
request and send an answer). Printed: milliseconds per call and the ratio node / baseline.

    python3 bench/builtin_nodes/bench_builtin_nodes.py [--scale 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from misp_modules.modules.action_mod import attribute_ids_flag_operation, tag_operation, tag_replacement_tlp  # noqa: E402
from misp_modules.modules.logic_mod import generic_filter_data, generic_if, tag_if  # noqa: E402
from misp_modules.semantics import roaming  # noqa: E402
from misp_modules.semantics.convert import to_core_format  # noqa: E402
from misp_modules.settings import Settings, set_settings  # noqa: E402

EVENT = Path(__file__).resolve().parents[2] / "tests" / "data" / "events" / "long_event.json"


def event(scale: int) -> dict:
    raw = json.loads(EVENT.read_text())
    attributes = raw["Event"]["Attribute"]
    grown = []
    for i in range(scale):
        for attribute in attributes:
            copied = copy.deepcopy(attribute)
            copied["uuid"] = f"{i:04d}-{attribute['uuid']}"
            copied["Tag"] = [{"name": "TLP:WHITE" if i % 2 else "tlp:white", "local": 0}]
            grown.append(copied)
    raw["Event"]["Attribute"] = grown
    return to_core_format(raw)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    set_settings(Settings())  # no MISP: changes are computed, not written
    data = event(args.scale)
    n = len(data["Event"]["_AttributeFlattened"])
    baseline = best(lambda: orjson.loads(orjson.dumps(data)), args.repeat)
    filtered = roaming.get_data(generic_filter_data.dict_handler({"data": data, "params": {
        "selector": "Event._AttributeFlattened.{n}", "hash_path": "Tag.{n}.name", "value": "tlp:white"}})["data"])
    white = {"selector": "Event._AttributeFlattened.{n}", "value": "tlp:white", "operator": "in", "path": "Tag.{n}.name"}
    cases = {
        "tag-if (event_attribute, in_or)": (tag_if, {"data": data, "params": {"scope": "event_attribute",
                                                                            "tags": ["tlp:red"]}}),
        "generic-if (pattern path)": (generic_if, {"data": data, "params": {
            "hash_path": "Event._AttributeFlattened.{n}[type=md5].value", "operator": "any_value"}}),
        "generic-filter-data": (generic_filter_data, {"data": data, "params": {
            "selector": "Event._AttributeFlattened.{n}", "hash_path": "type", "value": "md5"}}),
        "tag_operation (filtered, attribute)": (tag_operation, {"data": data, "params": {
            "scope": "attribute", "tags": ["tlp:clear"]}, "node": {"saved_filters": white}}),
        "tag_replacement_tlp (all)": (tag_replacement_tlp, {"data": data, "params": {
            "scope": "all", "remove_substituted": "yes"}}),
        "attribute_ids_flag_operation (filtered)": (attribute_ids_flag_operation, {
            "data": filtered, "params": {"action": "remove"}}),
    }
    print(f"{n} attributes; baseline (orjson round trip of the data): {baseline * 1000:.1f} ms")
    for name, (module, request) in cases.items():
        answer = module.dict_handler(request)
        assert answer["result"] in (True, False) and not answer.get("error"), (name, answer)
        took = best(lambda: module.dict_handler(request), args.repeat)
        print(f"  {name:42} {took * 1000:8.1f} ms  {took / baseline:6.2f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
