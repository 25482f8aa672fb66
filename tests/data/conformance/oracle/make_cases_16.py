"""Inputs for MISP's next walk oracle (issue #16: the logic modules added after v2.5.1), and the
merge of its answers into cases. One input file per module set (the oracle runs one set at a
time; `module_set` in the walk-next README):

    python3 make_cases_16.py walk default > in-default.jsonl
    ORACLE_APP=<next>/overlay/default/misp/app ORACLE_MODULE_SET=default \\
        php <next>/walk_oracle.php < in-default.jsonl > out-default.jsonl
    python3 make_cases_14.py merge in-default.jsonl out-default.jsonl > part-default.jsonl
    # ... the same for filter-tag-0.2, aggregate-0.3, threat-level-if-2.5.1, and `triggers`
    # (ORACLE_MODULE_SET=default, on a copy of overlay/default with the event-before-delete
    # trigger file of MISP/MISP 8ff01e24 added), then
    cat part-*.jsonl > walk-oracle-16.jsonl

    python3 make_cases_16.py timedelta > in-td.jsonl   # MISP's resolveTimeDelta on texts, two clocks
    php <driver calling the next oracle's OracleMispAttributeModel::resolveTimeDelta> < in-td.jsonl > out-td.jsonl
    python3 make_cases_14.py merge in-td.jsonl out-td.jsonl > timedelta-oracle-16.jsonl

Deterministic: the same inputs every time. The outcomes are MISP's (README.md); nothing here
decides what MISP does. Covers what walk-next/golden-public.jsonl leaves out: filter-tag 0.2's
scopes and conditions, clusters, labels; filter-timestamp's relative and absolute values at
other clocks, since/less with lists, odd value shapes; every aggregate with every operator and
odd values; threat-level-if of both releases with every condition.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_cases_14 import action, logic1, logic_if, trigger, workflow  # noqa: E402

NOW = 1767225600        # 2026-01-01T00:00:00Z, the oracle's default
NOW_ODD = 1767262345    # 2026-01-01T10:12:25Z: today/yesterday are not the clock itself
DAY = 86400


def _tag(tid: str, name: str) -> dict:
    return {"id": tid, "name": name, "colour": "#000000", "exportable": True, "local": False}


def _attribute(aid: int, value: str, timestamp, tags=(), object_id="0") -> dict:
    a = {"id": str(aid), "event_id": "16", "object_id": object_id, "type": "text", "category": "Other",
         "value": value, "to_ids": False, "uuid": f"16160000-0000-4000-8000-{aid:012d}", "distribution": "5",
         "sharing_group_id": "0", "comment": "", "deleted": False, "disable_correlation": False,
         "Tag": [_tag(str(100 + i), t) for i, t in enumerate(tags)]}
    if timestamp is not None:
        a["timestamp"] = timestamp
    return a


def event() -> dict:
    """Attributes with local tags and timestamps around NOW (strings, ints, none, the future),
    an object with two attributes, two event reports with tags; the event is tlp:white."""
    attributes = [
        _attribute(1, "12", str(NOW - 2 * DAY), ["PAP:RED"]),
        _attribute(2, "12abc", NOW - 40 * DAY, ["tlp:amber"]),
        _attribute(3, "3.5", str(NOW - 3600), ["PAP:RED", "tlp:amber"]),
        _attribute(4, "abc", None),
        _attribute(5, "12", NOW + DAY, ['misp-galaxy:threat-actor="APT 28"']),
    ]
    obj = {"id": "40", "event_id": "16", "name": "file", "meta-category": "file", "uuid": "16160000-0000-4000-8000-0000000000aa",
           "distribution": "5", "sharing_group_id": "0", "timestamp": str(NOW - 5 * DAY), "deleted": False,
           "Attribute": [_attribute(6, "7", str(NOW - 5 * DAY), ["tlp:amber"], "40"),
                         _attribute(7, "-1", str(NOW - 100 * DAY), [], "40")]}
    reports = [
        {"id": "71", "uuid": "16160000-0000-4000-8000-0000000000b1", "event_id": "16", "name": "one", "content": "x",
         "distribution": "5", "sharing_group_id": "0", "timestamp": str(NOW - DAY), "deleted": False,
         "Tag": [_tag("200", "tlp:amber")]},
        {"id": "72", "uuid": "16160000-0000-4000-8000-0000000000b2", "event_id": "16", "name": "two", "content": "y",
         "distribution": "5", "sharing_group_id": "0", "timestamp": NOW - 60 * DAY, "deleted": False, "Tag": []},
    ]
    return {"Event": {
        "id": "16", "uuid": "16160000-0000-4000-8000-000000000016", "info": "issue 16", "org_id": "1", "orgc_id": "1",
        "published": False, "distribution": "1", "sharing_group_id": "0", "threat_level_id": "2", "analysis": "0",
        "date": "2025-12-30", "timestamp": str(NOW - DAY),
        "Orgc": {"id": "1", "name": "ORGNAME", "uuid": "5c6983c8-3af8-4b6b-8e2a-2a4ad3bfcdbe"},
        "Tag": [_tag("1", "tlp:white")], "Attribute": attributes, "Object": [obj], "EventReport": reports}}


PROBES = ("Event._AttributeFlattened", "Event.Attribute", "Event.Object", "Event.EventReport")


def probed(first: dict, tid: str, start: int = 2) -> list[dict]:
    """``first`` (node ``start``, output_1 to the probes), then a count-if per list of PROBES
    (then: webhook, else: push-zmq, both leading to the next probe)."""
    nodes = [trigger(1, tid, [start]), first]
    nid = start + 1
    first["outputs"] = {"output_1": {"connections": [{"node": str(nid), "output": "input_1"}]},
                        **({"output_2": first["outputs"]["output_2"]} if isinstance(first["outputs"], dict)
                           and "output_2" in first["outputs"] else {})}
    for i, selector in enumerate(PROBES):
        probe, yes, no = nid, nid + 1, nid + 2
        nxt = [nid + 3] if i + 1 < len(PROBES) else []
        nodes += [logic_if(probe, "count-if", [yes], [no], {"selector": selector, "operator": "equals", "value": "0"}),
                  action(yes, "webhook", nxt), action(no, "push-zmq", nxt)]
        nid += 3
    return nodes


class Cases:
    def __init__(self, module_set: str) -> None:
        self.module_set = module_set
        self.cases: list[dict] = []

    def add(self, cid: str, category: str, description: str, nodes: list[dict], tid: str = "event-publish",
            now: int = NOW, data: dict | None = None, **extra) -> None:
        case = {"id": f"oracle16-{cid}", "kind": "synthetic", "category": category, "description": description,
                "trigger_id": tid, "workflow": workflow(nodes, tid), "now": now,
                "data": copy.deepcopy(event()) if data is None else data, **extra}
        if self.module_set != "default":
            case["module_set"] = self.module_set
        self.cases.append(case)


def versioned(nid: int, module: str, version: str, params, outputs: int = 1) -> dict:
    n = logic1(nid, module, [], params) if outputs == 1 else logic_if(nid, module, [], [], params)
    n["data"]["module_version"] = version
    n["data"]["previous_module_version"] = version
    return n


def filter_tag_cases(c: Cases, version: str) -> None:
    scopes = ["attribute", "event_attribute", "event_report", "inherited_report", "event", None]
    for scope in scopes:
        for cond in ("in_or", "in_and", "not_in_or", "not_in_and"):
            params = {"filtering-label": "A", "condition": cond, "tags": ["PAP:RED", "tlp:amber"]}
            if scope is not None:
                params["scope"] = scope
            c.add(f"ft{version}-{scope or 'default'}-{cond}", "filter-tag",
                  f"filter-tag {version} scope {scope or '(default)'} condition {cond}",
                  probed(versioned(2, "filter-tag", version, params), "event-publish"))
    if version == "0.3":
        c.add("ft-clusters", "filter-tag", "galaxy clusters are matched with their misp-galaxy: prefix",
              probed(versioned(2, "filter-tag", "0.3", {"scope": "attribute", "condition": "in_or",
                                                         "clusters": ['threat-actor="APT 28"']}), "event-publish"))
        c.add("ft-clusters-string", "filter-tag", "clusters as a string crash the module (array_map)",
              probed(versioned(2, "filter-tag", "0.3", {"scope": "attribute", "clusters": "x"}), "event-publish"))
        for cond in ("in", "not_in", "any_value", "not_equals", ""):
            c.add(f"ft-cond-{cond or 'empty'}", "filter-tag", f"condition {cond!r} through the generic helper",
                  probed(versioned(2, "filter-tag", "0.3", {"scope": "event_attribute", "condition": cond,
                                                             "tags": ["tlp:white"]}), "event-publish"))
        for label in ("B", "F", "Z", "1", ""):
            c.add(f"ft-label-{label or 'empty'}", "filter-tag", f"filtering label {label!r}",
                  probed(versioned(2, "filter-tag", "0.3", {"filtering-label": label, "scope": "attribute",
                                                             "tags": ["PAP:RED"]}), "event-publish"))
        c.add("ft-nb-inh", "filter-tag", "non-blocking trigger, inherited attribute scope",
              probed(versioned(2, "filter-tag", "0.3", {"scope": "event_attribute", "condition": "in_and",
                                                         "tags": ["tlp:white", "PAP:RED"]}), "event-after-save-new"),
              tid="event-after-save-new")
        c.add("ft-disabled-nb", "filter-tag", "disabled module on the non-blocking trigger",
              probed(versioned(2, "filter-tag", "0.3", {"scope": "attribute"}), "event-after-save-new"),
              tid="event-after-save-new", disabled_modules=["filter-tag"])


TIME_VALUES = ["1.5d", "2h", "0.5h", "12H", "10M", " 5d", "-5d", "1e1d", "5", "1766793600.5", "now", "today",
               "yesterday", "tomorrow", "midnight", "noon", "2025-12-01", "2025-12-01 10:00:00",
               "2025-12-01T10:00:00Z", "@1766793600", "-2 days", "+1 month", "last month", "1 week ago",
               "3 days ago", "", "d", "xd", "1.2.3d"]


def filter_timestamp_cases(c: Cases) -> None:
    for i, value in enumerate(TIME_VALUES):
        for now in (NOW, NOW_ODD):
            c.add(f"fts-value-{i:02d}-{now}", "filter-timestamp", f"value {value!r} at {now}",
                  probed(versioned(2, "filter-timestamp", "0.1", {"target": "attribute", "operator": "greater",
                                                                   "value": value}), "event-publish"), now=now)
    for target in ("object", "event_report", "attribute", "Attribute", ""):
        for operator in ("less", "since", "greater", "bogus"):
            c.add(f"fts-{target or 'empty'}-{operator}", "filter-timestamp", f"target {target!r} operator {operator}",
                  probed(versioned(2, "filter-timestamp", "0.1", {"target": target, "operator": operator,
                                                                   "value": "1766793600"}), "event-publish"))
    for name, value in [("pair-abs", ["1766793600", "1766000000"]), ("pair-mixed", ["30d", "yesterday"]),
                        ("pair-one", ["1d"]), ("pair-empty", []), ("pair-map", {"a": "1d", "b": "2d"}),
                        ("pair-int", [0, 5]), ("null", None), ("int", 1766793600), ("float", 1766793600.5)]:
        c.add(f"fts-{name}", "filter-timestamp", f"value {name}",
              probed(versioned(2, "filter-timestamp", "0.1", {"operator": "less", "value": value}), "event-publish"))
    c.add("fts-since-pair", "filter-timestamp", "since with a pair (not numeric: false)",
          probed(versioned(2, "filter-timestamp", "0.1", {"operator": "since", "value": ["1d", "2d"]}),
                 "event-publish"))
    c.add("fts-twice", "filter-timestamp", "two timestamp filters on one label",
          [trigger(1, "event-publish", [2]),
           *_chain([versioned(2, "filter-timestamp", "0.1", {"value": "1d"}),
                    versioned(3, "filter-timestamp", "0.1", {"target": "object", "value": "10d"})]),
           logic_if(4, "count-if", [5], [6], {"selector": "Event.Object", "operator": "equals", "value": "0"}),
           action(5, "webhook"), action(6, "push-zmq")])
    c.add("fts-then-reset", "filter-timestamp", "a timestamp filter, then a reset of all filters",
          [trigger(1, "event-publish", [2]),
           *_chain([versioned(2, "filter-timestamp", "0.1", {"value": "1d"}),
                    logic1(3, "generic-filter-reset", [], {"filtering-label": "all"})]),
           logic_if(4, "count-if", [5], [6], {"selector": "Event._AttributeFlattened", "operator": "equals",
                                              "value": "5"}),
           action(5, "webhook"), action(6, "push-zmq")])


def _chain(nodes: list[dict]) -> list[dict]:
    """Connect each node's output_1 to the next one, the last to the node after them."""
    for n in nodes:
        n["outputs"] = {"output_1": {"connections": [{"node": str(int(n["id"]) + 1), "output": "input_1"}]}}
    return nodes


