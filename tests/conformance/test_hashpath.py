"""Every case of the hash path conformance file, produced by MISP's own PHP code.

Reads ``tests/data/conformance/hashpath/golden-public.jsonl`` (or the file named by
``HASHPATH_GOLDEN``) and the cases generated later with the same harness
(``tests/data/conformance/oracle/hashpath-*.jsonl``). Each case runs twice: on inputs decoded the way PHP's
``json_decode($x, true)`` does (:func:`php.loads`) and on inputs from a plain ``json.loads``
(string keys such as ``"0"``), which every function must treat the same. Results are compared
in PHP's encoding (lists vs maps, ints vs floats, key order); an expected PHP error must be
raised as the Python exception docs/semantics.md maps it to. A per-category table is printed
after the run when a case failed.
"""

from __future__ import annotations

import collections
import json
import warnings
from typing import Any

import pytest

from misp_modules.semantics import conditions, decisions, hashpath, php, roaming
from misp_modules.semantics.errors import InvalidPathError, PhpTypeError, SemanticsError
from misp_modules.semantics.preg import PhpRegexWarning
from tests.support.data import hashpath_case_files
from tests.support.php_json import Pairs, canonical

FILES = hashpath_case_files()

#: PHP error class -> the exception this library raises for it (docs/semantics.md, "Exceptions").
PHP_ERRORS: dict[str, type[BaseException]] = {
    "TypeError": PhpTypeError,
    "InvalidArgumentException": InvalidPathError,
    "CakeException": hashpath.CakeException,
}


def _load_cases() -> list[tuple[dict, dict, dict]]:
    """``(php_case, plain_case, expected_raw)`` per line; expected_raw keeps JSON's own shapes."""
    cases = []
    for path in FILES:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                raw = json.loads(line, object_pairs_hook=Pairs)
                cases.append((php.loads(line), json.loads(line), dict(raw)["expected"]))
    return cases



def _encoded(value: Any) -> Any:
    return canonical(json.loads(php.dumps(value), object_pairs_hook=Pairs))


def run_case(case: dict) -> Any:
    """Call the library function the case names, with its arguments (absent = default)."""
    fn = case["fn"]
    if fn == "extract":
        return hashpath.extract(case["data"], case["path"])
    if fn == "get":
        if "default" in case:
            return hashpath.get(case["data"], case["path"], case["default"])
        return hashpath.get(case["data"], case["path"])
    if fn == "check":
        return hashpath.check(case["data"], case["path"])
    if fn == "insert":
        return hashpath.insert(case["data"], case["path"], case.get("values"))
    if fn == "remove":
        return hashpath.remove(case["data"], case["path"])
    if fn == "combine":
        return hashpath.combine(case["data"], case["keyPath"], case.get("valuePath"), case.get("groupPath"))
    if fn == "extractData":
        return conditions.extract_data(case["data"], case["path"])
    if fn == "evaluateCondition":
        return conditions.evaluate_condition(case["data"], case["operator"], case["value"])
    if fn == "getItemsMatchingCondition":
        return conditions.items_matching_condition(case["items"], case["value"], case["operator"], case["path"])
    if fn == "roamingGetData":
        return roaming.get_data(case["data"])
    if fn == "moduleExec":
        decide = decisions.DECISIONS[case["module"]]
        result, errors = decide(roaming.get_data(case["data"]), case["params"])
        return {"return": result, "errors": errors}
    raise AssertionError(f"unknown fn {fn!r} in case {case['id']}")


def expected_exception(case: dict, php_class: str) -> type[BaseException]:
    """Where a logic module crashes in MISP, any documented SemanticsError is the contract."""
    if case["fn"] == "moduleExec":
        return SemanticsError
    return PHP_ERRORS.get(php_class, SemanticsError)


def outcome_problem(case: dict, expected_raw: Any) -> str | None:
    """None when the library reproduces the expected outcome, else what differs."""
    expected = dict(expected_raw)
    try:
        result = run_case(case)
    except SemanticsError as exc:
        if expected["ok"]:
            return f"raised {type(exc).__name__}: {exc}"
        php_class = dict(expected["error"])["class"]
        wanted = expected_exception(case, php_class)
        if not isinstance(exc, wanted):
            return f"raised {type(exc).__name__}, PHP's {php_class} maps to {wanted.__name__}"
        return None
    if not expected["ok"]:
        return f"returned {php.dumps(result)[:200]}, PHP raised {dict(expected['error'])['class']}"
    if _encoded(result) != canonical(expected["result"]):
        return f"result {php.dumps(result)[:300]} != expected {json.dumps(expected['result'])[:300]}"
    if php.gettype(result) != expected["result_type"]:
        return f"gettype {php.gettype(result)} != {expected['result_type']}"
    return None


CASES = _load_cases()
_TALLY: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])


def write_summary(reporter: Any) -> None:
    """Passed/total per category, written by tests/conformance/conftest.py after the run (and
    only when a case failed: a green run needs no table)."""
    if all(passed == total for passed, total in _TALLY.values()):
        return
    reporter.write_line("")
    reporter.write_line(f"hash path conformance ({', '.join(p.name for p in FILES)}), passed/total per category:")
    for category in sorted(_TALLY):
        passed, total = _TALLY[category]
        reporter.write_line(f"  {category:28} {passed:4}/{total:<4}{'' if passed == total else '  <-- FAILURES'}")
    passed = sum(p for p, _ in _TALLY.values())
    total = sum(t for _, t in _TALLY.values())
    reporter.write_line(f"  {'all':28} {passed:4}/{total:<4}")


def test_conformance_file_is_there() -> None:
    assert CASES, f"no cases in {FILES}"
    assert any(case[0]["id"].endswith("-oracle14-0001") for case in CASES), "no cases from issue #14's file"


@pytest.mark.parametrize("decoding", ["php", "plain"])
@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0]["id"] for c in CASES])
def test_case(index: int, decoding: str) -> None:
    php_case, plain_case, expected = CASES[index]
    case = php_case if decoding == "php" else plain_case
    with warnings.catch_warnings():
        # PHP warns for a broken pattern and the match fails: the outcome is what is compared.
        warnings.simplefilter("ignore", PhpRegexWarning)
        problem = outcome_problem(case, expected)
    tally = _TALLY[case["category"] if decoding == "php" else "(all, plain json.loads inputs)"]
    tally[1] += 1
    tally[0] += problem is None
    assert problem is None, f"{case['id']} ({case['fn']}, {decoding} decoding): {problem}"
