"""Property tests (hypothesis) for the parse/evaluate invariants of the semantics library."""

from __future__ import annotations

import copy
import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from misp_modules.semantics import conditions, hashpath, php

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INT64 = st.integers(min_value=php.INT64_MIN, max_value=php.INT64_MAX)
numeric_text = st.one_of(INT64.map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
                         st.sampled_from(["0", "00", "01", " 1", "1 ", "1e3", ".5", "5.", "-0", "+3", "0x1A", "1_0"]))
text = st.one_of(st.text(max_size=8), numeric_text, st.sampled_from(["", "0", "tlp:red", "TLP:RED", "abc"]))
scalars = st.one_of(st.none(), st.booleans(), INT64, st.floats(allow_nan=False, allow_infinity=False), text)
keys = st.one_of(st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=0, max_size=5), numeric_text)
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)), max_leaves=12)
names = st.text(alphabet=string.ascii_letters, min_size=1, max_size=6)


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


# -- PHP value model ------------------------------------------------------------------------------


@SETTINGS
@given(scalars, scalars)
def test_loose_equality_is_symmetric_and_agrees_with_compare(a, b) -> None:
    assert php.loose_eq(a, b) == php.loose_eq(b, a)
    assert php.loose_eq(a, b) == (php.compare(a, b) == 0)


@SETTINGS
@given(scalars, scalars)
def test_scalar_comparison_is_antisymmetric(a, b) -> None:
    assert _sign(php.compare(a, b)) == -_sign(php.compare(b, a))


@SETTINGS
@given(INT64)
def test_canonical_integer_keys(n: int) -> None:
    assert php.php_key(str(n)) == n
    assert php.php_key("0" + str(abs(n))) == "0" + str(abs(n))  # leading zero: stays a string
    assert php.is_numeric(str(n)) and php.is_numeric(f" {n}") and php.is_numeric(f"{n} ")


@SETTINGS
@given(values)
def test_json_encoding_round_trips(value) -> None:
    encoded = php.dumps(value)
    json.loads(encoded)  # valid JSON
    assert php.dumps(php.loads(encoded)) == encoded


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_stay_floats_in_json(number: float) -> None:
    decoded = php.loads(php.dumps(number))
    assert isinstance(decoded, float) and decoded == number


# -- parsing ------------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(names, min_size=1, max_size=5))
def test_tokenize_splits_on_dots_outside_brackets(parts) -> None:
    path = ".".join(f"{p}[{p}=a.b]" for p in parts)
    assert hashpath.tokenize(path) == [f"{p}[{p}=a.b]" for p in parts]
    assert hashpath.tokenize(" . ".join(parts)) == parts  # tokens are trimmed


@SETTINGS
@given(st.lists(names, min_size=1, max_size=4), st.sampled_from(["{n}", "{s}", "{*}", "0", "x[a=1]"]))
def test_compile_is_cached_and_immutable(parts, tail) -> None:
    path = ".".join(parts + [tail])
    assert hashpath.compile(path) is hashpath.compile(path)
    assert hashpath.compile(path).source == path


# -- extract ------------------------------------------------------------------------------------


@SETTINGS
@given(values.filter(php.is_array), st.lists(keys, min_size=1, max_size=3))
def test_simple_path_is_get_cast_to_array(data, parts) -> None:
    path = ".".join(parts)
    if "{" in path or "[" in path or path in ("", "0"):
        return
    got = hashpath.get(data, path)
    expected = [] if got is None else (got if php.is_array(got) else [got])
    assert hashpath.extract(data, path) == expected


@SETTINGS
@given(values.filter(php.is_array), st.sampled_from(["", "0", None, False, 0]))
def test_empty_path_returns_the_data_itself(data, path) -> None:
    assert hashpath.extract(data, path) is data


@SETTINGS
@given(values.filter(php.is_array), st.sampled_from(["{n}", "{s}", "{*}", "a.{n}.b", "{n}[a]", "{*}[a=1].b",
                                                      "{n}[a=/x/i]", "a[b<3][c!=d]", "{s}.{n}", "0.{n}"]))
def test_extract_never_mutates_its_input(data, path) -> None:
    before = copy.deepcopy(data)
    try:
        hashpath.extract(data, path)
    except Exception:  # noqa: BLE001 - PHP TypeErrors are fine here, mutation is not
        pass
    assert data == before


