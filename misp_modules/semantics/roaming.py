"""``WorkflowRoamingData::getData()`` and the generic filter modules (docs/misp-behaviour.md §7.7).

``generic-filter-data`` does not filter anything itself: it records a filter in
``data["enabledFilters"]`` (and a snapshot in ``_unfilteredData``), and every later ``getData()``
re-applies all recorded filters, in order, to a copy. Only the selected collection shrinks, it
keeps its original keys, and a reset restores the snapshot -- dropping every filter and every
change made since the first one (faithful; see docs/semantics.md). Where MISP crashes (a reset
with no snapshot to restore), :class:`~.errors.FilterResetError` says so.
"""

from __future__ import annotations

from typing import Any

from . import hashpath, php
from .conditions import extract_data, items_matching_condition
from .errors import FilterResetError, PhpTypeError
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
    return record_filters(data, [(label, {
        "selector": selector,
        "path": hash_path,
        "operator": operator,
        "value": value_list if loose_eq(operator, "in_or") else value,
    })])


def record_filters(data: dict[Any, Any], entries: list[tuple[Any, dict[Any, Any]]]) -> dict[Any, Any]:
    """What every filter module does to the roaming data it got from ``getData()``: keep that
    view as ``_unfilteredData`` unless one is there, and set ``enabledFilters[label]`` for each
    ``(label, options)`` (in order; an existing label is replaced in place). No entries: only
    the snapshot (filter-tag with a scope it does not handle)."""
    new = dict(data)
    if is_empty(php.lookup(new, "_unfilteredData")):
        new["_unfilteredData"] = data
    if not entries:  # PHP creates `enabledFilters` only by setting a label in it
        return new
    filters = php.lookup(new, "enabledFilters")
    filters = dict(php.iter_items(filters)) if is_array(filters) else {}
    for label, options in entries:
        filters[php.php_key(label)] = options
    new["enabledFilters"] = filters
    return new


def reset_filter(data: Any, label: Any) -> Any:
    """``generic-filter-reset`` exec: the new roaming data, MISP's ``_unfilteredData``.

    Any label restores the snapshot taken at the first filter, so every filter goes (the
    snapshot never held any) along with every change made since (faithful, misp-behaviour.md §15.2). A
    label ``A``-``F`` unsets that filter in the snapshot, ``all`` empties ``enabledFilters``
    (which creates it: without a snapshot MISP's data becomes ``{"enabledFilters": []}``), any
    other label restores the snapshot as it is. Where MISP crashes (no snapshot and a label
    other than ``all``, a snapshot that is not an array) :class:`FilterResetError` says why.
    """
    snapshot = php.lookup(data, "_unfilteredData") if is_array(data) else None
    if any(loose_eq(label, name) for name in FILTER_LABELS):   # in_array(): loose
        snapshot = _unset_filter(snapshot, label)
    elif label.__class__ is str and label == "all":            # === 'all'
        if snapshot is None or snapshot is False:               # PHP autovivifies null (and false)
            snapshot = {"enabledFilters": []}
        elif is_array(snapshot):
            snapshot = {**_as_map(snapshot), "enabledFilters": []}
        else:
            raise FilterResetError(f"generic-filter-reset: {_scalar_error(snapshot)} (`_unfilteredData` is "
                                   f"{php.php_type_name(snapshot)}); MISP crashes here")
    if not is_array(snapshot):
        why = "there is no filter to remove (no `_unfilteredData`)" if snapshot is None else \
            f"`_unfilteredData` is {php.php_type_name(snapshot)}"
        raise FilterResetError(f"generic-filter-reset with label {label!r}: {why}; MISP crashes here "
                               f"(WorkflowRoamingData::setData(): Argument #1 ($data) must be of type array, "
                               f"{php.php_type_name(snapshot)} given)")
    return snapshot


def _unset_filter(snapshot: Any, label: Any) -> Any:
    """``unset($snapshot['enabledFilters'][$label])``."""
    if snapshot is None:
        return None  # unset on null is a no-op
    if not is_array(snapshot):
        raise FilterResetError(f"generic-filter-reset: {_scalar_error(snapshot, unset=True)} (`_unfilteredData` "
                               f"is {php.php_type_name(snapshot)}); MISP crashes here")
    filters = php.lookup(snapshot, "enabledFilters")
    if filters is None:
        return snapshot
    if not is_array(filters):
        raise FilterResetError(f"generic-filter-reset: cannot unset a filter of `enabledFilters`, which is "
                               f"{php.php_type_name(filters)}; MISP crashes here")
    key = php.php_key(label)
    if php.lookup(filters, key, php._MISSING) is php._MISSING:
        return snapshot
    remaining = [(k, v) for k, v in php.iter_items(filters) if k != key]
    return {**_as_map(snapshot), "enabledFilters": dict(remaining) if remaining else []}


def _as_map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else dict(php.iter_items(value))


def _scalar_error(value: Any, unset: bool = False) -> str:
    if isinstance(value, str):
        return "Cannot access offset of type string on string"
    return "Cannot unset offset in a non-array variable" if unset else "Cannot use a scalar value as an array"
