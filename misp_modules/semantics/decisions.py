"""The decisions of MISP's built-in IF logic modules, as pure functions (docs/misp-behaviour.md §9.2).

Each takes the roaming data as ``getData()`` returns it (the caller applies
:func:`misp_modules.semantics.roaming.get_data` first) and the node's params resolved as MISP's
``getParamsWithValues`` does; a param that is missing or null falls back to the module's default
here too. Each returns ``(result, errors)``: MISP's ``exec()`` boolean and the errors it adds.
Where MISP crashes, an :class:`UnsupportedDataError`/:class:`PhpTypeError` says why instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import aggregate, hashpath, php
from .conditions import evaluate_condition, extract_data
from .errors import PhpTypeError, UnsupportedDataError
from .php import compare, in_array, intval, is_array, is_empty, loose_eq

Decision = tuple[bool, list[str]]

#: MISP's param defaults per module (a param without a default resolves to "").
DEFAULTS: dict[str, dict[str, Any]] = {
    "generic-if": {"operator": "in"},
    "count-if": {"operator": "equals"},
    "tag-if": {"scope": "event", "condition": "in_or"},
    "published-if": {"condition": "equals"},
    "organisation-if": {"org_type": "orgc", "condition": "in", "org_id": [1]},
    "threat-level-if": {"condition": "equals", "threatlevel": 3},
    "distribution-if": {"scope": "attribute", "condition": "equals", "distribution": "0",
                        "sharing_group_id": []},
    "aggregate_comparator_if": aggregate.DEFAULTS,
}


def _param(params: Mapping[Any, Any] | None, module: str, name: str) -> Any:
    value = params.get(name) if isinstance(params, Mapping) else None
    if value is None:
        value = DEFAULTS[module].get(name)
    return "" if value is None else value


def _require_array(data: Any, module: str) -> None:
    if not is_array(data):
        raise PhpTypeError(f"{module}: the roaming data must be an array, {php.php_type_name(data)} given")


def generic_if(data: Any, params: Mapping[Any, Any]) -> Decision:
    """``IF :: Generic``: ``Hash::get`` for equals/not_equals, ``extractData`` otherwise."""
    _require_array(data, "generic-if")
    path = _param(params, "generic-if", "hash_path")
    operator = _param(params, "generic-if", "operator")
    value = _param(params, "generic-if", "value")
    if loose_eq(operator, "in_or"):
        value = _param(params, "generic-if", "value_list")
    if loose_eq(operator, "equals") or loose_eq(operator, "not_equals"):
        extracted = hashpath.get(data, path, [])
    else:
        extracted = extract_data(data, path)
        if extracted is False:
            return False, [f"Error while trying to extract data with path `{path}`"]
    if loose_eq(operator, "any_value") and not is_empty(extracted):
        return True, []
    return evaluate_condition(extracted, operator, value), []


def count_if(data: Any, params: Mapping[Any, Any]) -> Decision:
    """``IF :: Count``: ``count(extractData(data, selector)) <operator> value``, loosely."""
    _require_array(data, "count-if")
    selector = _param(params, "count-if", "selector")
    operator = _param(params, "count-if", "operator")
    value = _param(params, "count-if", "value")
    extracted = extract_data(data, selector)
    if extracted is False:
        return False, [f"Error while trying to extract data with selector `{selector}`"]
    n = php.count(extracted)
    if loose_eq(operator, "equals"):
        return loose_eq(n, value), []
    if loose_eq(operator, "not_equals"):
        return not loose_eq(n, value), []
    if loose_eq(operator, "greater"):
        return compare(value, n) < 0, []
    if loose_eq(operator, "greater_equals"):
        return compare(value, n) <= 0, []
    if loose_eq(operator, "less"):
        return compare(n, value) < 0, []
    if loose_eq(operator, "less_equals"):
        return compare(n, value) <= 0, []
    return False, []


_TAG_PATHS = {
    "event": "Event.Tag.{n}.name",
    "attribute": "Event._AttributeFlattened.{n}.Tag.{n}.name",
    "event_attribute": "Event._AttributeFlattened.{n}._allTags.{n}.name",
}


def _picked(params: Mapping[Any, Any], name: str) -> list[Any]:
    """A picker param as a list: empty values are ``[]``; a scalar is MISP's array_merge crash."""
    value = _param(params, "tag-if", name)
    if is_empty(value):
        return []
    if not is_array(value):
        raise PhpTypeError(f"tag-if: param `{name}` must be a list of names, got {value!r} "
                           "(MISP: array_merge() TypeError)")
    return [v for _, v in php.iter_items(value)]