AGG_PATHS = ["Event._AttributeFlattened.{n}.value", "Event._AttributeFlattened.{n}.timestamp",
             "Event.Attribute.{n}.Tag", "Event.Object.{n}.Attribute.{n}.value", "Event.Tag", "", "Event.info",
             "Event.published"]
AGG_VALUES = ["0", "5", "12", "12.0", "31.5", "1", "", "abc", "4"]


def aggregate_cases(c: Cases, version: str) -> None:
    types = ["count", "sum", "avg", "min", "max", "unique_count", "median"]
    for p, path in enumerate(AGG_PATHS):
        for kind in types:
            other = ("not_equals", "less_equals", "in", "greater")[(p + types.index(kind)) % 4]
            for operator in ("equals", other):
                value = AGG_VALUES[(p + types.index(kind)) % len(AGG_VALUES)]
                c.add(f"agg{version}-p{p}-{kind}-{operator}", "aggregate-comparator-if",
                      f"{kind} of {path!r} {operator} {value!r}",
                      _if_probe(versioned(2, "aggregate_comparator_if", version,
                                          {"aggregation_path": path, "aggregation_type": kind, "operator": operator,
                                           "value": value}, outputs=2)))
    if version == "0.4":
        for kind in types:
            for value in ("", "0", "abc"):
                c.add(f"agg-empty-{kind}-{value or 'blank'}", "aggregate-comparator-if",
                      f"{kind} of nothing equals {value!r}",
                      _if_probe(versioned(2, "aggregate_comparator_if", "0.4",
                                          {"aggregation_path": "Event.Nope.{n}", "aggregation_type": kind,
                                           "operator": "equals", "value": value}, outputs=2)))
        for name, params in [("defaults", {}), ("type-int", {"aggregation_type": 1, "operator": "equals", "value": ""}),
                             ("op-unknown", {"aggregation_type": "count", "operator": "bogus", "value": "5"}),
                             ("value-list", {"aggregation_type": "count", "operator": "in", "value": ["7"]})]:
            c.add(f"agg-{name}", "aggregate-comparator-if", f"aggregate {name}",
                  _if_probe(versioned(2, "aggregate_comparator_if", "0.4",
                                      {"aggregation_path": "Event._AttributeFlattened.{n}.id", **params}, outputs=2)))
        c.add("agg-nb-max", "aggregate-comparator-if", "max on the non-blocking trigger",
              _if_probe(versioned(2, "aggregate_comparator_if", "0.4",
                                  {"aggregation_path": "Event._AttributeFlattened.{n}.value", "aggregation_type": "max",
                                   "operator": "equals", "value": "12"}, outputs=2), "event-after-save-new"),
              tid="event-after-save-new")


