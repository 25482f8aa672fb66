"""MISP's ``IF :: Aggregate Comparator`` (``aggregate_comparator_if`` 0.3/0.4; docs/misp-behaviour.md §16.4).

``Hash::extract`` of ``aggregation_path`` (an empty path is the whole data), ``null``s dropped,
every value through PHP ``floatval``, aggregated, then compared with ``value`` by the base
class's ``evaluateCondition``. That helper knows ``equals``/``not_equals`` (loose ``==``/``!=``)
and the list operators, not ``greater``, ``greater_equals``, ``less`` or ``less_equals``: with
those (``greater`` is the default) MISP's node never passes (quirk kept; ``misp-workflow
validate`` warns). ``min``/``max`` of nothing is PHP's uncaught ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import hashpath, php
from .conditions import evaluate_condition
from .errors import PhpTypeError, UnsupportedDataError

Decision = tuple[bool, list[str]]

DEFAULTS = {"aggregation_type": "count", "operator": "greater"}  # a param without one is ""
AGGREGATION_TYPES = ("count", "sum", "avg", "min", "max", "unique_count", "median")
#: operators the module offers that MISP's evaluateCondition does not know: always false
NEVER_TRUE_OPERATORS = ("greater", "greater_equals", "less", "less_equals")


def floatval(value: Any) -> float:
    """PHP ``floatval()``: a numeric prefix of a string (else 0), an array 1 when non-empty."""
    return float(php.to_number(value))


def _param(params: Mapping[Any, Any] | None, name: str) -> Any:
    value = params.get(name) if isinstance(params, Mapping) else None
    if value is None:
        value = DEFAULTS.get(name)
    return "" if value is None else value


def _array_sum(values: list[float]) -> float:
    """PHP ``array_sum``: plain left-to-right addition (Python's ``sum`` compensates since 3.12)."""
    total = 0.0
    for v in values:
        total += v
    return total


def aggregate(kind: Any, values: list[float], errors: list[str]) -> Any:
    """The aggregate of ``values`` (floats); ``False`` and an error for an unknown type."""
    name = next((t for t in AGGREGATION_TYPES if kind.__class__ is str and kind == t), None)
    if name is None:  # isset($this->aggregation_type[$type]): a PHP array key
        key = php.php_key(kind) if kind.__class__ in (str, int) else None
        name = key if key in AGGREGATION_TYPES else None
    if name is None:
        errors.append(f"Unknown aggregation type: {php.to_string(kind) if not php.is_array(kind) else 'Array'}")
        return False
    if name == "count":
        return len(values)
    if name == "sum":
        return _array_sum(values)
    if name == "avg":
        return _array_sum(values) / len(values) if values else 0.0
    if name in ("min", "max"):
        if not values:
            raise UnsupportedDataError(f"aggregate_comparator_if: {name}() of no values: MISP crashes here "
                                       f"({name}(): Argument #1 ($value) must contain at least one element)")
        return min(values) if name == "min" else max(values)
    if name == "unique_count":
        return len(set(values))
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def aggregate_comparator_if(data: Any, params: Mapping[Any, Any]) -> Decision:
    """``exec()``: ``evaluateCondition(aggregate(floatval(extract(path))), operator, value)``."""
    if not php.is_array(data):
        raise PhpTypeError(f"aggregate_comparator_if: the roaming data must be an array, "
                           f"{php.php_type_name(data)} given")
    path = _param(params, "aggregation_path")
    extracted = data if php.is_empty(path) else hashpath.extract(data, path)
    if not php.is_array(extracted):
        return False, ["Could not aggregate this field"]
    values = [floatval(v) for _, v in php.iter_items(extracted) if v is not None]
    errors: list[str] = []
    result = aggregate(_param(params, "aggregation_type"), values, errors)
    return evaluate_condition(result, _param(params, "operator"), _param(params, "value")), errors


def never_passes(params: Mapping[Any, Any]) -> str | None:
    """Why MISP's node takes ``else`` whatever the data (an operator MISP cannot evaluate), or None."""
    operator = _param(params, "operator")
    if operator.__class__ is str and operator in NEVER_TRUE_OPERATORS:
        return (f"operator `{operator}` is offered by MISP's aggregate_comparator_if but MISP's condition helper "
                "does not know it: in MISP this node never passes (it always takes `else`)")
    return None
