"""Generic filters (misp-behaviour.md §7.7): recorded in the data, re-applied by getData(), reset to a snapshot."""

from __future__ import annotations

import copy
import json

import pytest

from misp_modules.semantics import conditions, php, roaming
from misp_modules.semantics.errors import FilterResetError


def event(*types: str) -> dict:
    attributes = [{"id": str(i + 1), "type": t, "value": f"v{i}", "Tag": []} for i, t in enumerate(types)]
    return {"Event": {"id": "1", "Attribute": attributes, "Object": [],
                      "_AttributeFlattened": copy.deepcopy(attributes)}}


def test_no_filters_returns_the_data_itself() -> None:
    data = event("ip-src")
    assert roaming.get_data(data) is data
    data["enabledFilters"] = []
    assert roaming.get_data(data) is data


def test_filter_narrows_only_the_selected_collection_and_keeps_keys() -> None:
    data = event("ip-src", "domain", "ip-src")
    filtered = roaming.add_filter(data, "A", "Event._AttributeFlattened.{n}", "type", "equals", "ip-src", [])
    view = roaming.get_data(filtered)
    assert list(view["Event"]["_AttributeFlattened"]) == [0, 2]  # original keys: a JSON object
    assert json.loads(php.dumps(view))["Event"]["_AttributeFlattened"].keys() == {"0", "2"}
    assert len(view["Event"]["Attribute"]) == 3  # Event.Attribute is not filtered
    assert view["enabledFilters"] == filtered["enabledFilters"] and "_unfilteredData" in view
    assert filtered["_unfilteredData"] is data  # snapshot of the first filter's input view
    assert len(data["Event"]["_AttributeFlattened"]) == 3  # the input was not modified


def test_filters_chain_in_order_and_labels_overwrite_in_place() -> None:
    data = event("ip-src", "domain", "ip-src", "url")
    data = roaming.add_filter(data, "A", "Event._AttributeFlattened.{n}", "type", "not_equals", "domain", [])
    data = roaming.add_filter(roaming.get_data(data), "B", "Event._AttributeFlattened.{n}", "value", "in_or",
                              "ignored", ["v2", "v3"])
    assert data["enabledFilters"]["B"]["value"] == ["v2", "v3"]  # value_list is used for in_or
    assert list(roaming.get_data(data)["Event"]["_AttributeFlattened"]) == [2, 3]
    data = roaming.add_filter(roaming.get_data(data), "A", "Event._AttributeFlattened.{n}", "type", "equals",
                              "url", [])
    assert list(data["enabledFilters"]) == ["A", "B"]
    assert list(roaming.get_data(data)["Event"]["_AttributeFlattened"]) == [3]


def test_modules_see_the_filtered_attributes() -> None:
    data = event("ip-src", "domain")
    data = roaming.add_filter(data, "A", "Event._AttributeFlattened.{n}", "type", "equals", "domain", [])
    view = roaming.get_data(data)
    attributes = conditions.matching_attributes(view, {"selector": "", "value": "", "operator": "", "path": ""})
    assert [a["type"] for _, a in php.iter_items(attributes)] == ["domain"]


def test_event_level_filter_with_empty_selector_sets_the_empty_key() -> None:
    data = event("ip-src")
    data = roaming.add_filter(data, "A", "", "Attribute.{n}.type", "in", "ip-src", [])
    view = roaming.get_data(data)
    assert "Event" in view[""]  # quirk: the filtered top-level entries go under key ""


def test_reset_restores_the_first_snapshot_and_drops_every_filter_and_later_change() -> None:
    data = event("ip-src", "domain")
    data = roaming.add_filter(data, "A", "Event._AttributeFlattened.{n}", "type", "equals", "domain", [])
    changed = roaming.get_data(data)
    changed = {**changed, "Event": {**changed["Event"], "info": "changed after the filter"}}
    data = roaming.add_filter(changed, "B", "Event._AttributeFlattened.{n}", "value", "equals", "v1", [])
    for label in ("B", "all"):
        reset = roaming.reset_filter(roaming.get_data(data), label)
        assert "info" not in reset["Event"]  # the change made after the first filter is lost
        assert len(roaming.get_data(reset)["Event"]["_AttributeFlattened"]) == 2
    assert roaming.reset_filter(roaming.get_data(data), "all")["enabledFilters"] == []


def test_reset_without_a_filter_is_misps_wipe_or_a_clear_error() -> None:
    """§15.1: MISP wipes the data with `all` (faithful) and crashes with a label (a clear error)."""
    data = event("ip-src")
    assert roaming.reset_filter(data, "all") == {"enabledFilters": []}
    for label in ("A", "F", "Z", ""):
        with pytest.raises(FilterResetError, match="no filter to remove.*MISP crashes"):
            roaming.reset_filter(data, label)


@pytest.mark.parametrize("snapshot, label, expected", [
    ([], "A", []),                                        # unset on an empty array: the data becomes []
    ([], "all", {"enabledFilters": []}),
    ({"Event": {"info": "s"}}, "Z", {"Event": {"info": "s"}}),   # another label: the snapshot as it is
    ({"Event": {}, "enabledFilters": {"A": {}, "B": {}}}, "A", {"Event": {}, "enabledFilters": {"B": {}}}),
    ({"Event": {}, "enabledFilters": {"A": {}}}, True, {"Event": {}, "enabledFilters": {"A": {}}}),  # key 1
])
def test_reset_restores_the_snapshot_as_misp_does(snapshot, label, expected) -> None:
    assert roaming.reset_filter({"Event": {}, "_unfilteredData": snapshot}, label) == expected


@pytest.mark.parametrize("snapshot", ["", "x", 0, 1.5])
def test_reset_of_a_snapshot_that_is_not_an_array_is_a_clear_error(snapshot) -> None:
    for label in ("all", "A", "Z"):
        with pytest.raises(FilterResetError, match="MISP crashes"):
            roaming.reset_filter({"Event": {}, "_unfilteredData": snapshot}, label)


def test_plain_json_filters_work_like_php_decoded_ones() -> None:
    data = event("ip-src", "domain")
    data = roaming.add_filter(data, "A", "Event._AttributeFlattened.{n}", "type", "equals", "domain", [])
    from_plain = roaming.get_data(json.loads(php.dumps(data)))
    from_php = roaming.get_data(php.loads(php.dumps(data)))
    assert php.dumps(from_plain) == php.dumps(from_php) == php.dumps(roaming.get_data(data))