def _if_probe(node: dict, tid: str = "event-publish") -> list[dict]:
    node["outputs"] = {"output_1": {"connections": [{"node": "3", "output": "input_1"}]},
                       "output_2": {"connections": [{"node": "4", "output": "input_1"}]}}
    return [trigger(1, tid, [2]), node, action(3, "webhook"), action(4, "push-zmq")]


def threat_level_cases(c: Cases) -> None:
    levels = [None, "1", "2", "3", "4", 2, "Low", "", "9"]
    events = [("ev2", "2"), ("ev4-int", 4), ("ev-missing", None)]
    for cond in ("equals", "not_equals", "greater_or_equal_than", "less_or_equal_than", None, "bogus"):
        for level in levels:
            for name, tl in events if level is None else events[:2]:
                data = copy.deepcopy(event())
                if tl is None:
                    del data["Event"]["threat_level_id"]
                else:
                    data["Event"]["threat_level_id"] = tl
                params = {} if cond is None else {"condition": cond}
                if level is not None:
                    params["threatlevel"] = level
                c.add(f"tl-{cond or 'default'}-{level if level is not None else 'default'}-{name}", "threat-level-if",
                      f"condition {cond}, threatlevel {level!r}, event level {tl!r}",
                      _if_probe(versioned(2, "threat-level-if", "0.1", params, outputs=2)), data=data)


