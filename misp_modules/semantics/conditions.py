"""MISP's ``WorkflowBaseModule`` helpers: how nodes extract data and test it against a value.

``evaluate_condition`` is the one place MISP's operators are defined (``in``, ``not_in``,
``equals``, ``not_equals``, ``in_or``, ``in_and``, ``not_in_or``, ``not_in_and``), with their
quirks: ``not_in`` is false on non-arrays, ``in_and`` is duplicate-sensitive, ``not_in_and``
order-sensitive. ``items_matching_condition`` is what per-node filters and the generic filter
apply to each selected item, keeping the items' original keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import hashpath, php
from .errors import InvalidPathError, PhpTypeError
from .php import in_array, is_array, is_empty, loose_eq

DEFAULT_FILTERS = {"selector": "", "value": "", "operator": "", "path": ""}

_SET_OPERATORS = ("in_or", "in_and", "not_in_or", "not_in_and")
_OPERATOR_ORDER = ("in", "not_in", "equals", "not_equals") + _SET_OPERATORS


def _operator(operator: Any) -> str | None:
    """The operator MISP's ``$operator == '...'`` chain selects (loose, in MISP's order)."""
    if operator.__class__ is str:
        return operator
    return next((name for name in _OPERATOR_ORDER if loose_eq(operator, name)), None)


def extract_data(data: Any, path: Any) -> Any:
    """``extractData``: ``data`` itself for an empty path, else ``Hash::extract``.

    ``False`` when the extraction throws a PHP ``Exception`` (an invalid path argument); PHP
    ``TypeError``s (e.g. a string where an array is needed) are not caught, as in MISP.
    """
    if is_empty(path):
        return data
    try:
        return hashpath.extract(data, path)
    except InvalidPathError:
        return False


def evaluate_condition(data: Any, operator: Any, value: Any) -> bool:
    """``evaluateCondition($data, $operator, $value)`` (docs/misp-behaviour.md §7.5); unknown operators are false."""
    op = _operator(operator)
    if op == "in":
        return is_array(data) and in_array(value, data)
    if op == "not_in":
        return is_array(data) and not in_array(value, data)
    if op == "equals":
        return not is_array(data) and loose_eq(data, value)
    if op == "not_equals":
        return not is_array(data) and not loose_eq(data, value)
    if op in _SET_OPERATORS:
        if not is_array(data) or not is_array(value):
            return False
        matching = [item for _, item in php.iter_items(data) if in_array(item, value)]
        if op == "in_or":
            return bool(matching)
        if op == "not_in_or":
            return not matching
        values = [item for _, item in php.iter_items(value)]
        if op == "in_and":
            return _lists_equal(php.php_sort(matching), php.php_sort(values))
        return not _lists_equal(matching, values)  # not_in_and: array_values, unsorted
    return False


def _lists_equal(a: list[Any], b: list[Any]) -> bool:
    """``$a == $b`` for two PHP lists: same length, element-wise loose equality."""
    return len(a) == len(b) and all(loose_eq(x, y) for x, y in zip(a, b))


def _items_extractor(path: Any) -> Callable[[Any], Any]:
    """``extractData($item, $path)`` with the path compiled once for the whole loop."""
    if is_empty(path):
        return lambda item: item
    if path.__class__ is str:
        compiled = hashpath.compile(path)

        def extract(item: Any) -> Any:
            if item.__class__ is dict or item.__class__ is list:
                return compiled.extract(item)
            return extract_data(item, path)  # raises PHP's TypeError for scalars

        return extract
    return lambda item: extract_data(item, path)


def items_matching_condition(items: Any, value: Any, operator: Any, path: Any) -> Any:
    """``getItemsMatchingCondition``: the items whose ``path`` extraction satisfies the operator.

    Original keys are kept, so filtering ``[a, b, c]`` down to ``a`` and ``c`` gives
    ``{0: a, 2: c}`` (a JSON object). ``any_value`` keeps items whose extraction is non-empty.
    A scalar item with a non-empty path is PHP's uncaught TypeError (:class:`PhpTypeError`).
    """
    if not is_array(items):
        return items  # PHP: foreach() over a non-array only warns
    first_only = in_array(operator, ("equals", "not_equals"))
    any_value = loose_eq(operator, "any_value")
    extract = _items_extractor(path)
    kept: list[tuple[Any, Any]] = []
    dropped = False
    for key, item in php.iter_items(items):
        sub = extract(item)
        if first_only and not is_empty(sub):
            sub = php.first_offset(sub)
        if any_value and not is_empty(sub):
            kept.append((key, item))
        elif evaluate_condition(sub, operator, value):
            kept.append((key, item))
        else:
            dropped = True
    if not dropped:
        return items
    if all(key == i for i, (key, _) in enumerate(kept)):
        return [item for _, item in kept]
    return dict(kept)


def _filter(saved_filters: Mapping[Any, Any], name: str) -> Any:
    value = saved_filters.get(name) if isinstance(saved_filters, Mapping) else None
    return DEFAULT_FILTERS[name] if value is None else value


def filters_enabled(saved_filters: Mapping[Any, Any]) -> bool:
    """``filtersEnabled``: any of selector/value/operator/path is loosely different from ``""``."""
    return any(not loose_eq(_filter(saved_filters, name), "") for name in DEFAULT_FILTERS)


def matching_items(data: Any, saved_filters: Mapping[Any, Any]) -> Any:
    """The node filter applied to ``data``: ``getItemsMatchingCondition(extractData(data, selector), ...)``.

    ``False`` when the selector cannot be extracted (MISP's ``extractData`` returned false).
    """
    extracted = extract_data(data, _filter(saved_filters, "selector"))
    if extracted is False:
        return False
    return items_matching_condition(extracted, _filter(saved_filters, "value"),
                                    _filter(saved_filters, "operator"), _filter(saved_filters, "path"))


def matching_attributes(data: Any, saved_filters: Mapping[Any, Any]) -> Any:
    """``getMatchingItemsForAttributes``: the filtered items when the node has a filter, else
    every attribute (``Event._AttributeFlattened.{n}``)."""
    if filters_enabled(saved_filters):
        return matching_items(data, saved_filters)
    if not is_array(data):
        raise PhpTypeError(f"Hash::extract(): Argument #1 ($data) must be of type array, "
                           f"{php.php_type_name(data)} given")
    return hashpath.extract(data, "Event._AttributeFlattened.{n}")
