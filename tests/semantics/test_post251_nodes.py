"""MISP's logic nodes added after v2.5.1 (docs/misp-behaviour.md §16): the pure semantics.

Expected values are the ones MISP's PHP gives (checked with the walk oracle of
tests/data/conformance/oracle/README.md; the clock is 2026-01-01T00:00:00Z)."""

from __future__ import annotations

import json

import pytest

from misp_modules.semantics import aggregate, decisions, filter_nodes
from misp_modules.semantics.errors import PhpTypeError, UnsupportedDataError
from misp_modules.semantics.timedelta import InvalidDateSpecification, resolve_time_delta, strtotime, timestamp_value
from tests.support.data import CONFORMANCE

NOW = 1767225600


@pytest.mark.parametrize("value, expected", [
    ("30d", NOW - 30 * 86400), ("45D", NOW - 45 * 86400), ("90m", NOW - 5400), ("3600s", NOW - 3600),
    ("12h", NOW - 12 * 3600), ("1.5d", NOW - 129600.0), ("0", 0), (0, 0), ("1766793600", 1766793600),
    ("abc", NOW + 1), ("5x", NOW + 1), ("d", NOW + 1), ("yesterday", 1767139200), ("1 week ago", 1766620800),
    ("2025-12-01", 1764547200), ("@123", 123), ("2025-12-01T10:00:00+02:00", 1764576000),
    ("2 days 3 hours ago", 1767042000),
    # a text ending in d/h/m/s is read as <count><unit> first: "-2 day" is no count, so MISP's now + 1
    ("-2 days", NOW + 1), ("+1 month", NOW + 1), ("last month", NOW + 1),
])
def test_resolve_time_delta(value, expected) -> None:
    got = resolve_time_delta(value, NOW)
    assert got == expected and type(got) is type(expected)


def test_a_time_this_library_cannot_read_is_flagged() -> None:
    notes: list[str] = []
    assert resolve_time_delta("next week", NOW, notes) == NOW + 1  # PHP: weekday arithmetic
    assert notes and "not a time this runner reads" in notes[0]
    assert strtotime("", NOW) is None
    assert strtotime("-2 days", NOW) == 1767052800 and strtotime("+1 month", NOW) == 1769904000


def test_timestamp_pairs_are_sorted_and_other_sizes_throw() -> None:
    assert timestamp_value(["7d", "1d"], NOW) == [NOW - 7 * 86400, NOW - 86400]
    assert timestamp_value(["1d", "7d"], NOW) == [NOW - 7 * 86400, NOW - 86400]
    with pytest.raises(InvalidDateSpecification, match="two elements"):
        timestamp_value(["1d", "2d", "3d"], NOW)


def _event() -> dict:
    attrs = [{"id": str(i), "value": f"v{i % 3}", "timestamp": str(NOW - i * 86400),
              "Tag": [{"name": "PAP:RED"}] if i == 1 else [],
              "_allTags": [{"name": "tlp:white"}] + ([{"name": "PAP:RED"}] if i == 1 else [])} for i in range(1, 5)]
    return {"Event": {"threat_level_id": "2", "Attribute": attrs, "_AttributeFlattened": attrs}}


@pytest.mark.parametrize("kind, operator, value, expected", [
    ("count", "equals", "4", True), ("count", "not_equals", "4", False), ("sum", "equals", "10", True),
    ("avg", "equals", "2.5", True), ("min", "equals", "1", True), ("max", "equals", "4.0", True),
    ("unique_count", "equals", "4", True), ("median", "equals", "2.5", True),
    ("count", "greater", "0", False), ("count", "greater_equals", "0", False),  # MISP's helper knows neither
    ("count", "less", "99", False), ("count", "less_equals", "99", False), ("count", "in", "4", False),
])
def test_aggregates(kind, operator, value, expected) -> None:
    params = {"aggregation_path": "Event._AttributeFlattened.{n}.id", "aggregation_type": kind,
              "operator": operator, "value": value}
    assert aggregate.aggregate_comparator_if(_event(), params) == (expected, [])


def test_aggregate_edge_cases() -> None:
    data = _event()
    # values through floatval: "v0".."v2" are 0.0, so one unique value
    assert aggregate.aggregate_comparator_if(data, {"aggregation_path": "Event.Attribute.{n}.value",
                                                    "aggregation_type": "unique_count", "operator": "equals",
                                                    "value": "1"}) == (True, [])
    # an unknown type: false with MISP's error, and false == '' holds
    assert aggregate.aggregate_comparator_if(data, {"aggregation_type": "mode", "operator": "equals", "value": ""}) \
        == (True, ["Unknown aggregation type: mode"])
    # nothing to aggregate: avg 0, median null, min/max MISP's ValueError
    empty = {"aggregation_path": "Event.Nope.{n}", "operator": "equals", "value": "0"}
    assert aggregate.aggregate_comparator_if(data, {**empty, "aggregation_type": "avg"}) == (True, [])
    assert aggregate.aggregate_comparator_if(data, {**empty, "aggregation_type": "median"}) == (False, [])
    with pytest.raises(UnsupportedDataError, match="min"):
        aggregate.aggregate_comparator_if(data, {**empty, "aggregation_type": "min"})
    assert aggregate.never_passes({}) and "never passes" in aggregate.never_passes({})  # default greater
    assert aggregate.never_passes({"operator": "equals"}) is None