def trigger_cases(c: Cases) -> None:
    """``event-before-delete`` (blocking): run with the default set plus that trigger's file."""
    tid = "event-before-delete"
    c.add("ebd-stop", "event-before-delete", "a stop-execution blocks the deletion",
          [trigger(1, tid, [2]), action(2, "stop-execution", params={"message": "keep {{ Event.info }}"})], tid=tid)
    c.add("ebd-pass", "event-before-delete", "a passing IF then a webhook",
          [trigger(1, tid, [2]), logic_if(2, "threat-level-if", [3], [4], {"condition": "equals", "threatlevel": "2"}),
           action(3, "webhook"), action(4, "push-zmq")], tid=tid)
    c.add("ebd-failed-action", "event-before-delete", "a failed (non-blocking) action with errors",
          [trigger(1, tid, [2]), action(2, "webhook", [3]), action(3, "push-zmq")], tid=tid,
          actions={"2": {"success": False, "errors": ["down"]}})
    c.add("ebd-filter-stop", "event-before-delete", "a tag filter, a count, a stop",
          [trigger(1, tid, [2]),
           *_chain([versioned(2, "filter-tag", "0.3", {"scope": "attribute", "tags": ["PAP:RED"]})]),
           logic_if(3, "count-if", [4], [5], {"selector": "Event._AttributeFlattened", "operator": "equals",
                                              "value": "2"}),
           action(4, "stop-execution", params={"message": "two red"}), action(5, "webhook")], tid=tid)
    c.add("ebd-concurrent", "event-before-delete", "a concurrent task: its branch does not block",
          [trigger(1, tid, [2]), logic1(2, "concurrent-task", [3]), action(3, "stop-execution",
                                                                        params={"message": "late"})], tid=tid)
    c.add("ebd-invalid", "event-before-delete", "data that is not an event", [trigger(1, tid, [2]),
                                                                             action(2, "webhook")],
          tid=tid, data={"Event": "x"})
    c.add("ebd-other-trigger", "event-before-delete", "the graph's trigger is another one",
          [trigger(1, "event-publish", [2]), action(2, "webhook")], tid=tid)


