"""A node's request parameters, resolved as MISP's ``getParamsWithValues`` does (docs/misp-behaviour.md §2.6, §8),
and the two extra keys MISP computes for MISP-facing misp-modules (§11.2).

* only params the module declares count; a missing or null value takes the default, else ``""``
  (an existing ``""`` or ``[]`` is kept);
* a ``jinja_supported`` param whose raw value is a non-empty string is rendered once against
  the roaming data; the default is never rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runner import graph as g
from runner.catalog import ModuleSpec

Render = Callable[[str, Any], str]


def resolve(spec: ModuleSpec, node: Mapping, data: Any, render: Render) -> dict[str, Any]:
    raw_params = g.indexed_params(node)
    resolved: dict[str, Any] = {}
    for param in spec.params:
        pid = param["id"]
        raw = raw_params.get(pid)
        value = raw
        if value is None:
            value = param.get("default", "")
            if value is None:
                value = ""
        if param.get("jinja_supported") and isinstance(raw, str) and raw != "":
            value = render(raw, data)
        resolved[pid] = value
    return resolved


def filtered_items(node: Mapping, data: Any) -> Any:
    """``filteredItems`` (§11.2 step 3): the items matching the node filter, or, when nothing
    matches (or no filter is set), the whole data; filtered keys are kept (a PHP map)."""
    filters = g.saved_filters(node)
    if all(v == "" for v in filters.values()):
        return data  # MISP drops every item with an empty operator, then falls back to data
    from misp_modules.semantics import conditions, php

    items = conditions.matching_items(data, filters)  # False when the selector cannot be extracted
    return data if php.is_empty(items) else items


def matching_data(spec: ModuleSpec, params: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """``matchingData`` (§11.2 step 5): keyed by the param's humanised *label*."""
    from misp_modules.semantics import hashpath

    matching: dict[str, Any] = {}
    for param in spec.params:
        if not param.get("_isHashPath"):
            continue
        value = params.get(param["id"])
        matching[param["label"]] = hashpath.extract(data, value) if value not in ("", None) else data
    return matching
