"""Inputs for MISP's oracle harnesses (issue #14), and the merge of their answers into cases.

    python3 make_cases.py hashpath > hashpath-in.jsonl     # Hash::get/extract/check, logic modules
    python3 make_cases.py walk > walk-in.jsonl             # whole workflows
    php <oracle>/hashpath/oracle.php < hashpath-in.jsonl > hashpath-out.jsonl
    php <oracle>/walk/walk_oracle.php < walk-in.jsonl > walk-out.jsonl
    python3 make_cases.py merge hashpath-in.jsonl hashpath-out.jsonl > hashpath-oracle-14.jsonl
    python3 make_cases.py merge walk-in.jsonl walk-out.jsonl > walk-oracle-14.jsonl

Deterministic: the same inputs every time. The outcomes are MISP's (see README.md); nothing
here decides what MISP does.
"""

from __future__ import annotations

import copy
import itertools
import json
import sys

# -- hash paths ------------------------------------------------------------------------------

GET_DATA = {
    "basic": {"a": {"b": {"c": "deep"}, "n": None, "z": 0, "e": "", "f": False, "l": [10, 20, {"k": "v"}]},
              "0": "zero", "1": "one", "": "emptykey", " ": "space", "1.5": "onefive", "01": "zeroone",
              "-1": "minus", "a.b": "dotted", "{n}": "brace", "true": "t", "null": "nul", "x": {"": {"": "deeper"}}},
    "list": ["zero", "one", ["a", "b", {"c": "d"}], None, False, 0, ""],
    "emptykey": {"": "E", "a": {"": "AE"}},
    "nested": {"Event": {"Attribute": [{"id": "1", "Tag": [{"name": "tlp:red"}]}, {"id": "2"}],
                         "Tag": {"0": {"name": "x"}, "5": {"name": "y"}}, "published": False, "info": "i",
                         "org_id": "0", "orgc_id": 0, "distribution": None}},
    "numkeys": {"2": "two", "-3": "m3", "9223372036854775807": "max", "9223372036854775808": "over",
                "1e3": "exp", "0x1": "hex", "+1": "plus", "1 ": "trail"},
    "scalarleaf": {"a": "string", "b": 5, "c": True, "d": 1.5},
    "brackets": {"a[0]": "br", "a": [["x"]], "[": "open", "]": "close", "a{": "cb"},
}
GET_PATHS = [
    "", ".", "..", "a.", ".a", "a..b", "0", "1", "-1", "01", "1.5", " ", " a", "a ", "a.b.c", "a.b.c.d",
    "a.n", "a.z", "a.e", "a.f", "a.l", "a.l.0", "a.l.2.k", "a.l.{n}", "a.l.{n}.k", "{n}", "{s}", "{*}",
    "a.b", "a.b.c.0", "a.b.c.0.0", "true", "null", "x.", "x..", "x", "a[0]", "a.0", "a.0.0", "[", "]",
    "a{", "Event.Attribute.0.Tag.0.name", "Event.Attribute.1.Tag", "Event.Tag.5.name", "Event.Tag.1",
    "Event.published", "Event.org_id", "Event.orgc_id", "Event.distribution", "Event.Attribute.-1",
    "Event.Attribute.01", "Event.Attribute.1.0", "Event.info.0", "2", "-3", "9223372036854775807",
    "9223372036854775808", "1e3", "0x1", "+1", "1 ", "a.length", "b.0", "c.0", "d.1",
    0, 1, 2, -1, -3, 1.5, 0.0, 1.0, -0.0, 1e3, 1e20, True, False, None,
    [], [""], ["a"], ["a", "b", "c"], ["a", "l", 2, "k"], ["a", "l", "2", "k"], [0], [1], [True], [False],
    [None], [1.5], [1.0], ["", ""], ["x", "", ""], ["a.b"], ["Event", "Attribute", 0, "id"],
    ["Event", "Attribute", "0", "id"], ["Event", "Tag", "5"], ["Event", "Tag", 5.0], [["a"]], [{"k": "a"}],
    {"k": "a"}, {"0": "a", "1": "b"}, {"1": "b", "0": "a"}, ["2"], ["-3"], ["01"], ["9223372036854775807"],
]
GET_DEFAULTS = [None, "DEF", [], False, 0, {"d": 1}]
EXTRACT_EXTRA = [
    "{n}.{n}", "a.l.{n}[k]", "a.l.{n}[k=v]", "a.{s}", "a.{*}", "{s}.{s}", "Event.Attribute.{n}.Tag.{n}.name",
    "Event.Tag.{n}.name", "Event.Tag.{s}", "Event.Attribute.{n}[id=1].id", "Event.Attribute.{n}[id=01].id",
    "Event.Attribute.{n}[id>1]", "Event.Attribute.{n}[Tag]", "a[b]", "a.b[c]", "a.b[c=deep]", "{n}[0]",
    "{*}.{*}", "x.{s}", "x.{*}.{*}", ".{n}", "{n}.", "a.l.{n}.{n}", "[{n}]", "a[0].b", "a.[b]",
]
MODULE_DATA = [
    {"Event": {"info": "x", "published": False, "": "E", "Tag": [{"name": "tlp:red"}], "0": "zero"}, "": {"": "deep"}},
    {"Event": {"info": "", "Attribute": [{"value": "1.2.3.4", "type": "ip-src"}]}},
    {"": "top", "Event": {"org_id": "1", "orgc_id": "2", "published": True}},
]
GENERIC_IF_PATHS = ["", ".", "Event.info", "Event.", ".Event", "Event..info", "Event.Tag.0.name", "Event.Tag.{n}.name",
                    "Event.0", "Event.Attribute.0.value", "Event.Attribute.{n}.value", "0", " ", "Event.published"]
