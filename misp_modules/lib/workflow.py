"""Building blocks for runner-only workflow modules (MISP's built-in nodes re-implemented).

A runner-only module declares the MISP node it implements (``misp_workflow`` metadata, see
docs/contract.md) and answers the runner's request with ``misp_modules.contract.reply.reply``. This file keeps those
modules short: their params as MISP declares them, then a handler.

Example::

    PARAMS = [{"id": "message", "label": "Message", "type": "input",
               "default": "Execution stopped", "jinja_supported": True}]
    moduleinfo, moduleconfig = declare(misp_id="stop-execution", module_type="action",
                                       name="Stop execution", version="0.2", params=PARAMS,
                                       blocking=True, outputs=0, description="...")
    introspection, version = module_functions(moduleinfo, moduleconfig)

    @node_handler(PARAMS)
    def dict_handler(req: NodeRequest) -> dict:
        return reply(False, errors=[req.params["message"] or "Execution stopped"])
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from misp_modules.contract.reply import no_decision, reply
from misp_modules.contract.request import NodeRequest, ParamError
from misp_modules.contract.spec import workflow_meta
from misp_modules.semantics.php import a_json_type


def declare(
    *,
    misp_id: str,
    module_type: str,
    name: str,
    description: str,
    version: str = "0.1",
    params: Sequence[Mapping[str, Any]] = (),
    blocking: bool = False,
    support_filters: bool = False,
    expect_misp_core_format: bool = False,
    multiple_output_connection: bool = False,
    outputs: int | None = None,
    logic_kind: str | None = None,
    needs_stored_event: bool = False,
    author: str = "misp-modules-ng",
    features: str = "",
    references: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(moduleinfo, moduleconfig)`` for a runner-only module.

    ``module-type`` is ``["workflow"]`` so MISP never lists it as an action node (its ids are
    MISP's own built-in ids); the runner finds it through ``misp_workflow.id``.
    """
    workflow = workflow_meta(
        misp_id=misp_id, module_type=module_type, name=name, version=version, params=params, blocking=blocking,
        support_filters=support_filters, expect_misp_core_format=expect_misp_core_format,
        multiple_output_connection=multiple_output_connection, outputs=outputs, logic_kind=logic_kind,
        needs_stored_event=needs_stored_event)
    moduleinfo = {
        "version": version,
        "author": author,
        "module-type": ["workflow"],
        "name": name,
        "description": description,
        "logo": "",
        "requirements": [],
        "features": features,
        "references": list(references),
        "input": "MISP workflow roaming data",
        "output": "a workflow decision or data change (docs/contract.md)",
        "misp_workflow": workflow,
    }
    moduleconfig = {
        "blocking": blocking,
        "support_filters": support_filters,
        "expect_misp_core_format": expect_misp_core_format,
    }
    return moduleinfo, moduleconfig


def module_functions(moduleinfo: Mapping[str, Any], moduleconfig: Mapping[str, Any]):
    """The ``introspection()`` and ``version()`` functions every module file exposes."""

    def introspection() -> dict[str, Any]:
        return {"config": dict(moduleconfig)}

    def version() -> dict[str, Any]:
        return {**moduleinfo, "config": dict(moduleconfig)}

    return introspection, version


def node_handler(declared: Sequence[Mapping[str, Any]], *, decides: bool = False) -> Callable:
    """Decorate ``run(req: NodeRequest) -> dict`` into an upstream-style ``dict_handler``.

    A :class:`ParamError` becomes a failed node (result false) whose error names the param; for
    a logic module (``decides=True``) it is :func:`no_decision`: a malformed request is not
    MISP's decision. Anything else propagates: the server reports it as a module error and logs
    the traceback.
    """

    def wrap(run: Callable[[NodeRequest], dict]) -> Callable[[Mapping[str, Any]], dict]:
        @functools.wraps(run)
        def dict_handler(request: Mapping[str, Any]) -> dict:
            try:
                req = NodeRequest.parse(request, declared)
                return run(req)
            except ParamError as exc:
                return no_decision(str(exc)) if decides else reply(False, errors=[str(exc)])

        return dict_handler

    return wrap


def choice(params: Mapping[str, Any], pid: str, allowed: Iterable[str]) -> str:
    """The value of a select param, or a :class:`ParamError` naming it and the allowed values."""
    value = params.get(pid)
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ParamError(f"param `{pid}`: unsupported value {value!r} (expected one of: {', '.join(allowed)})")
    return value


def as_list(value: Any, pid: str) -> list:
    """A multiple-picker value: MISP stores a list; old graphs may hold a scalar (wrapped here)."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (str, int, float)):
        return [value]
    raise ParamError(f"param `{pid}`: expected a list, got {a_json_type(value)}")


def roaming_object(data: Any, module: str) -> dict:
    """The roaming data of a node that edits attributes inside ``Event``; anything but a JSON
    object (MISP always sends its decoded roaming data) is a :class:`ParamError` naming it."""
    if not isinstance(data, dict):
        raise ParamError(f"Error while executing module {module}: `data` must be the roaming data "
                         f"(a JSON object), not {a_json_type(data)}")
    return data