def test_filter_tag_versions() -> None:
    params = {"scope": "attribute", "condition": "in_or", "tags": ["PAP:RED"]}
    ok, new = filter_nodes.filter_tag(_event(), params, "0.3")
    assert ok and list(new["enabledFilters"]) == ["A", "A_2"]
    assert new["enabledFilters"]["A"] == {"selector": "Event._AttributeFlattened", "path": "Tag.{n}.name",
                                          "operator": "in_or", "value": ["PAP:RED"]}
    assert new["_unfilteredData"] == _event()
    ok, new = filter_nodes.filter_tag(_event(), params, "0.2")
    assert ok and list(new["enabledFilters"]) == ["A"]  # 0.2: no Event.Attribute filter
    ok, new = filter_nodes.filter_tag(_event(), {"tags": ["x"]}, "0.2")  # 0.2 default scope event: nothing
    assert ok and "enabledFilters" not in new and "_unfilteredData" in new
    assert filter_nodes.filter_tag_records_nothing({}, "0.2") and filter_nodes.filter_tag_records_nothing({}, "0.3") is None
    ok, new = filter_nodes.filter_tag(_event(), {"scope": "inherited_report", "clusters": ["threat-actor=\"X\""]})
    assert new["enabledFilters"]["A"]["value"] == ['misp-galaxy:threat-actor="X"']
    with pytest.raises(PhpTypeError, match="array_merge"):
        filter_nodes.filter_tag(_event(), {"tags": "PAP:RED"})
    assert filter_nodes.filter_tag_version("0.1") == "0.2" and filter_nodes.filter_tag_version(None) == "0.3"


def test_filter_timestamp() -> None:
    ok, new = filter_nodes.filter_timestamp(_event(), {"value": "2d"}, NOW)
    assert ok and new["enabledFilters"]["A_2"] == {"selector": "Event.Attribute", "path": "timestamp",
                                                   "operator": "greater", "value": NOW - 2 * 86400}
    ok, new = filter_nodes.filter_timestamp(_event(), {"target": "event_report", "operator": "since",
                                                       "value": "1766793600"}, NOW)
    assert ok and new["enabledFilters"] == {"A": {"selector": "Event.EventReport", "path": "timestamp",
                                                  "operator": "greater", "value": 1766793600}}
    assert filter_nodes.filter_timestamp(_event(), {"operator": "since", "value": "7d"}, NOW) == (False, None)
    ok, new = filter_nodes.filter_timestamp(_event(), {"target": "event"}, NOW)
    assert new["enabledFilters"]["A"]["selector"] is None
    assert "removes every item" in filter_nodes.filter_timestamp_removes_all({})
    assert "numeric" in filter_nodes.filter_timestamp_removes_all({"operator": "since", "value": "7d"})


def test_threat_level_default_by_release() -> None:
    data = {"Event": {"threat_level_id": "3"}}
    assert decisions.threat_level_if(data, {}) == (True, [])                # 3 == "3"
    assert decisions.threat_level_if(data, {}, "2.5.1") == (False, [])      # "3" == "Low" is false
    assert decisions.threat_level_if({"Event": {"threat_level_id": "2"}},   # "2" <= "Low" as strings
                                     {"condition": "greater_or_equal_than"}, "2.5.1") == (True, [])


def _timedelta_cases() -> list[dict]:
    path = CONFORMANCE / "oracle" / "timedelta-oracle-16.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


TIMEDELTA_CASES = _timedelta_cases()


@pytest.mark.parametrize("case", TIMEDELTA_CASES, ids=[c["id"] for c in TIMEDELTA_CASES])
def test_resolve_time_delta_as_misp(case) -> None:
    """MISP's resolveTimeDelta (PHP's strtotime behind it) on the walk values and common texts;
    a text this library does not read must be one PHP does not read either (MISP: now + 1)."""
    notes: list[str] = []
    got = resolve_time_delta(case["value"], case["now"], notes)
    expected = case["expected"]
    assert got == expected["result"], notes
    assert type(got) is (float if expected["result_type"] == "double" else int)
    if notes:
        assert expected["result"] == case["now"] + 1
