"""MISP's ``filter-tag`` (0.2, 0.3) and ``filter-timestamp`` (0.1) logic modules (docs/misp-behaviour.md §16.1-§16.3).

Both work as ``generic-filter-data`` does: they filter nothing themselves, they record filters
in the roaming data (:func:`misp_modules.semantics.roaming.record_filters`) that every later
``getData()`` applies. Unlike it, they are routed by their result (MISP v2.5.1's walker knows
only its own filter ids), and they have a single output: a ``false`` result ends the path.

* ``filter-tag``: scope ``attribute``/``event_attribute`` filters ``Event._AttributeFlattened``
  on the item's own tags (``Tag.{n}.name``) or own + inherited ones (``_allTags.{n}.name``);
  version 0.3 adds the same filter as ``<label>_2`` on ``Event.Attribute``. Scopes
  ``event_report``/``inherited_report`` filter ``Event.EventReport``. Any other scope (``event``,
  the 0.2 default; 0.3's attempt to map it is a comparison, not an assignment) records nothing.
* ``filter-timestamp``: a filter on ``timestamp`` of the target list with operator ``greater``
  (``since`` too, for a numeric value) or ``less`` and the value resolved against ``now``.
  MISP's filter helper knows neither operator, so **every item of the list is removed**
  (quirk kept; validate warns). An unknown target records the selector ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import php, roaming
from .errors import PhpTypeError
from .php import is_array, is_empty, loose_eq
from .timedelta import timestamp_value

FILTER_TAG_DEFAULTS = {
    "0.2": {"filtering-label": "A", "scope": "event", "condition": "in_or"},
    "0.3": {"filtering-label": "A", "scope": "event_attribute", "condition": "in_or"},
}
FILTER_TAG_VERSIONS = tuple(FILTER_TAG_DEFAULTS)
FILTER_TIMESTAMP_DEFAULTS = {"filtering-label": "A", "target": "attribute", "operator": "greater", "value": "30d"}
_TIMESTAMP_SELECTORS = {"object": "Event.Object", "attribute": "Event._AttributeFlattened",
                        "event_report": "Event.EventReport"}

Outcome = tuple[bool, Any]  # (exec()'s result, the new roaming data or None when unchanged)


def filter_tag_version(saved: Any) -> str:
    """The behaviour a saved ``module_version`` selects: ``0.2`` for 0.2 and older, else ``0.3``."""
    text = saved if isinstance(saved, str) else ""
    try:
        parts = tuple(int(p) for p in text.split("."))
    except ValueError:
        return "0.3"
    return "0.2" if parts <= (0, 2) else "0.3"


def _param(params: Mapping[Any, Any], defaults: Mapping[Any, Any], name: str) -> Any:
    value = params.get(name) if isinstance(params, Mapping) else None
    if value is None:
        value = defaults.get(name)
    return "" if value is None else value


def _require_data(data: Any, module: str) -> None:
    if not isinstance(data, dict):
        raise PhpTypeError(f"{module}: the roaming data must be an array, {php.php_type_name(data)} given")


def _label(label: Any, module: str) -> Any:
    if is_array(label):
        raise PhpTypeError(f"{module}: param `filtering-label` is an array: MISP crashes here (Illegal offset type)")
    return label


def _picked(value: Any, function: str, argument: str) -> list[Any]:
    """``!empty($v) ? $v : []`` then used as an array (PHP's TypeError for a scalar)."""
    if is_empty(value):
        return []
    if not is_array(value):
        raise PhpTypeError(f"{function}(): Argument {argument} must be of type array, "
                           f"{php.php_type_name(value)} given (MISP's filter-tag crashes here)")
    return [v for _, v in php.iter_items(value)]


def filter_tag(data: Any, params: Mapping[Any, Any], version: str = "0.3") -> Outcome:
    """``filter-tag`` exec on the data as ``getData()`` gives it."""
    _require_data(data, "filter-tag")
    defaults = FILTER_TAG_DEFAULTS[version]
    clusters = ["misp-galaxy:" + ("Array" if is_array(c) else php.to_string(c))
                for c in _picked(_param(params, defaults, "clusters"), "array_map", "#2 ($array)")]
    tags = _picked(_param(params, defaults, "tags"), "array_merge", "#1")
    selected = tags + clusters
    operator = _param(params, defaults, "condition")
    scope = _param(params, defaults, "scope")
    label = _label(_param(params, defaults, "filtering-label"), "filter-tag")
    entries: list[tuple[Any, dict[Any, Any]]] = []
    if loose_eq(scope, "attribute") or loose_eq(scope, "event_attribute"):
        path = "_allTags.{n}.name" if loose_eq(scope, "event_attribute") else "Tag.{n}.name"
        entries.append((label, _options("Event._AttributeFlattened", path, operator, selected)))
        if version != "0.2":
            entries.append((php.to_string(label) + "_2", _options("Event.Attribute", path, operator, selected)))
    elif loose_eq(scope, "event_report") or loose_eq(scope, "inherited_report"):
        path = "_allTags.{n}.name" if loose_eq(scope, "inherited_report") else "Tag.{n}.name"
        entries.append((label, _options("Event.EventReport", path, operator, selected)))
    return True, roaming.record_filters(data, entries)


def filter_timestamp(data: Any, params: Mapping[Any, Any], now: int, notes: list[str] | None = None) -> Outcome:
    """``filter-timestamp`` exec at ``now``. :class:`~.timedelta.InvalidDateSpecification` is
    MISP's caught exception (a list value that is not a pair)."""
    _require_data(data, "filter-timestamp")
    d = FILTER_TIMESTAMP_DEFAULTS
    target, operator, value = (_param(params, d, n) for n in ("target", "operator", "value"))
    if loose_eq(operator, "since"):
        if not php.is_numeric(value):
            return False, None
        operator = "greater"
    selector = next((sel for name, sel in _TIMESTAMP_SELECTORS.items() if loose_eq(target, name)), None)
    resolved = timestamp_value(value, now, notes)
    label = _label(_param(params, d, "filtering-label"), "filter-timestamp")
    entries = [(label, _options(selector, "timestamp", operator, resolved))]
    if loose_eq(target, "attribute"):
        entries.append((php.to_string(label) + "_2", _options("Event.Attribute", "timestamp", operator, resolved)))
    return True, roaming.record_filters(data, entries)


def _options(selector: Any, path: str, operator: Any, value: Any) -> dict[Any, Any]:
    return {"selector": selector, "path": path, "operator": operator, "value": value}


def filter_timestamp_removes_all(params: Mapping[Any, Any]) -> str | None:
    """Why MISP's ``filter-timestamp`` removes every item whatever the timestamps, or None
    (a ``since`` with a non-numeric value records nothing: the path ends instead)."""
    operator = _param(params, FILTER_TIMESTAMP_DEFAULTS, "operator")
    value = _param(params, FILTER_TIMESTAMP_DEFAULTS, "value")
    if loose_eq(operator, "since") and not php.is_numeric(value):
        return ("operator `since` needs a numeric timestamp: with this value MISP's node returns false and "
                "nothing below it runs")
    shown = "since" if loose_eq(operator, "since") else operator
    return (f"in MISP this filter removes every item of the target list whatever their timestamps: MISP's "
            f"filter helper does not know the operator `{'greater' if shown == 'since' else shown}` it records "
            "(every later node sees an empty list)")


def filter_tag_records_nothing(params: Mapping[Any, Any], saved_version: Any) -> str | None:
    """Why MISP's ``filter-tag`` filters nothing (a scope it does not handle, e.g. 0.2's default
    ``event``), or None."""
    version = filter_tag_version(saved_version)
    scope = _param(params, FILTER_TAG_DEFAULTS[version], "scope")
    if any(loose_eq(scope, s) for s in ("attribute", "event_attribute", "event_report", "inherited_report")):
        return None
    shown = scope if isinstance(scope, (str, int)) else php.json_type(scope)
    return (f"scope `{shown}` is not one MISP's filter-tag {version} handles: in MISP this node records no "
            "filter, so it filters nothing (every later node sees all the data)")