GENERIC_IF_OPERATORS = ["equals", "not_equals", "in", "not_in", "any_value", "in_or", "bogus"]
GENERIC_IF_VALUES = ["x", "", "E", "top", "tlp:red", "1.2.3.4", "0", "zero"]


def hashpath_cases() -> list[dict]:
    cases: list[dict] = []

    def add(prefix: str, category: str, **fields) -> None:
        cases.append({"id": f"{prefix}-oracle14-{len(cases) + 1:04d}", "category": category, **fields})

    for data, path in itertools.product(GET_DATA.values(), GET_PATHS):
        add("get", "get", fn="get", data=data, path=path)
    for name in ("basic", "list", "emptykey"):
        for path in ["", ".", "a.n", "a.z", "missing", "0", None, [], [None], "a.f", "a.e", 1.5, True]:
            for default in GET_DEFAULTS:
                add("get", "get", fn="get", data=GET_DATA[name], path=path, default=default)
    for data in [[], {}, "str", 0, None, True, [None], [[]], {"": None}, {"": []}, {"": 0}, [0]]:
        for path in ["", "0", "a", None, 0, [], [""]]:
            for default in ([] if data not in ([], {}) else ["D"]) + [None]:
                extra = {} if default is None else {"default": default}
                add("get", "get", fn="get", data=data, path=path, **extra)
    string_paths = [p for p in GET_PATHS if isinstance(p, str)] + EXTRACT_EXTRA
    for data, path in itertools.product(GET_DATA.values(), string_paths):
        add("extract", "extract_edge", fn="extract", data=data, path=path)
        add("check", "check", fn="check", data=data, path=path)
    for data, path, operator, value in itertools.product(MODULE_DATA, GENERIC_IF_PATHS, GENERIC_IF_OPERATORS,
                                                         GENERIC_IF_VALUES):
        params = {"hash_path": path, "operator": operator, "value": value}
        if operator == "in_or":
            params["value_list"] = [value, "other"]
        add("module_generic-if", "module_generic-if", fn="moduleExec", module="generic-if", params=params, data=data)
    for data in MODULE_DATA:
        for condition in ["equals", "not_equals", "bogus", ""]:
            add("module_published-if", "module_published-if", fn="moduleExec", module="published-if",
                params={"condition": condition}, data=data)
            for org_type in ["org", "orgc", "bogus"]:
                for org_id in ["1", "2", "", "0", ["1"], ["2", "1"]]:
                    add("module_organisation-if", "module_organisation-if", fn="moduleExec", module="organisation-if",
                        params={"org_type": org_type, "condition": condition, "org_id": org_id}, data=data)
    return cases


# -- merge -----------------------------------------------------------------------------------

