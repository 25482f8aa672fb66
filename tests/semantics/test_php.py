"""PHP value model details, PCRE conditions and the Inflector."""

from __future__ import annotations

import warnings

import pytest

from misp_modules.semantics import hashpath, inflector, php
from misp_modules.semantics.preg import PhpRegexWarning, compile_php_regex


@pytest.mark.parametrize("value, text", [
    (1.0, "1"), (1.5, "1.5"), (0.1 + 0.2, "0.3"), (1e25, "1.0E+25"), (1e14, "1.0E+14"), (1e-5, "1.0E-5"),
    (0.0001, "0.0001"), (-0.0, "-0"), (123456789012345.0, "1.2345678901234E+14"),
])
def test_float_to_string_uses_precision_14(value, text) -> None:
    assert php.float_to_string(value) == text


@pytest.mark.parametrize("value, text", [
    (1.0, "1.0"), (1e16, "10000000000000000.0"), (1e17, "1.0e+17"), (0.1 + 0.2, "0.30000000000000004"),
    (9223372036854775808, "9.223372036854776e+18"), (1e-5, "1.0e-5"),
])
def test_json_floats(value, text) -> None:
    assert php.dumps(value) == text


def test_json_encoding_of_maps_and_strings() -> None:
    assert php.dumps({0: "a", 1: "b"}) == '["a","b"]'
    assert php.dumps({"0": "a", "1": "b"}) == '["a","b"]'
    assert php.dumps({1: "a"}) == '{"1":"a"}'
    assert php.dumps({}) == "[]" and php.dumps(php.JsonObject()) == "{}"
    assert php.dumps("é/\u2028\"") == '"é/\\u2028\\""'


@pytest.mark.parametrize("a, b, equal", [
    ("1", "01", True), ("1e1", "10", True), ("abc", 0, False), (None, "", True), (None, "0", False),
    (True, "tlp:red", True), (False, "0", True), ([], False, True), ("9223372036854775808", "9223372036854775807", False),
    (9223372036854775807, "9223372036854775808", True), ("1 ", "1", True), ("INF", float("inf"), True),
])
def test_loose_equality_table(a, b, equal) -> None:
    assert php.loose_eq(a, b) is equal


def test_sort_and_in_array() -> None:
    assert php.php_sort(["b", "a", "10", "9"]) == ["9", "10", "a", "b"]
    assert php.in_array("1", [1]) and not php.in_array("a", [0])


def test_regex_conditions_follow_pcre_and_php_modifiers() -> None:
    assert compile_php_regex("/^év/u").match("évènement")
    assert compile_php_regex("/\\x{e9}/u").match("é")  # PCRE syntax, not Python's
    assert compile_php_regex("/a$/").match("a\n")  # $ matches before a final newline
    assert not compile_php_regex("/a$/D").match("a\n")
    assert not compile_php_regex("/a\\z/").match("a\n")
    assert compile_php_regex("/[[:digit:]]+/").match("x1")
    assert not compile_php_regex("/^b/A").match("ab") and compile_php_regex("/b/").match("ab")
    for broken in ("/(/", "/abc", "/a/q", "/a/e", "abc"):
        regex = compile_php_regex(broken)
        assert regex.error
        with pytest.warns(PhpRegexWarning):
            assert regex.match("abc") is False


def test_broken_regex_condition_matches_nothing_but_validate_reports_it() -> None:
    rows = [{"n": "a"}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhpRegexWarning)
        assert hashpath.extract(rows, "{n}[n=/(/]") == []
    assert "missing closing parenthesis" in hashpath.validate("{n}[n=/(/]")
    assert hashpath.validate("Event._AttributeFlattened.{n}[type=ip-src].value") is None


@pytest.mark.parametrize("name, ident, label", [
    ("testAction", "test_action", "TestAction"), ("Data extraction path", "data_extraction_path",
                                                  "Data Extraction Path"),
    ("bot_access_token", "bot_access_token", "Bot Access Token"), ("message_template", "message_template",
                                                                   "Message Template"),
    ("Ünicode name", "Uenicode_name", "Ünicode Name"), ("  weird--name!! ", "weird_name", "  Weird--name!! "),
])
def test_inflector_names_params_as_misp_does(name, ident, label) -> None:
    assert inflector.slug(inflector.underscore(name)) == inflector.param_id(name) == ident
    assert inflector.humanize(name) == label


@pytest.mark.parametrize("value, number", [("1e3", 1000), (" 12abc", 12), ("+5", 5), ("0x1A", 0), (1.9, 1),
                                           (float("inf"), 0), (None, 0), ([], 0), ([7], 1), (True, 1)])
def test_intval_is_php_int_cast(value, number) -> None:
    assert php.intval(value) == number


@pytest.mark.parametrize("value", [None, False, 0, 0.0, "", "0", [], {}])
def test_empty_values_are_false_for_truthy_and_flag(value) -> None:
    assert php.is_empty(value) and not php.truthy(value) and not php.flag(value)


def test_flag_reads_the_string_false_as_its_writer_meant() -> None:
    assert php.truthy("false") and not php.flag("false")
    assert php.flag("1") and php.flag(True) and php.flag("0.0") and php.truthy("0.0")


@pytest.mark.parametrize("value, name, described", [
    ({}, "object", "an object"), ([], "array", "an array"), ((), "array", "an array"), ("x", "string", "a string"),
    (1, "number", "a number"), (1.5, "number", "a number"), (True, "boolean", "a boolean"), (None, "null", "null"),
])
def test_json_type_names_a_decoded_value_in_jsons_words(value, name, described) -> None:
    assert (php.json_type(value), php.a_json_type(value)) == (name, described)
    assert php.php_type_name(True) == "bool"  # PHP's own names stay PHP's