def tag_if(data: Any, params: Mapping[Any, Any]) -> Decision:
    """``IF :: Tag``: the scope's tag names against the selected tags and galaxy clusters.

    Clusters are picked without their ``misp-galaxy:`` prefix; it is added back here. A scope
    other than attribute/event_attribute reads the event's tags, as MISP's ``else`` branch does
    (e.g. ``event_report`` from a newer MISP).
    """
    _require_array(data, "tag-if")
    selected = _picked(params, "tags") + ["misp-galaxy:" + php.to_string(c) for c in _picked(params, "clusters")]
    scope = _param(params, "tag-if", "scope")
    path = _TAG_PATHS["attribute"] if loose_eq(scope, "attribute") else (
        _TAG_PATHS["event_attribute"] if loose_eq(scope, "event_attribute") else _TAG_PATHS["event"])
    extracted = hashpath.extract(data, path)
    return evaluate_condition(extracted, _param(params, "tag-if", "condition"), selected), []


def published_if(data: Any, params: Mapping[Any, Any]) -> Decision:
    """``IF :: Published``: ``evaluateCondition(!empty(Event.published), condition, true)``."""
    _require_array(data, "published-if")
    published = not is_empty(hashpath.get(data, "Event.published"))
    return evaluate_condition(published, _param(params, "published-if", "condition"), True), []


def organisation_if(data: Any, params: Mapping[Any, Any]) -> Decision:
    """``IF :: Organisation``: the event's (creator) org id is (not) among the selected ids."""
    _require_array(data, "organisation-if")
    # MISP reads `Event.org_id` unless the type is `orgc`: an unknown type means the owner org
    field = "Event.orgc_id" if loose_eq(_param(params, "organisation-if", "org_type"), "orgc") else "Event.org_id"
    org_id = intval(hashpath.get(data, field))
    condition = _param(params, "organisation-if", "condition")
    # convertOperators(): version 0.1's equals/not_equals; anything else goes to evaluateCondition as is
    operator = "in" if loose_eq(condition, "equals") else ("not_in" if loose_eq(condition, "not_equals") else condition)
    selected = _param(params, "organisation-if", "org_id")
    if is_empty(selected):  # MISP: `!empty($value) ? $value : []`, so "0" selects nothing
        selected = []
    elif not is_array(selected):
        selected = [selected]
    return evaluate_condition(selected, operator, org_id), []


#: ``threat-level-if``'s ``threatlevel`` default per MISP release: the v2.5.1 file (and every
#: release before MISP PR #10587) says the *name* ``'Low'``, newer ones the option key ``3``. Both
#: files are version 0.1, so the node's saved ``module_version`` cannot tell them apart: the run
#: says which MISP it reproduces (``misp_release``, docs/contract.md §2).
THREAT_LEVEL_DEFAULTS: dict[str | None, Any] = {"2.5.1": "Low", None: 3}
MISP_RELEASES = ("2.5.1",)  # the releases a run may name; None: the newest MISP code this project knows


def threat_level_default(misp_release: str | None) -> Any:
    return THREAT_LEVEL_DEFAULTS.get(misp_release, THREAT_LEVEL_DEFAULTS[None])


def threat_level_if(data: Any, params: Mapping[Any, Any], misp_release: str | None = None) -> Decision:
    """``IF :: Threat Level``: lower ids are more severe, so "greater or equal" is ``<=``.

    A missing ``threatlevel`` takes the default of ``misp_release``'s file: ``3``, or for
    ``"2.5.1"`` the name ``"Low"``, which equals no id and compares as a string (quirk kept)."""
    _require_array(data, "threat-level-if")
    level = hashpath.get(data, "Event.threat_level_id")
    given = params.get("threatlevel") if isinstance(params, Mapping) else None
    selected = threat_level_default(misp_release) if given is None else given
    condition = _param(params, "threat-level-if", "condition")
    if loose_eq(condition, "equals"):
        return loose_eq(level, selected), []
    if loose_eq(condition, "not_equals"):
        return not loose_eq(level, selected), []
    if loose_eq(condition, "greater_or_equal_than"):
        return compare(level, selected) <= 0, []
    if loose_eq(condition, "less_or_equal_than"):
        return compare(selected, level) <= 0, []
    return False, []


