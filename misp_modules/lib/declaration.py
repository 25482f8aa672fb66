"""Declaring a module: one object that is the module's config, then its handler.

The server's loader reads upstream's module attributes (``moduleinfo``, ``version()``,
``introspection()``, ``handler``/``dict_handler``, ``timeout``, ``concurrency``, ``isolation``,
``secret_params``: docs/server.md); upstream's module files keep writing them. A module of this
project instead declares itself once, as a module-level ``node`` holding all of them
(``misp_modules/server/loader.py`` recognises it), and decorates its handler::

    node = declare(misp_id="stop-execution", module_type="action", name="Stop execution", version="0.2",
                   blocking=True, outputs=0, description="...",
                   params=[{"id": "message", "label": "Stop message", "type": "input",
                            "default": "Execution stopped", "jinja_supported": True}])


    @node.handler
    def dict_handler(req: NodeRequest) -> dict:
        return reply(False, errors=[req.params["message"] or "Execution stopped"])

The decorated function is the module's ``dict_handler`` too, so tests call it in process.

* :func:`declare` -- a runner-only node (``module-type: ["workflow"]``): one of MISP's built-in
  nodes, found by the runner through ``misp_workflow`` (docs/contract.md §1). Its handler gets
  the :class:`~misp_modules.contract.request.NodeRequest`, params resolved against the declared
  ones. An IF node's param defaults are its rule's (:data:`misp_modules.semantics.decisions.DEFAULTS`),
  declared there once: its descriptors leave ``default`` out.
* :func:`declare_action` -- a MISP-facing action (``module-type: ["action"]``), with upstream's
  ``moduleconfig``. ``@node.handler`` answers the contract's reply (the curation actions, which
  report changes); ``@node.sender`` sends something and answers upstream's ``{"data": true}``
  or ``{"error": ...}`` (the notifications).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from misp_modules.contract.reply import no_decision, reply
from misp_modules.contract.request import NodeRequest, ParamError
from misp_modules.contract.spec import workflow_meta
from misp_modules.lib.http import OutboundError
from misp_modules.lib.notify.action import ActionRequest, parse_action
from misp_modules.lib.redact import redact
from misp_modules.semantics.decisions import DEFAULTS
from misp_modules.settings import SettingsError

Answer = dict[str, Any]
Handler = Callable[[Mapping[str, Any]], Answer | Awaitable[Answer]]


class Declaration:
    """What the loader reads from a module file, under upstream's names."""

    def __init__(self, moduleinfo: dict[str, Any], moduleconfig: dict[str, Any], *, timeout: float | None,
                 concurrency: int | None, isolation: str | None, secret_params: Iterable[str]) -> None:
        self.moduleinfo = moduleinfo
        self.moduleconfig = moduleconfig
        self.timeout = timeout            # s, the server-side deadline (None: the server's default)
        self.concurrency = concurrency    # queries in flight at once (None: the server's default)
        self.isolation = isolation        # "process" or "thread" (None: thread for built-ins)
        self.secret_params = tuple(secret_params)  # credentials whose names do not say so
        self.dict_handler: Handler | None = None

    def version(self) -> dict[str, Any]:
        return {**self.moduleinfo, "config": dict(self.moduleconfig)}

    def introspection(self) -> dict[str, Any]:
        return {"config": dict(self.moduleconfig)}

    def _install(self, run: Callable[..., Any], parse: Callable[[Mapping[str, Any]], Any],
                 answer: Callable[[Any], Answer], failed: Callable[[Exception, Any], Answer],
                 failures: tuple[type[Exception], ...]) -> Handler:
        """``run`` as the module's ``dict_handler`` (sync or async, as ``run`` is): the request
        parsed, ``run``'s result through ``answer``, ``failures`` through ``failed``."""
        if inspect.iscoroutinefunction(run):
            @functools.wraps(run)
            async def dict_handler(request: Mapping[str, Any]) -> Answer:
                req = None
                try:
                    req = parse(request)
                    return answer(await run(req))
                except failures as exc:
                    return failed(exc, req)
        else:
            @functools.wraps(run)
            def dict_handler(request: Mapping[str, Any]) -> Answer:  # type: ignore[misc]
                req = None
                try:
                    req = parse(request)
                    return answer(run(req))
                except failures as exc:
                    return failed(exc, req)
        self.dict_handler = dict_handler
        return dict_handler


class Node(Declaration):
    """A runner-only node: one of MISP's built-in workflow nodes."""

    def __init__(self, misp_id: str, module_type: str, params: Sequence[Mapping[str, Any]],
                 moduleinfo: dict[str, Any], moduleconfig: dict[str, Any], **surface: Any) -> None:
        super().__init__(moduleinfo, moduleconfig, **surface)
        self.misp_id = misp_id
        self.module_type = module_type
        self.params = tuple(params)

    def handler(self, run: Callable[[NodeRequest], Any]) -> Handler:
        """Decorate ``run(req: NodeRequest) -> dict`` (or ``async def``) into ``dict_handler``.

        A :class:`ParamError` becomes a failed node (result false) whose error names the param;
        for a logic node it is :func:`no_decision`: a malformed request is not MISP's decision.
        Anything else propagates: the server reports it as a module error and logs the traceback."""
        decides = self.module_type == "logic"

        def failed(exc: Exception, req: Any) -> Answer:
            return no_decision(str(exc)) if decides else reply(False, errors=[str(exc)])

        return self._install(run, lambda request: NodeRequest.parse(request, self.params), _same, failed,
                             (ParamError,))


