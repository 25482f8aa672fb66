"""``WorkflowRoamingData::getData()`` and the generic filter modules (docs/misp-behaviour.md §7.7).

``generic-filter-data`` does not filter anything itself: it records a filter in
``data["enabledFilters"]`` (and a snapshot in ``_unfilteredData``), and every later ``getData()``
re-applies all recorded filters, in order, to a copy. Only the selected collection shrinks, it
keeps its original keys, and a reset restores the snapshot -- dropping every filter and every
change made since the first one (faithful; see docs/semantics.md).
"""

from __future__ import annotations

from typing import Any

from . import hashpath, php
from .conditions import extract_data, items_matching_condition
from .errors import PhpTypeError
from .php import is_array, is_empty, loose_eq

FILTER_LABELS = ("A", "B", "C", "D", "E", "F")


def _filters(data: Any) -> Any:
    if data.__class__ is dict or isinstance(data, dict):
        return php.lookup(data, "enabledFilters")
    return None


def apply_filter(data: Any, options: Any) -> Any:
    """``applyFilter``: narrow the collection at ``options["selector"]`` in a copy of ``data``."""
    if not is_array(options):
        raise PhpTypeError(f"WorkflowRoamingData::applyFilter(): Argument #2 ($filteringOptions) must be "
                           f"of type array, {php.php_type_name(options)} given")
    selector = php.lookup(options, "selector")
    if selector.__class__ is str and selector.endswith(".{n}"):
        selector = selector[:-4]
    extracted = extract_data(data, selector)
    filtered = items_matching_condition(extracted, php.lookup(options, "value"),
                                        php.lookup(options, "operator"), php.lookup(options, "path"))
    return hashpath.insert(data, "" if selector is None else selector, filtered)


def get_data(data: Any) -> Any:
    """``getData()``: ``data`` itself without active filters, else the filtered copy.

    The copy keeps ``enabledFilters`` and ``_unfilteredData``; the input is never modified.
    """
    filters = _filters(data)
    if is_empty(filters) or not is_array(filters):
        return data
    filtered = data
    for _label, options in php.iter_items(filters):
        filtered = apply_filter(filtered, options)
    return filtered


def add_filter(data: Any, label: str, selector: str, hash_path: str, operator: str,
               value: Any, value_list: Any) -> Any:
    """``generic-filter-data`` exec: the new roaming data, with filter ``label`` recorded.

    ``data`` is the roaming data as :func:`get_data` returns it (what the module receives).
    The first filter also stores that view as ``_unfilteredData``, the state a reset restores.
    """
    if not isinstance(data, dict):
        raise PhpTypeError(f"generic-filter-data: roaming data must be an array, {php.php_type_name(data)} given")
    new = dict(data)
    if is_empty(php.lookup(new, "_unfilteredData")):
        new["_unfilteredData"] = data
    filters = php.lookup(new, "enabledFilters")
    filters = dict(php.iter_items(filters)) if is_array(filters) else {}
    filters[php.php_key(label)] = {
        "selector": selector,
        "path": hash_path,
        "operator": operator,
        "value": value_list if loose_eq(operator, "in_or") else value,
    }
    new["enabledFilters"] = filters
    return new


def reset_filter(data: Any, label: str) -> Any:
    """``generic-filter-reset`` exec: ``_unfilteredData`` without filters.

    Any label restores the snapshot taken at the first filter, so every filter goes (the
    snapshot never held any) along with every change made since. Deviation (misp-behaviour.md §15.1):
    without a snapshot MISP wipes the data (``all``) or crashes (a label); here nothing changes.
    """
    snapshot = php.lookup(data, "_unfilteredData") if is_array(data) else None
    if is_empty(snapshot):
        return data
    if not isinstance(snapshot, dict):
        if not is_array(snapshot):
            raise PhpTypeError(f"generic-filter-reset: _unfilteredData must be an array, "
                               f"{php.php_type_name(snapshot)} given")
        snapshot = dict(php.iter_items(snapshot))
    new = dict(snapshot)
    if loose_eq(label, "all"):
        new["enabledFilters"] = []
    else:
        filters, key = php.lookup(new, "enabledFilters"), php.php_key(label)
        if is_array(filters) and php.lookup(filters, key, php._MISSING) is not php._MISSING:
            remaining = [(k, v) for k, v in php.iter_items(filters) if k != key]
            new["enabledFilters"] = dict(remaining) if remaining else []
    return new
