"""A node's request, as the runner writes it and a module reads it (docs/contract.md §2).

MISP's action request (docs/misp-behaviour.md §11.2): ``data`` (the roaming data as
``getData()`` returns it), ``params`` resolved as ``getParamsWithValues``, ``filteredItems`` and
``matchingData`` for misp-modules, and what the runner adds (``node``, ``trigger``, ``workflow``,
``stored_event``, ``dry_run``, ``timeout``, ``now``, ``misp_release``, ``initiator_user``).

``now`` is the run's clock (unix seconds): MISP's nodes that read the wall clock
(``filter-timestamp``'s relative times) use it, so a run is reproducible. ``misp_release`` names
the MISP whose built-in module files a run reproduces where a node's saved ``module_version``
cannot tell them apart (``"2.5.1"``; absent: the newest MISP code the project knows).
``initiator_user`` is MISP's ``getInitiatorUser()``, the user whose action started the run (the
one toasts go to); MISP keeps it out of the roaming data, so the runner sends it apart (absent:
no such user, as for a run MISP starts itself).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from misp_modules.semantics import conditions, hashpath, php

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


class ParamError(ValueError):
    """A node parameter is missing, has the wrong type or an unsupported value.

    The message names the parameter, e.g. ``param `operator`: unknown value 'bogus' ...``.
    """


Render = Callable[[str, Any], str]


def resolve_params(declared: Sequence[Mapping[str, Any]], given: Any, render: Render | None = None,
                   data: Any = None) -> dict[str, Any]:
    """MISP's ``getParamsWithValues`` (docs/misp-behaviour.md §2.6, §8): the declared params
    only; a missing or null value takes the default, else ``""`` (an existing ``""`` or ``[]``
    is kept). With ``render`` (the runner, as MISP), a ``jinja_supported`` param whose raw value
    is a non-empty string is rendered once against ``data``; a default is never rendered."""
    if given is None or given == []:  # PHP sends an empty array as []
        given = {}
    if not isinstance(given, Mapping):
        raise ParamError("`params` must be an object mapping param ids to values")
    resolved: dict[str, Any] = {}
    for param in declared:
        pid = param["id"]
        raw = given.get(pid)
        value = raw
        if value is None:
            value = param.get("default", "")
            if value is None:
                value = ""
        if render is not None and param.get("jinja_supported") and isinstance(raw, str) and raw != "":
            value = render(raw, data)
        resolved[pid] = value
    return resolved


def filtered_items(saved_filters: Mapping[str, Any], data: Any) -> Any:
    """``filteredItems`` of a misp-module request (§11.2 step 3): the items matching the node
    filter, or, when nothing matches (or no filter is set), the whole data; filtered keys are
    kept (a PHP map)."""
    if all(v == "" for v in saved_filters.values()):
        return data  # MISP drops every item with an empty operator, then falls back to data
    items = conditions.matching_items(data, saved_filters)  # False when the selector cannot be extracted
    return data if php.is_empty(items) else items


def matching_data(declared: Iterable[Mapping[str, Any]], params: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """``matchingData`` of a misp-module request (§11.2 step 5): what each ``hash_path`` param
    extracts, keyed by the param's humanised *label*."""
    matching: dict[str, Any] = {}
    for param in declared:
        if not param.get("_isHashPath"):
            continue
        value = params.get(param["id"])
        matching[param["label"]] = hashpath.extract(data, value) if value not in ("", None) else data
    return matching


def request_fields(*, module: str, params: Mapping[str, Any], node_id: str, saved_filters: Mapping[str, Any],
                   indexed_params: Any, trigger: Mapping[str, Any], workflow: Mapping[str, Any], dry_run: bool,
                   timeout: float, extra: Mapping[str, Any] | None = None, module_version: Any = None,
                   now: int | None = None, misp_release: str | None = None,
                   initiator_user: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every field of a node request but ``data`` and ``stored_event`` (the runner splices those
    in from their one encoding), in the order MISP and the runner write them. ``extra``: a
    misp-module's ``filteredItems``/``matchingData``."""
    body: dict[str, Any] = {"module": module, "params": params or []}  # PHP: an empty array is []
    if extra:
        body.update(extra)
    body["node"] = {"id": node_id, "saved_filters": saved_filters, "indexed_params": indexed_params or []}
    if module_version is not None:
        body["node"]["module_version"] = module_version
    body["trigger"] = trigger
    body["workflow"] = workflow
    body["dry_run"] = dry_run
    body["timeout"] = timeout  # upstream's /query deadline: the server gives up when the runner does
    if now is not None:
        body["now"] = now
    if misp_release is not None:
        body["misp_release"] = misp_release
    if initiator_user is not None:
        body["initiator_user"] = initiator_user
    return body


@dataclass
class NodeRequest:
    """The runner's request as a module reads it, params resolved the way MISP resolves them."""

    data: Any
    params: dict[str, Any]
    saved_filters: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_FILTERS))
    node_id: str | None = None
    indexed_params: Mapping[str, Any] = field(default_factory=dict)
    trigger: Mapping[str, Any] = field(default_factory=dict)
    workflow: Mapping[str, Any] = field(default_factory=dict)
    stored_event: Any = None
    dry_run: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)
    module_version: str | None = None   # the node's saved module_version (None: not sent)
    now: int | None = None              # the run's clock, unix seconds (None: not sent)
    misp_release: str | None = None     # the MISP release reproduced (None: the newest known)
    initiator_user: dict[str, Any] | None = None  # MISP's getInitiatorUser(): {"User": {...}} (None: none)

    def clock(self) -> int:
        """The run's ``now``, or the wall clock (MISP's) when the runner sent none."""
        return int(time.time()) if self.now is None else self.now

    @classmethod
    def parse(cls, request: Any, declared: Sequence[Mapping[str, Any]]) -> NodeRequest:
        """:class:`ParamError` for a request that is not an object or whose ``node``/``params``
        are malformed. The params are resolved without Jinja: the runner rendered them."""
        if not isinstance(request, Mapping):
            raise ParamError("the request must be a JSON object")
        node = request.get("node") or {}
        if not isinstance(node, Mapping):
            raise ParamError("`node` must be an object")
        return cls(
            data=request.get("data", {}),
            params=resolve_params(declared, request.get("params")),
            saved_filters=merge_filters(node.get("saved_filters")),
            node_id=None if node.get("id") is None else str(node.get("id")),
            indexed_params=node.get("indexed_params") or {},
            trigger=request.get("trigger") or {},
            workflow=request.get("workflow") or {},
            stored_event=request.get("stored_event"),
            dry_run=bool(request.get("dry_run", False)),
            raw=request,
            module_version=_text(node.get("module_version")),
            now=_epoch(request.get("now")),
            misp_release=_text(request.get("misp_release")),
            initiator_user=_user(request.get("initiator_user")),
        )


def _user(value: Any) -> dict[str, Any] | None:
    """The initiator user as MISP's user array ``{"User": {...}}`` (a bare user object is
    wrapped); :class:`ParamError` for anything but an object or null."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ParamError("`initiator_user` must be a MISP user object")
    user = value.get("User", value)
    if not isinstance(user, Mapping):
        raise ParamError("`initiator_user.User` must be an object")
    return {"User": dict(user)}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _epoch(value: Any) -> int | None:
    """``now`` as whole unix seconds; :class:`ParamError` for anything but a number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamError("`now` must be unix seconds (a number)")
    return int(value)