def walk_cases(module_set: str) -> list[dict]:
    c = Cases(module_set)
    if module_set == "triggers":
        c.module_set = "default"  # the default set plus the event-before-delete trigger file
        trigger_cases(c)
    elif module_set == "default":
        filter_tag_cases(c, "0.3")
        filter_timestamp_cases(c)
        aggregate_cases(c, "0.4")
        threat_level_cases(c)
    elif module_set == "filter-tag-0.2":
        filter_tag_cases(c, "0.2")
    elif module_set == "aggregate-0.3":
        aggregate_cases(c, "0.3")
    elif module_set == "threat-level-if-2.5.1":
        threat_level_cases(c)
    else:
        sys.exit(f"unknown module set {module_set}")
    for case in c.cases:
        case["id"] = case["id"] if module_set in ("default", "triggers") else f"{case['id']}@{module_set}"
    return c.cases


STRTOTIME_TEXTS = [
    "now", "today", "midnight", "noon", "yesterday", "tomorrow", "NOW", "Today", " yesterday ", "+1 day", "-1 day",
    "1 day", "+2 days", "2 days ago", "3 hours ago", "+1 hour", "-30 minutes", "30 min", "45 secs", "1 sec",
    "+1 week", "2 weeks ago", "1 fortnight", "+1 month", "-1 month", "1 year ago", "+1 year 2 months",
    "1 day 2 hours ago", "+1 day -2 hours", "last day", "next day", "this day", "last hour", "next month",
    "last year", "this year", "2025-12-01", "2025-1-5", "2025-12-01 10:00", "2025-12-01 10:00:05",
    "2025-12-01T10:00:05", "2025-12-01T10:00:05Z", "2025-12-01T10:00:05+01:00", "2025-12-01T10:00:05-0130",
    "2025-12-01 10:00:05 UTC", "2025-12-01T10:00:05.123Z", "2025-02-30", "2025-13-01", "2025-12-32",
    "2025-12-01 24:00", "2025-12-01 24:30", "2025-12-01 25:00", "2025-12-01 10:60", "2025-12-01 10:00:60",
    "2025-00-10", "2025-12-00", "2024-02-30", "12/01/2025", "1/5/2025", "13/01/2025", "00/10/2025", "@0",
    "@-100", "@1767225600", "+0 days", "0 days ago", "1 days", "+ 1 day", "+1day", "1day ago",
    "-1 week 2 days", "1 minute", "1 mins ago", "2 hour", "1 week ago", "3 days ago",
]


def timedelta_cases() -> list[dict]:
    """``resolveTimeDelta`` inputs: the walk values and strtotime texts, each at two clocks."""
    cases = []
    for text in dict.fromkeys(TIME_VALUES + STRTOTIME_TEXTS):
        for now in (NOW, NOW_ODD):
            cases.append({"id": f"td-{len(cases) + 1:04d}", "fn": "resolveTimeDelta", "value": text, "now": now})
    return cases


if __name__ == "__main__":
    import json

    if len(sys.argv) == 3 and sys.argv[1] == "walk":
        cases = walk_cases(sys.argv[2])
    elif sys.argv[1:] == ["timedelta"]:
        cases = timedelta_cases()
    else:
        sys.exit(__doc__)
    for case in cases:
        print(json.dumps(case, ensure_ascii=False, separators=(",", ":")))