def merge(inputs: str, outputs: str) -> None:
    """One case per line: the input, and ``expected`` = what the oracle answered for it."""
    with open(inputs, encoding="utf-8") as fh:
        cases = [json.loads(line) for line in fh if line.strip()]
    with open(outputs, encoding="utf-8") as fh:
        answers = [json.loads(line) for line in fh if line.strip()]
    if len(cases) != len(answers):
        sys.exit(f"{len(cases)} cases, {len(answers)} answers")
    for case, answer in zip(cases, answers):
        if answer.get("id") != case["id"] or "oracle_error" in answer:
            sys.exit(f"case {case['id']}: unusable answer {json.dumps(answer)[:300]}")
        expected = answer["expected"] if "expected" in answer else {k: v for k, v in answer.items() if k != "id"}
        print(json.dumps({**case, "expected": expected}, ensure_ascii=False, separators=(",", ":")))


def main(argv: list[str]) -> None:
    if argv[:1] == ["hashpath"]:
        cases = hashpath_cases()
    elif argv[:1] == ["walk"]:
        cases = walk_cases()
    elif argv[:1] == ["merge"] and len(argv) == 3:
        merge(argv[1], argv[2])
        return
    else:
        sys.exit(__doc__)
    for case in cases:
        print(json.dumps(case, ensure_ascii=False, separators=(",", ":")))


# -- walks -----------------------------------------------------------------------------------

BLOCKING_TRIGGERS = {"event-publish", "event-before-save", "enrichment-before-query", "shadow-attribute-before-save",
                     "user-before-save"}


def node(nid, module, mtype="action", params=None, outputs=None, **data) -> dict:
    """A node as MISP's editor saves it; ``outputs`` maps output names to target ids."""
    out = [] if outputs is None else {name: {"connections": [{"node": str(t), "output": "input_1"} for t in targets]}
                                      for name, targets in outputs.items()}
    body = {"id": module, "module_type": mtype, "name": module, "indexed_params": params if params is not None else [],
            "saved_filters": {"selector": "", "value": "", "operator": "", "path": ""},
            "multiple_output_connection": module == "concurrent-task", **data}
    return {"id": nid, "name": module, "data": body, "class": "block-type-default", "typenode": False,
            "inputs": {}, "outputs": out, "pos_x": 0, "pos_y": 0}


def trigger(nid, trigger_id, targets) -> dict:
    n = node(nid, trigger_id, "trigger", outputs={"output_1": targets}, blocking=trigger_id in BLOCKING_TRIGGERS,
             misp_core_format=True)
    n["inputs"] = []
    return n


def logic_if(nid, module, then=(), else_=(), params=None) -> dict:
    return node(nid, module, "logic", params, {"output_1": then, "output_2": else_})


def logic1(nid, module, targets=(), params=None) -> dict:
    return node(nid, module, "logic", params, {"output_1": targets})


def action(nid, module="tag_operation", targets=(), params=None) -> dict:
    return node(nid, module, "action", params, {"output_1": targets} if targets else None)


def stop(nid, message="stopped here") -> dict:
    return action(nid, "stop-execution", params={"message": message})


def workflow(nodes, trigger_id, debug=False, wid=1, name=None) -> dict:
    wf = {"id": wid, "name": name or f"Workflow for trigger {trigger_id}", "data": {str(n["id"]): n for n in nodes}}
    if debug:
        wf["debug_enabled"] = True
    return wf


EVENT = {"Event": {
    "id": "2", "uuid": "5f2d7c1e-8b4a-4e3f-9c6d-1a0b2c3d4e5f", "info": "test event", "org_id": "1", "orgc_id": "1",
    "published": False, "distribution": "1", "sharing_group_id": "0", "threat_level_id": "3", "analysis": "0",
    "date": "2024-01-01", "timestamp": "1700000000",
    "Orgc": {"id": "1", "name": "ORGNAME", "uuid": "5c6983c8-3af8-4b6b-8e2a-2a4ad3bfcdbe"},
    "Tag": [{"id": "1", "name": "tlp:red", "colour": "#CC0033", "exportable": True, "local": False}],
    "Attribute": [
        {"id": "7", "event_id": "2", "object_id": "0", "type": "ip-src", "category": "Network activity",
         "value": "1.2.3.4", "to_ids": True, "uuid": "575c8598-f1f0-4c16-a94a-0612c0a83866", "distribution": "5",
         "sharing_group_id": "0", "timestamp": "1700000000", "comment": "", "deleted": False,
         "disable_correlation": False,
         "Tag": [{"id": "2", "name": "PAP:RED", "colour": "#000", "exportable": True, "local": False}]},
        {"id": "8", "event_id": "2", "object_id": "0", "type": "domain", "category": "Network activity",
         "value": "example.com", "to_ids": False, "uuid": "575c8598-f1f0-4c16-a94a-0612c0a83867", "distribution": "5",
         "sharing_group_id": "0", "timestamp": "1700000000", "comment": "", "deleted": False,
         "disable_correlation": False, "Tag": []}],
    "Object": []}}