rows = st.lists(st.dictionaries(st.sampled_from(["k", "v", "w"]),
                                st.one_of(st.none(), st.text(alphabet="abc:", max_size=3)), max_size=3), max_size=8)


@SETTINGS
@given(rows, st.text(alphabet="abc:", min_size=1, max_size=3))
def test_equality_conditions_on_non_numeric_strings_are_exact(data, value) -> None:
    assert hashpath.extract(data, f"{{n}}[k={value}]") == [r for r in data if r.get("k") == value]
    assert hashpath.extract(data, f"{{n}}[k!={value}]") == [r for r in data if "k" in r and r["k"] != value]
    assert hashpath.extract(data, "{n}[k]") == [r for r in data if r.get("k") is not None]
    assert hashpath.extract(data, f"{{n}}[k={value}].v") == [r["v"] for r in data if r.get("k") == value and "v" in r]


@SETTINGS
@given(st.lists(INT64, max_size=8), INT64)
def test_numeric_conditions_compare_numbers(numbers, bound) -> None:
    data = [{"n": n} for n in numbers]
    assert hashpath.extract(data, f"{{n}}[n<{bound}].n") == [n for n in numbers if n < bound]
    assert hashpath.extract(data, f"{{n}}[n>={bound}].n") == [n for n in numbers if n >= bound]
    as_strings = [{"n": str(n)} for n in numbers]
    assert hashpath.extract(as_strings, f"{{n}}[n<={bound}].n") == [str(n) for n in numbers if n <= bound]


@SETTINGS
@given(st.dictionaries(st.text(alphabet=string.ascii_letters, min_size=1, max_size=4), values, max_size=4),
       st.lists(names, min_size=1, max_size=3), values)
def test_insert_then_get_and_remove_then_check(data, parts, value) -> None:
    path = ".".join(parts)
    before = copy.deepcopy(data)
    inserted = hashpath.insert(data, path, value)
    assert data == before  # a new structure, the input is untouched
    if value is not None:
        assert hashpath.get(inserted, path) == value
    removed = hashpath.remove(inserted, path)
    assert not hashpath.check(removed, path)


# -- operators ------------------------------------------------------------------------------------

arrays = st.lists(scalars, max_size=5)


@SETTINGS
@given(arrays, scalars)
def test_in_and_not_in_are_complements_on_arrays(data, value) -> None:
    assert conditions.evaluate_condition(data, "in", value) != conditions.evaluate_condition(data, "not_in", value)
    assert not conditions.evaluate_condition(value, "in", data)  # not an array: both false
    assert not conditions.evaluate_condition(value, "not_in", data)


@SETTINGS
@given(scalars, scalars)
def test_equals_and_not_equals_are_complements_on_scalars(data, value) -> None:
    assert conditions.evaluate_condition(data, "equals", value) != conditions.evaluate_condition(
        data, "not_equals", value)


@SETTINGS
@given(arrays, arrays)
def test_set_operators(data, value) -> None:
    in_or = conditions.evaluate_condition(data, "in_or", value)
    assert in_or != conditions.evaluate_condition(data, "not_in_or", value)
    if conditions.evaluate_condition(data, "in_and", value) and value:
        assert in_or
    matching = [d for d in data if php.in_array(d, value)]
    same_order = len(matching) == len(value) and all(php.loose_eq(a, b) for a, b in zip(matching, value))
    assert conditions.evaluate_condition(data, "not_in_and", value) == (not same_order)


@SETTINGS
@given(st.lists(st.dictionaries(st.just("t"), st.sampled_from(["a", "b", "", None, 0, "0"]), max_size=1), max_size=6),
       st.sampled_from(["a", "b", ""]), st.sampled_from(["equals", "not_equals", "in", "not_in", "any_value"]))
def test_filtered_items_keep_their_original_keys(items, value, operator) -> None:
    kept = conditions.items_matching_condition(items, value, operator, "t")
    pairs = list(php.iter_items(kept))
    assert all(items[k] is item for k, item in pairs)
    assert [k for k, _ in pairs] == sorted(k for k, _ in pairs)
    encoded = json.loads(php.dumps(kept))
    if pairs and [k for k, _ in pairs] != list(range(len(pairs))):
        assert isinstance(encoded, dict)  # a filtered list becomes a JSON object