class Action(Declaration):
    """A MISP-facing action: MISP lists it as a workflow node with id ``underscore(name)``."""

    def __init__(self, module: str, moduleinfo: dict[str, Any], moduleconfig: dict[str, Any], **surface: Any) -> None:
        super().__init__(moduleinfo, moduleconfig, **surface)
        self.module = module
        self.log = logging.getLogger(f"misp-modules.{module}")

    def _parse(self, request: Mapping[str, Any]) -> ActionRequest:
        return parse_action(self.module, self.moduleconfig["params"], request, self.secret_params)

    def handler(self, run: Callable[[ActionRequest], Any]) -> Handler:
        """Decorate ``run(req: ActionRequest) -> dict`` (the contract's reply) into
        ``dict_handler``; a :class:`ParamError` is a failed node naming the param."""
        def failed(exc: Exception, req: Any) -> Answer:
            return reply(False, errors=[str(exc)])

        return self._install(run, self._parse, _same, failed, (ParamError,))

    def sender(self, send: Callable[[ActionRequest], Any]) -> Handler:
        """Decorate ``send(req: ActionRequest) -> None`` (or ``async def``) into ``dict_handler``:
        upstream's ``{"data": true}``, or ``{"error": ...}`` when ``send`` raises
        :class:`OutboundError`, :class:`ParamError` or :class:`SettingsError` -- logged, with the
        values of ``secret_params`` and every pattern :func:`redact` knows masked. Anything else
        propagates to the server, which reports it as a module error and logs the traceback."""
        def failed(exc: Exception, req: Any) -> Answer:
            message = redact(str(exc), req.secrets() if req is not None else ())
            self.log.warning("%s: not sent: %s", self.module, message)
            return {"error": message}

        return self._install(send, self._parse, lambda _: {"data": True}, failed,
                             (OutboundError, ParamError, SettingsError))


def _same(answer: Answer) -> Answer:
    return answer


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
    timeout: float | None = None,
    concurrency: int | None = None,
    isolation: str | None = None,
    secret_params: Iterable[str] = (),
) -> Node:
    """A runner-only node implementing MISP's node ``misp_id`` (``name``, ``version``,
    ``params``: MISP's). ``module-type`` is ``["workflow"]`` so MISP never lists it as an action
    node (its ids are MISP's own built-in ids); the runner finds it through ``misp_workflow.id``."""
    params = _rule_defaults(misp_id, params)
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
        "misp_workflow": workflow_meta(
            misp_id=misp_id, module_type=module_type, name=name, version=version, params=params,
            blocking=blocking, support_filters=support_filters, expect_misp_core_format=expect_misp_core_format,
            multiple_output_connection=multiple_output_connection, outputs=outputs, logic_kind=logic_kind,
            needs_stored_event=needs_stored_event),
    }
    moduleconfig = {"blocking": blocking, "support_filters": support_filters,
                    "expect_misp_core_format": expect_misp_core_format}
    return Node(misp_id, module_type, params, moduleinfo, moduleconfig, timeout=timeout, concurrency=concurrency,
                isolation=isolation, secret_params=secret_params)


def _rule_defaults(misp_id: str, params: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``params`` with the defaults of the node's IF rule, which the decision applies too (one
    declaration); a descriptor that states its own default for such a param is refused."""
    defaults = DEFAULTS.get(misp_id, {})
    filled = []
    for param in params:
        pid = param["id"]
        if pid in defaults:
            if "default" in param:
                raise ValueError(f"{misp_id}: param `{pid}` takes its default from the rule "
                                 "(misp_modules.semantics.decisions.DEFAULTS), not from the descriptor")
            param = {**param, "default": defaults[pid]}
        filled.append(dict(param))
    return filled


def param(kind: str, description: str, placeholder: str = "") -> dict[str, Any]:
    """One entry of a MISP-facing action's ``moduleconfig["params"]`` as MISP's editor reads it
    (``string`` → input, ``large_string`` → textarea, ``hash_path`` → input that makes MISP
    send ``matchingData``)."""
    return {"type": kind, "description": description, "value": placeholder}


DRY_RUN_PARAM = param("string", "true: work out and report the changes without writing them to MISP "
                               "(upstream 3.1's dry_run convention)", "false")


def declare_action(
    *,
    module: str,
    name: str,
    description: str,
    params: Mapping[str, Mapping[str, Any]],
    input: str,
    output: str,
    version: str = "1.0",
    author: str = "misp-modules-ng",
    logo: str = "",
    requirements: Iterable[str] = (),
    features: str = "",
    references: Iterable[str] = (),
    blocking: bool = False,
    support_filters: bool = True,
    expect_misp_core_format: bool = False,
    timeout: float | None = None,
    concurrency: int | None = None,
    isolation: str | None = None,
    secret_params: Iterable[str] = (),
) -> Action:
    """A MISP-facing action ``module`` (its file name: settings and logs name it so) with
    upstream's ``moduleinfo`` and ``moduleconfig`` (``params`` made with :func:`param`)."""
    moduleinfo = {
        "version": version,
        "author": author,
        "module-type": ["action"],
        "name": name,
        "description": description,
        "logo": logo,
        "requirements": list(requirements),
        "features": features,
        "references": list(references),
        "input": input,
        "output": output,
    }
    moduleconfig = {"params": dict(params), "blocking": blocking, "support_filters": support_filters,
                    "expect_misp_core_format": expect_misp_core_format}
    return Action(module, moduleinfo, moduleconfig, timeout=timeout, concurrency=concurrency, isolation=isolation,
                  secret_params=secret_params)