RED = {"scope": "event", "condition": "in_or", "tags": ["tlp:red"]}


class Walks:
    """Collects walk cases with unique ids."""

    def __init__(self) -> None:
        self.cases: list[dict] = []

    def add(self, cid, category, description, trigger_id, wf, data=None, **extra) -> None:
        self.cases.append({"id": f"oracle14-{cid}", "kind": "synthetic", "category": category,
                           "description": description, "trigger_id": trigger_id, "workflow": wf,
                           "data": copy.deepcopy(EVENT) if data is None else data, **extra})


LOGGING = {"empty": {}, "message-only": {"message": "Custom title"},
           "full": {"model": "Event", "action": "publish", "id": "9", "message": "Custom"},
           "no-action": {"model": "Event", "id": "9"}, "empty-message": {"model": "Event", "action": "x", "id": 1,
                                                                          "message": ""}}


def logging_cases(w: Walks) -> None:
    """The caller's logging descriptor: the caller log of a failed blocking run, the job message
    of a failed non-blocking one; and failures without errors (normalisation)."""
    for tid in ("event-publish", "event-after-save-new"):
        for name, logging in [("default", None), *LOGGING.items()]:
            extra = {} if logging is None else {"logging": logging}
            w.add(f"logging-{name}-stop-{tid}", "logging", f"stop-execution with logging descriptor {name} [{tid}]",
                  tid, workflow([trigger(1, tid, [2]), stop(2)], tid), **extra)
            w.add(f"logging-{name}-nonblocking-failure-{tid}", "logging",
                  f"a failed non-blocking action with logging descriptor {name} [{tid}]", tid,
                  workflow([trigger(1, tid, [2]), action(2, targets=[3]), action(3, "webhook")], tid),
                  actions={"2": {"success": False}}, **extra)
    for tid, data in [("shadow-attribute-before-save", {"Event": {"id": "1"}}), ("event-report-after-save", {"Event": {}}),
                      ("user-before-save", {"User": {"id": "3"}}), ("event-publish", []), ("event-publish", {"Event": "x"})]:
        w.add(f"normalization-{tid}-{len(w.cases)}", "logging",
              f"normalisation of {json.dumps(data)} for {tid}: caller log without errors", tid,
              workflow([trigger(1, tid, [2]), stop(2, "m")], tid), data=data)


FILTER_A = {"filtering-label": "A", "selector": "Event._AttributeFlattened.{n}", "value": "ip-src",
            "operator": "in", "hash_path": "type"}
DOMAIN_IF = {"hash_path": "Event._AttributeFlattened.{n}.type", "operator": "in", "value": "domain"}
SNAPSHOTS = [("none", None), ("filtered", "FILTER"), ("empty-string", ""), ("string", "x"), ("empty-list", []),
             ("zero", 0), ("null", "NULL"), ("map", {"Event": {"info": "snap"}}), ("list", [1, 2])]


def filter_cases(w: Walks) -> None:
    """generic-filter-reset with every kind of snapshot and label (MISP wipes, restores or
    crashes), and filter labels of every JSON type."""
    for tid in ("event-publish", "event-after-save-new"):
        for snap_name, snap in SNAPSHOTS:
            for label in ("all", "A", "F", "Z", ""):
                data = copy.deepcopy(EVENT)
                nodes, first = [trigger(1, tid, [2])], 2
                if snap == "FILTER":
                    nodes.append(logic1(2, "generic-filter-data", [3], FILTER_A))
                    first = 3
                elif snap is not None:
                    data["_unfilteredData"] = None if snap == "NULL" else snap
                nodes += [logic1(first, "generic-filter-reset", [first + 1], {"filtering-label": label}),
                          logic_if(first + 1, "tag-if", [first + 2], [first + 3], RED),
                          action(first + 2), action(first + 3)]
                w.add(f"reset-{snap_name}-{label or 'empty'}-{tid}", "filters",
                      f"generic-filter-reset {label!r} with snapshot {snap_name} [{tid}]", tid, workflow(nodes, tid),
                      data=data)
    for name, label in [("list", ["A"]), ("empty-list", []), ("map", {"x": "A"}), ("true", True), ("false", False),
                        ("float", 1.5), ("int", 3), ("null", None), ("zero", "0"), ("Z", "Z")]:
        tid = "event-publish"
        nodes = [trigger(1, tid, [2]), logic1(2, "generic-filter-data", [3], {**FILTER_A, "filtering-label": label}),
                 logic_if(3, "generic-if", [4], [5], DOMAIN_IF), action(4), action(5)]
        w.add(f"filter-label-{name}", "filters", f"generic-filter-data with label {label!r}", tid, workflow(nodes, tid))
        nodes = [trigger(1, tid, [2]), logic1(2, "generic-filter-data", [3], FILTER_A),
                 logic1(3, "generic-filter-reset", [4], {"filtering-label": label}),
                 logic_if(4, "generic-if", [5], [6], DOMAIN_IF), action(5), action(6)]
        w.add(f"reset-label-{name}", "filters", f"generic-filter-reset with label {label!r}", tid, workflow(nodes, tid))


