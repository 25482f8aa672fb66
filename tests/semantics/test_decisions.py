"""Logic module decisions beyond the conformance cases: defaults, crash cases, sharing groups."""

from __future__ import annotations

import pytest

from misp_modules.semantics import decisions
from misp_modules.semantics.errors import PhpTypeError, UnsupportedDataError


def event(distribution="1", attribute=None, **extra) -> dict:
    ev = {"id": "1", "distribution": distribution, "sharing_group_id": "0", "org_id": "1", "orgc_id": "2",
          "published": False, "threat_level_id": "3", "Tag": [{"name": "tlp:amber"}], **extra}
    ev["Attribute"] = [attribute] if attribute else []
    ev["_AttributeFlattened"] = list(ev["Attribute"])
    return {"Event": ev}


def test_missing_params_take_misp_defaults() -> None:
    data = event()
    assert decisions.tag_if(data, {"tags": ["tlp:amber"]}) == (True, [])  # scope event, in_or
    assert decisions.organisation_if(data, {}) == (False, [])  # orgc 2 not in the default [1]
    assert decisions.organisation_if(data, {"org_type": "org"}) == (True, [])
    assert decisions.threat_level_if(data, {}) == (True, [])  # newest MISP: default key 3
    assert decisions.threat_level_if(data, {}, "2.5.1") == (False, [])  # v2.5.1: "3" == "Low" is false (quirk)
    assert decisions.published_if(data, {"condition": None}) == (False, [])


def test_generic_if_any_value_and_equals_read_differently() -> None:
    data = event()
    assert decisions.generic_if(data, {"hash_path": "Event.Tag.{n}.name", "operator": "any_value"}) == (True, [])
    # equals uses Hash::get: the pattern is a literal key, so nothing is found
    assert decisions.generic_if(data, {"hash_path": "Event.Tag.{n}.name", "operator": "equals",
                                       "value": "tlp:amber"}) == (False, [])
    assert decisions.generic_if(data, {"hash_path": "Event.Tag.0.name", "operator": "equals",
                                       "value": "tlp:amber"}) == (True, [])


def test_count_if_compares_loosely() -> None:
    data = event(attribute={"distribution": "5"})
    assert decisions.count_if(data, {"selector": "Event.Attribute", "operator": "greater", "value": "0.5"})[0]
    assert decisions.count_if(data, {"selector": "Event.Attribute", "operator": "less", "value": "abc"})[0]
    assert not decisions.count_if(data, {"selector": "Event.Attribute", "operator": "bogus", "value": "1"})[0]


def test_tag_if_scalar_tags_param_is_a_clear_error() -> None:
    with pytest.raises(PhpTypeError, match="tags"):
        decisions.tag_if(event(), {"tags": "tlp:amber"})


def test_distribution_if_attribute_scope_folds_object_and_event() -> None:
    attribute = {"distribution": "5", "sharing_group_id": "0", "Object": {"distribution": "2"}}
    data = event(distribution="3", attribute=attribute)
    assert decisions.distribution_if(data, {"scope": "attribute", "distribution": "2"}) == (True, [])
    assert decisions.distribution_if(data, {"scope": "event", "distribution": "3"}) == (True, [])
    assert decisions.distribution_if(data, {"scope": "attribute", "condition": "more_restrictive_or_equal_than",
                                            "distribution": "1"}) == (False, [])


def test_distribution_if_sharing_groups() -> None:
    attribute = {"distribution": "4", "sharing_group_id": "7"}
    data = event(distribution="4", attribute=attribute, sharing_group_id="7")
    params = {"scope": "attribute", "distribution": "4"}
    assert decisions.distribution_if(data, {**params, "sharing_group_id": ["7"]}) == (True, [])
    assert decisions.distribution_if(data, {**params, "sharing_group_id": ["8"]}) == (False, [])
    assert decisions.distribution_if(data, {**params, "condition": "not_equals", "sharing_group_id": ["8"]}) == (True, [])
    assert decisions.distribution_if(data, {**params, "condition": "more_restrictive_or_equal_than"}) == (
        False, ["Condition operator not supported for that distribution level"])


def test_distribution_if_unsupported_level() -> None:
    assert decisions.distribution_if(event(distribution="9"), {"scope": "event"}) == (
        False, ["Distribution level not supported"])


def test_distribution_if_without_attribute_raises_where_misp_crashes() -> None:
    with pytest.raises(UnsupportedDataError, match="Event.Attribute"):
        decisions.distribution_if(event(), {"scope": "attribute"})
    with pytest.raises(UnsupportedDataError):
        decisions.distribution_if(event(), {"scope": "event", "distribution": "4"})
    assert decisions.distribution_if(event(), {"scope": "event", "distribution": "1"}) == (True, [])


def test_decisions_need_array_data() -> None:
    for decide in decisions.DECISIONS.values():
        with pytest.raises(PhpTypeError):
            decide("not an event", {})