def _php_range(start: int, end: int) -> list[int]:
    """PHP ``range($start, $end)``: inclusive, and descending when ``start > end``."""
    step = 1 if start <= end else -1
    return list(range(start, end + step, step))


def _most_restrictive(a: int, b: Any) -> int:
    """``__getMostRestrictiveDistribution(int, intval(b))``: levels are integers there."""
    level = intval(b)
    if a == 0 or level == 0:
        return 0
    if a == 4 or level == 4:
        return 4
    return min(a, level)


def _sg_string(value: Any) -> str:
    """How ``array_diff()`` sees a sharing-group id: ``(string)`` (an array is ``"Array"``)."""
    return "Array" if is_array(value) else php.to_string(value)


def distribution_if(data: Any, params: Mapping[Any, Any]) -> Decision:
    """``IF :: Distribution``: the final (most restrictive) distribution against the selection.

    In attribute scope the attribute is ``Event.Attribute[0]`` (not ``_AttributeFlattened``),
    folded with its object and the event, every level taken through ``intval()`` (so ``""`` is
    Organisation). Sharing-group ids are matched as strings (MISP's ``array_diff``). MISP crashes
    when that attribute is missing (attribute scope, or a Sharing Group selection):
    :class:`UnsupportedDataError` here.
    """
    _require_array(data, "distribution-if")
    scope = _param(params, "distribution-if", "scope")
    condition = _param(params, "distribution-if", "condition")
    selected = _param(params, "distribution-if", "distribution")
    event = hashpath.get(data, "Event")
    event = event if is_array(event) else {}
    event_distribution = php.lookup(event, "distribution")
    attribute = hashpath.get(data, "Event.Attribute.0")
    by_event = loose_eq(scope, "event")
    if attribute is None and (not by_event or loose_eq(selected, 4)):
        raise UnsupportedDataError(
            "distribution-if: the data has no Event.Attribute[0], which MISP reads in attribute scope "
            "and for Sharing Group checks (MISP crashes here; docs/misp-behaviour.md §15.5)")
    obj = php.lookup(attribute, "Object") if is_array(attribute) else None
    has_object = is_array(obj) and not is_empty(obj)
    if by_event:
        final = _most_restrictive(5, event_distribution)
    else:
        final = intval(php.lookup(attribute, "distribution")) if not is_empty(attribute) else 5
        if has_object:
            final = _most_restrictive(final, php.lookup(obj, "distribution"))
        final = _most_restrictive(final, event_distribution)
    if not in_array(final, [0, 1, 2, 3, 4]):
        return False, ["Distribution level not supported"]
    if loose_eq(selected, 4):
        final_groups = []
        if loose_eq(event_distribution, 4):
            final_groups.append(php.lookup(event, "sharing_group_id"))
        if not by_event:
            if loose_eq(php.lookup(attribute, "distribution"), 4):
                final_groups.append(php.lookup(attribute, "sharing_group_id"))
            if has_object and loose_eq(php.lookup(obj, "distribution"), 4):
                final_groups.append(php.lookup(obj, "sharing_group_id"))
        groups = _param(params, "distribution-if", "sharing_group_id")
        groups = [] if is_empty(groups) else (groups if is_array(groups) else [groups])
        picked = {_sg_string(g) for _, g in php.iter_items(groups)}  # array_diff() compares (string) $a === (string) $b
        if loose_eq(condition, "equals"):
            if not groups:
                return bool(final_groups), []
            return all(_sg_string(g) in picked for g in final_groups), []
        if loose_eq(condition, "not_equals"):
            if not groups:
                return not final_groups, []
            return not any(_sg_string(g) in picked for g in final_groups), []
        return False, ["Condition operator not supported for that distribution level"]
    level = intval(selected)
    if loose_eq(condition, "more_restrictive_or_equal_than"):
        return in_array(final, _php_range(0, level)), []
    if loose_eq(condition, "more_permisive_or_equal_than"):
        return in_array(final, _php_range(level, 3)), []
    if loose_eq(condition, "equals"):
        return loose_eq(final, level), []
    if loose_eq(condition, "not_equals"):
        return not loose_eq(final, level), []
    return False, []


DECISIONS = {
    "generic-if": generic_if,
    "count-if": count_if,
    "tag-if": tag_if,
    "published-if": published_if,
    "organisation-if": organisation_if,
    "threat-level-if": threat_level_if,
    "distribution-if": distribution_if,
    "aggregate_comparator_if": aggregate.aggregate_comparator_if,
}
