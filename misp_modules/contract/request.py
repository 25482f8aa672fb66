"""A node's request, as the runner writes it and a module reads it (docs/contract.md §2).

MISP's action request (docs/misp-behaviour.md §11.2): ``data`` (the roaming data as
``getData()`` returns it), ``params`` resolved as ``getParamsWithValues``, ``filteredItems`` and
``matchingData`` for misp-modules, and what the runner adds (``node``, ``trigger``, ``workflow``,
``stored_event``, ``dry_run``, ``timeout``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EMPTY_FILTERS: Mapping[str, str] = {"selector": "", "value": "", "operator": "", "path": ""}


def merge_filters(node_filters: Any) -> dict[str, Any]:
    """A node's ``saved_filters`` merged with the empty default (docs/misp-behaviour.md §2.7):
    only MISP's four keys, each from the node when it has it."""
    merged: dict[str, Any] = dict(EMPTY_FILTERS)
    if isinstance(node_filters, Mapping):
        for key in EMPTY_FILTERS:
            if key in node_filters:
                merged[key] = node_filters[key]
    return merged