def crash_cases(w: Walks) -> None:
    """Logic nodes MISP crashes on, as guards of a blocking and of a non-blocking path."""
    no_attribute = copy.deepcopy(EVENT)
    del no_attribute["Event"]["Attribute"]
    no_attribute["Event"]["Object"] = [{"id": "3", "name": "file", "distribution": "5", "Attribute": [
        {"id": "9", "uuid": "a-9", "type": "md5", "value": "x", "object_id": "3", "distribution": "5", "Tag": []}]}]
    guards = [
        ("regex-on-array", "generic-if", {"operator": "any_value",
                                          "hash_path": "Event._AttributeFlattened.{n}[Tag=/tlp/].value"}, None),
        ("distribution-without-attribute", "distribution-if",
         {"scope": "attribute", "condition": "equals", "distribution": "1"}, no_attribute),
        ("tag-if-scalar-tags", "tag-if", {"scope": "event", "condition": "in_or", "tags": "tlp:red"}, None),
        ("extract-list-path", "generic-if", {"operator": "in", "value": "x", "hash_path": ["Event", "info"]}, None),
    ]
    for name, module, params, data in guards:
        for tid in ("event-publish", "event-after-save-new"):
            nodes = [trigger(1, tid, [2]), logic_if(2, module, [3], [4], params), stop(3, "then"), stop(4, "else")]
            w.add(f"crash-{name}-{tid}", "crash", f"{module} where MISP crashes, guarding stops [{tid}]", tid,
                  workflow(nodes, tid), **({} if data is None else {"data": data}))


