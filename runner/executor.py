"""Executing one node, as MISP's ``executeNode`` (docs/misp-behaviour.md §5.7) and ``Module_misp_module`` (§11.2).

Order of checks: the module must resolve by ``(module_type, id)`` ("Could not load class"),
then be enabled ("Could not execute disabled module"), then it runs: scripted (``--mock``) or
on the module server. Anything that goes wrong while it runs (the module raised, the server is
down, slow, or answers garbage) is "Error while executing module <id>. Error: <reason>".
MISP would count the last three as success for a misp-module (a bug, §11.2 step 7); the runner
reports the truth.

A MISP-facing misp-module never changes the roaming data in MISP (only its ``error`` is read,
§11.2): the runner ignores its ``data`` too, unless the run carries module data
(``--carry-module-data``), a deliberate, traced departure from MISP. Upstream 3.1's
``returns = "data"`` actions answer ``{"result_key", "data"}``: the result is recorded in the
trace, and carried under its key; ``--dry-run`` sets their ``dry_run`` param to ``true``.

Fail closed: a logic node whose decision could not be obtained (the module server is down,
slow, answers an HTTP error or garbage, the module failed or says MISP crashes on this input,
or the server does not offer a logic module MISP has) is ``undecided``: the node fails with the
cause and the walker fails the path it guards (docs/runner.md, "Fail closed"). MISP's own
outcomes for logic nodes stay MISP's: disabled, unknown to MISP, or throwing inside MISP (a
scripted exception) take else.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from misp_modules.contract.client import ModuleCallError
from misp_modules.contract.ids import LOGIC_IDS
from misp_modules.contract.reply import AnswerError, read_answer
from misp_modules.contract.request import filtered_items, matching_data, request_fields, resolve_params
from misp_modules.contract.wire import dumps
from runner import graph as g
from runner.catalog import ModuleSpec
from runner.errors import RunAborted
from runner.logfile import WorkflowLog
from runner.paths import Path
from runner.records import NodeRun

if TYPE_CHECKING:  # runner.context calls execute_node
    from runner.context import RunContext, Target


class NodeException(Exception):
    """The module could not give an answer (MISP: an exception out of ``exec``)."""


class MispCaughtException(NodeException):
    """MISP's own module throws here and MISP catches it: MISP's outcome (false), not undecided."""


class MispCrash(Exception):
    """MISP's own module dies here with a PHP ``Error`` MISP does not catch: MISP's run ends at
    this node (after what the node saved before)."""


def execute_node(ctx: RunContext, key: str, node: Mapping, target: Target, roaming: Any, kind: str,
                 path: Path, log: WorkflowLog) -> NodeRun:
    """Execute node ``key`` (its module resolved as ``target``) on ``roaming``: one :class:`NodeRun`."""
    started = time.perf_counter()
    mid = g.module_id(node)
    run = NodeRun(node=g.display_id(node, key), module=mid, kind=kind, path=path)
    try:
        _execute(ctx, run, node, target.spec, roaming, log)
    finally:
        run.duration = time.perf_counter() - started
    return run


def _execute(ctx: RunContext, run: NodeRun, node: Mapping, spec: ModuleSpec | None, roaming: Any,
             log: WorkflowLog) -> None:
    mid = run.module
    opts = ctx.options
    if spec is None:
        _fail(ctx, run, node, roaming, log, "loading_error", f"Could not load class for module: {mid}")
        if run.kind == "logic" and mid in LOGIC_IDS and opts.enablement.is_enabled(mid):
            # MISP has this module; only the module server lacks it: no decision to take
            run.errors = [f"{run.errors[0]} (MISP has this logic module; the module server does not offer it)"]
            run.undecided, run.result = True, None
        return
    if not opts.enablement.is_enabled(mid):
        _fail(ctx, run, node, roaming, log, "disabled_module", f"Could not execute disabled module `{mid}`.")
        return
    try:
        mock = opts.mocks.get(run.node) if opts.mocks else None
        if mock is not None:
            run.mocked = True
            if mock.exception is not None:
                raise NodeException(mock.exception)
            result, errors = mock.success, list(mock.errors)
        else:
            result, errors = _call(ctx, spec, run, node, roaming)
    except MispCrash as exc:
        log.error(f"Node `{mid}` ({run.node}) from Workflow `{ctx.workflow.name}` ({ctx.workflow.id}): {exc}")
        _abort(run, str(exc))
        return
    except NodeException as exc:
        message = f"Error while executing module {mid}. Error: {exc}"
        _fail(ctx, run, node, roaming, log, "error", message, debug_message=str(exc))
        if run.kind == "logic" and not run.mocked and not isinstance(exc, MispCaughtException):
            # a scripted exception, or one the module says MISP throws and catches, is MISP's own (else)
            run.undecided, run.result = True, None
        return
    run.result = bool(result)
    run.errors = errors
    run.status = "success" if run.kind == "logic" or run.result else "partial-success"
    wf = ctx.workflow
    try:
        log.debug(f"Executed node `{mid}`\nNode `{mid}` ({run.node}) from Workflow `{wf.name}` ({wf.id}) "
                  f"executed successfully with status: {run.status}")
        if ctx.debug is not None:
            ctx.debug.exec(mid, run.status, roaming.data, node, errors or None)
    except RunAborted as exc:  # MISP's run dies here, after the module ran
        _abort(run, str(exc))


def _fail(ctx: RunContext, run: NodeRun, node: Mapping, roaming: Any, log: WorkflowLog, status: str,
          message: str, debug_message: str | None = None) -> None:
    run.result = False
    run.status = status
    run.errors = [message]
    log.error(message)
    if ctx.debug is not None:
        try:
            ctx.debug.exec(run.module, status, roaming.data, node, message=debug_message)
        except RunAborted as exc:
            _abort(run, str(exc))


def _abort(run: NodeRun, reason: str) -> None:
    """MISP's run dies at this node: the node reads as failed with the reason, and the walker
    stops the walk (``aborted``)."""
    run.aborted = reason
    run.status, run.result = "error", (None if run.kind == "logic" else False)
    run.errors = [*run.errors, reason]


def _call(ctx: RunContext, spec: ModuleSpec, run: NodeRun, node: Mapping, roaming: Any) -> tuple[bool, list[str]]:
    if ctx.client is None:
        raise NodeException("no module server configured")
    data, data_json = roaming.view_json()
    saved_filters = g.saved_filters(node)
    try:
        params = resolve_params(spec.params, g.indexed_params(node), ctx.render, data)
        extra: dict[str, Any] = {}
        if spec.is_misp_module:
            if ctx.options.dry_run and "dry_run" in params:  # upstream 3.1's dry_run param: --dry-run forces it
                params["dry_run"] = "true"
            if spec.support_filters:
                extra["filteredItems"] = filtered_items(saved_filters, data)
            matching = matching_data(spec.params, params, data)
            if matching:
                extra["matchingData"] = matching
    except Exception as exc:  # noqa: BLE001 - e.g. a hash path the semantics library rejects
        raise NodeException(str(exc) or type(exc).__name__) from None
    timeout = ctx.options.timeout or ctx.client.timeout
    body = request_fields(module=spec.name, params=params, node_id=run.node, saved_filters=saved_filters,
                          indexed_params=g.node_data(node).get("indexed_params"), trigger=ctx.trigger,
                          workflow={"id": ctx.workflow.id, "name": ctx.workflow.name}, dry_run=ctx.options.dry_run,
                          timeout=timeout, extra=extra, module_version=g.node_data(node).get("module_version"),
                          now=ctx.now, misp_release=ctx.options.misp_release,
                          initiator_user=ctx.options.initiator_user)
    # The roaming data is the bulk of every request: its encoding is shared by the nodes that
    # see the same data, and spliced into the body.
    parts = [b'{"data":', *data_json, b","]
    if spec.needs_stored_event:
        parts += [b'"stored_event":', ctx.stored.snapshot_json(), b","]
    parts.append(dumps(body)[1:])
    try:  # the parts as they are: the data's one encoding is not copied into a joined body
        raw, run.module_time = ctx.client.query_bytes(parts, timeout + 1.0)
        answer = read_answer(raw, runner_only=spec.kind == "runner")
    except (ModuleCallError, AnswerError) as exc:
        raise NodeException(str(exc)) from None
    if answer.warnings:
        run.warnings = answer.warnings
    if answer.toasts:
        run.toasts = answer.toasts
    if answer.exception is not None:
        raise MispCaughtException(answer.exception)
    if answer.data is not None:
        if spec.kind == "runner":
            roaming.set_data(answer.data)
            run.data_changed = True
        elif ctx.options.carry_module_data:  # opt-in: MISP ignores a misp-module's data (§11.2)
            roaming.set_data(answer.data)
            run.data_changed = run.data_carried = True
        else:
            run.data_ignored = True
    if answer.result_key is not None:
        _read_result(ctx, run, roaming, answer.result_key, answer.result_data)
    if answer.changes:
        run.changes = ctx.stored.apply(answer.changes, run.node)
    if answer.crash is not None:
        run.errors = answer.errors
        raise MispCrash(answer.crash)
    if answer.run_workflows is not None and answer.result:  # run-workflow: the runner runs them (contract §3)
        from runner.subworkflows import run_directive

        run_directive(ctx, run, answer.run_workflows, roaming)
    return answer.result, answer.errors


def _read_result(ctx: RunContext, run: NodeRun, roaming: Any, key: str, result: Any) -> None:
    """An upstream 3.1 ``returns = "data"`` answer: its result is recorded; MISP ignores it, so
    it reaches the next nodes only with ``--carry-module-data``, under ``<result_key>`` in the
    roaming data (the event is kept: the result is a summary, not an event)."""
    run.result_key, run.result_data = key, result
    current = roaming.data
    if ctx.options.carry_module_data and isinstance(current, dict):
        roaming.set_data({**current, key: result})
        run.data_changed = run.data_carried = True
    elif result is not None:
        run.data_ignored = True