# -- generated extraction code against a plain reading of Hash::extract ---------------------------


def reference_extract(data, path: str) -> list:
    """``Hash::extract`` for pattern paths, written as CakePHP's loop (context list per token)."""
    from misp_modules.semantics.pathcompiler import make_token, tokenize

    context = [data]
    for text in tokenize(path) if "[" in path else path.split("."):
        token = make_token(text)
        following = []
        for item in context:
            pairs = [] if item is None else list(php.iter_items(item)) if php.is_array(item) else [(0, item)]
            following += [v for k, v in pairs if token.matches_key(k)]
        if token.conditions_text:
            following = [v for v in following if php.is_array(v) and all(c.test(v) for c in token.conditions)]
        context = following
    return context


tree_keys = st.sampled_from(["a", "b", "0", "1", "01", "x", " 1"])
trees = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from(["x", "1", "xa", ""])),
                     lambda children: st.one_of(st.lists(children, max_size=4),
                                                st.dictionaries(tree_keys, children, max_size=4)),
                     max_leaves=25)
path_tokens = st.builds(lambda key, cond: key + cond,
                        st.sampled_from(["{n}", "{s}", "{*}", "a", "b", "0", "1", "01", "x"]),
                        st.sampled_from(["", "", "", "[a]", "[a=1]", "[a!=x]", "[a<2]", "[b>=0]", "[a=/^x/]",
                                         "[0=x]", "[a=1][b]", "[]"]))


@SETTINGS
@given(trees, st.lists(path_tokens, min_size=1, max_size=20))
def test_generated_code_matches_the_reference_loop(data, tokens) -> None:
    path = ".".join(tokens)
    if "{" not in path and "[" not in path:
        path += ".{n}"
    if not php.is_array(data):
        data = [data]
    try:
        expected = reference_extract(data, path)
    except php.PhpTypeError:
        return
    assert php.dumps(hashpath.extract(data, path)) == php.dumps(expected)


def test_long_paths_are_chained() -> None:
    nested: object = "deep"
    for _ in range(22):
        nested = [nested]
    data = {"a": nested}
    path = "a" + ".{n}" * 22
    assert hashpath.extract(data, path) == ["deep"] == reference_extract(data, path)


def test_item_lists_mixing_dicts_and_other_values() -> None:
    items = [{"name": i} for i in range(20)] + [["x"], "s", {"other": 1}, {"name": None}, {"0": "z", "name": "n"}]
    for path in ("{n}.name", "a.{n}.name", "a.{n}[name].name"):
        data = items if path.startswith("{") else {"a": items}
        assert hashpath.extract(data, path) == reference_extract(data, path)


def test_fast_path_of_key_wildcard_key_paths_falls_back_on_unusual_data() -> None:
    """``a.b.{n}.c`` is one comprehension on JSON data; maps, scalars, lists in the way or a
    missing final key must give what Hash::extract gives."""
    cases = [({"a": {"b": [{"c": 1}, {"d": 2}]}}, "a.b.{n}.c"), ({"a": {"b": {"0": {"c": 1}, "x": {"c": 2}}}}, "a.b.{n}.c"),
             ({"a": {"b": "str"}}, "a.b.{n}.c"), ({"a": {"b": None}}, "a.b.{n}.c"), ({"a": [{"b": 1}]}, "a.b.{n}.c"),
             ({"a": {"b": [["c"], {"c": 3}]}}, "a.b.{n}.c"), ({"a": {"b": [{"c": None}]}}, "a.b.{n}.c"),
             ([{"c": 1}], "{n}.c"), ({"0": {"c": 1}, "c": 2}, "{n}.c"), ({"a": {"b": {"c": 5}}}, "a.b.{*}.c"),
             ({"a": {"b": [0, 1]}}, "a.b.{n}.c"), ({"a": {"b": [{"c": 1}] * 20 + [{"x": 1}]}}, "a.b.{n}.c")]
    for data, path in cases:
        assert hashpath.extract(data, path) == reference_extract(data, path), (data, path)