def debug_cases(w: Walks) -> None:
    """Debug mode (the workflow's ``debug_enabled``): MISP's error log beside its progress
    messages, and its concurrent-task jobs, whose first progress message finds no logger."""
    for tid in ("event-publish", "event-after-save-new"):
        def add(name, description, nodes, **extra):
            w.add(f"debug-{name}-{tid}", "debug", f"debug mode: {description} [{tid}]", tid,
                  workflow(nodes, tid, debug=True), **extra)

        chain = [trigger(1, tid, [2]), action(2, targets=[3]), action(3, "webhook")]
        add("chain", "a chain that succeeds", chain)
        add("chain-failure", "a failed first action", chain, actions={"2": {"success": False, "errors": ["boom"]}})
        add("chain-exception", "a throwing first action", chain, actions={"2": {"exception": "connection refused here"}})
        add("disabled", "a disabled action", chain, disabled_modules=["tag_operation"])
        add("unknown", "an unknown module", [trigger(1, tid, [2]), action(2, "no_such_module", [3]), action(3, "webhook")])
        add("stop", "stop-execution", [trigger(1, tid, [2]), stop(2)])
        add("logic", "IF nodes both ways", [trigger(1, tid, [2]), logic_if(2, "tag-if", [3], [4], RED),
                                           logic_if(3, "published-if", [5], [6], {"condition": "equals"}),
                                           action(4), action(5), action(6)])
        add("logic-disabled", "a disabled IF", [trigger(1, tid, [2]), logic_if(2, "tag-if", [3], [4], RED), action(3),
                                              action(4)], disabled_modules=["tag-if"])
        add("filter", "a filter then a reset", [trigger(1, tid, [2]), logic1(2, "generic-filter-data", [3], FILTER_A),
                                              logic1(3, "generic-filter-reset", [4], {"filtering-label": "all"}),
                                              action(4)])
        add("mismatch", "the first trigger is another one", [trigger(1, "event-before-save", [2]), action(2, "webhook")])
        add("no-user", "no workflow user", [trigger(1, tid, [2]), stop(2)], host_org_id=5)
        fan = [trigger(1, tid, [2]), logic1(2, "concurrent-task", [3, 5]), action(3, targets=[4]), action(4, "webhook"),
               action(5, "webhook", [6]), action(6)]
        add("branches", "two branches", fan)
        add("branch-first-disabled", "branches whose first node is disabled", fan, disabled_modules=["tag_operation"])
        add("branch-first-throws", "a branch whose first node throws", fan, actions={"3": {"exception": "down"}})
        add("branch-first-fails", "a branch whose first node fails", fan, actions={"3": {"success": False, "errors": ["e"]}})
        add("branch-logic-first", "a branch starting at an IF",
            [trigger(1, tid, [2]), logic1(2, "concurrent-task", [3]), logic_if(3, "tag-if", [4], [5], RED), action(4),
             action(5)])
        add("branch-logic-disabled-first", "a branch starting at a disabled IF",
            [trigger(1, tid, [2]), logic1(2, "concurrent-task", [3]), logic_if(3, "tag-if", [4], [5], RED), action(4),
             action(5)], disabled_modules=["tag-if"])
        add("branch-nested", "a branch queueing a branch",
            [trigger(1, tid, [2]), logic1(2, "concurrent-task", [3]), action(3, "no_such_module", [4]),
             logic1(4, "concurrent-task", [5]), action(5)])
        add("branch-after-filter", "a branch queued under a filter",
            [trigger(1, tid, [2]), logic1(2, "generic-filter-data", [3], FILTER_A), logic1(3, "concurrent-task", [4]),
             action(4, "no_such_module", [5]), action(5)])


TRUE_IF = {"hash_path": "Event.info", "operator": "any_value"}


def cycle_cases(w: Walks) -> None:
    """Graphs MISP refuses to save but walks when it holds them: the edge guard is its only
    loop guard, so complete graphs explode (the runner bounds its walk steps)."""
    for tid in ("event-publish", "event-after-save-new"):
        def add(name, description, nodes, **extra):
            w.add(f"cycle-{name}-{tid}", "cycle", f"{description} [{tid}]", tid, workflow(nodes, tid), **extra)

        add("two-actions", "A -> B -> A with actions", [trigger(1, tid, [2]), action(2, "webhook", [3]),
                                                       action(3, targets=[2])])
        add("self-loop", "an action connected to itself", [trigger(1, tid, [2]), action(2, "webhook", [2])])
        add("logic-loop", "an IF whose then leads back to it through an action",
            [trigger(1, tid, [2]), logic_if(2, "generic-if", [3], [], TRUE_IF), action(3, targets=[2])])
        add("filter-loop", "a filter inside a loop", [trigger(1, tid, [2]), logic1(2, "generic-filter-data", [3], FILTER_A),
                                                     action(3, targets=[2])])
        add("failed-in-loop", "a failed action inside a loop", [trigger(1, tid, [2]), action(2, "webhook", [3]),
                                                               action(3, targets=[2])],
            actions={"3": {"success": False, "errors": ["down"]}})
        # (a concurrent-task whose branch leads back to it queues jobs for ever: no outcome to record)
        for size in (3, 4) if tid == "event-publish" else (3,):  # 4: 5,251 executions, one trigger is enough
            ids = list(range(2, 2 + size))
            nodes = [trigger(1, tid, [2])] + [
                logic_if(i, "generic-if", [j for j in ids if j != i], [], TRUE_IF) for i in ids]
            for n in nodes[1:]:
                n["data"]["multiple_output_connection"] = True
            add(f"complete-logic-{size}", f"a complete graph of {size} IF nodes", nodes)
        ids = [2, 3, 4]
        nodes = [trigger(1, tid, [2])] + [action(i, "webhook", [j for j in ids if j != i]) for i in ids]
        add("complete-actions-3", "a complete graph of 3 actions", nodes)


def walk_cases() -> list[dict]:
    w = Walks()
    logging_cases(w)
    filter_cases(w)
    crash_cases(w)
    debug_cases(w)
    cycle_cases(w)
    return w.cases


if __name__ == "__main__":
    main(sys.argv[1:])
