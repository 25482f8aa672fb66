"""A node's answer (docs/contract.md §3): written by modules with :func:`reply`, read by the
runner with :func:`read_answer`, so both sides agree on what ``result``, ``errors``, ``error``,
``output``, ``warnings``, ``data``, ``changes``, ``exception`` and ``run_workflows`` mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from misp_modules.semantics.php import is_empty, json_type

EMPTY_SELECTION = ("no attribute matched the node's filter: MISP counts an empty selection as a failed node "
                   "(partial-success), without an error")


def reply(
    result: bool,
    *,
    errors: Iterable[str] = (),
    data: Any = None,
    changes: Iterable[Mapping[str, Any]] | None = None,
    output: str | None = None,
    warnings: Iterable[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The contract's answer. ``data`` only when the module changed the roaming data.

    ``warnings``: what MISP does not report but the analyst should know (a param MISP reads
    anyway, an empty selection, lookups that failed); kept apart from ``errors``, which are
    MISP's."""
    messages = [str(e) for e in errors]
    answer: dict[str, Any] = {"result": bool(result), "errors": messages}
    if messages:
        answer["error"] = ", ".join(messages)
    notes = [str(w) for w in warnings]
    if notes:
        answer["warnings"] = notes
    if output is not None:
        answer["output"] = output
    if data is not None:
        answer["data"] = data
    if changes is not None:
        answer["changes"] = list(changes)
    answer.update(extra)
    return answer


def if_reply(result: bool, errors: Iterable[str] = (), warnings: Iterable[str] = ()) -> dict[str, Any]:
    """An IF-style logic answer: true follows ``output_1`` (then), false ``output_2`` (else)."""
    return reply(result, errors=errors, output="output_1" if result else "output_2", warnings=warnings)


def no_decision(reason: str) -> dict[str, Any]:
    """The answer of a logic module that cannot decide as MISP would (MISP itself crashes on this
    input, or the request is malformed): no ``result``, only ``error``. The runner fails the
    node and the path it guards (docs/runner.md, "Fail closed"); it never takes this as false."""
    return {"error": str(reason)}


def misp_exception(message: str) -> dict[str, Any]:
    """The answer of a module whose MISP ``exec()`` throws an ``Exception`` MISP's ``executeNode``
    catches: MISP's outcome, not a failure to decide. The runner reports the node as MISP does
    (status ``error``, "Error while executing module <id>. Error: <message>", result false)."""
    return {"result": False, "errors": [], "exception": str(message)}


def misp_crash(message: str, *, errors: Iterable[str] = (),
               changes: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The answer of a module whose MISP ``exec()`` dies here with a PHP ``Error`` MISP does not
    catch (a ``TypeError``, a call on null): MISP's run ends at this node. ``message`` says so in
    plain words (what MISP throws, and why); ``errors``/``changes``: what the node had reported and
    saved before. The runner fails the node and stops the run there, as MISP's run stops
    (docs/contract.md §3): a clear error, never a failed node the walk goes past."""
    answer = reply(False, errors=errors, changes=changes)
    answer["crash"] = str(message)
    return answer


class AnswerError(Exception):
    """An answer the runner cannot read as the node's (not an object; a runner-only module's
    answer without ``result``, i.e. the server's report that the module failed)."""


@dataclass
class Answer:
    """An answer as the runner reads it."""

    result: bool
    errors: list[str]
    warnings: list[str] = field(default_factory=list)
    data: Any = None          # new roaming data; None: the module did not change it
    changes: list[Any] = field(default_factory=list)
    exception: str | None = None  # MISP's exec() threw and MISP caught it (misp_exception)
    result_key: str | None = None  # upstream 3.1's ``returns = "data"`` reply: the name of its result
    result_data: Any = None        # ... and that result (a summary, never roaming data)
    toasts: list[dict[str, str]] = field(default_factory=list)  # notifications for the run's initiator user
    crash: str | None = None  # MISP's run dies at this node (misp_crash): why
    run_workflows: dict[str, Any] | None = None  # run-workflow's directive: {"labels": [...], "payload": ...} (contract.md §3)


TOAST_VARIANTS = ("info", "success", "warning", "danger")


def toast(variant: Any, header: Any, body: Any) -> dict[str, str]:
    """A notification toast for the user who started the run (MISP's
    ``User::createNotificationToast``): MISP shows it in its UI; the runner records it in the
    trace and the ``--json`` document. The variant is kept as given, as MISP keeps it."""
    return {"variant": "" if variant is None else str(variant), "header": "" if header is None else str(header),
            "body": "" if body is None else str(body)}


def _toasts(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return []
    return [toast(t.get("variant"), t.get("header"), t.get("body")) for t in value if isinstance(t, dict)]


def _crash(answer: dict[str, Any]) -> str | None:
    crash = answer.get("crash")
    return None if "result" not in answer or is_empty(crash) else str(crash)


def read_answer(answer: Any, *, runner_only: bool) -> Answer:
    """What a node's answer says. ``runner_only``: a module that declares ``misp_workflow``, which
    always answers ``result``; any other is a MISP-facing misp-module, read as MISP reads it
    (docs/misp-behaviour.md §11.2): only a non-empty ``error`` fails it.

    ``data`` is new roaming data only as a JSON object, or from a runner-only module a JSON array
    (a PHP array MISP may set, ``[]`` after a reset); upstream's ``{"data": true}`` is not data.
    Upstream 3.1's ``returns = "data"`` actions answer ``{"result_key": <name>, "data": <result>}``
    (plus ``error`` when part of the work failed): that ``data`` is the module's result, read
    as ``result_key``/``result_data``, never as roaming data (docs/contract.md §3). ``toasts``
    (runner-only modules): :func:`toast` notifications for the run's initiator user; ``crash``
    (runner-only): MISP's run ends at this node (:func:`misp_crash`).
    :class:`AnswerError` when there is no answer to read."""
    if not isinstance(answer, dict):
        raise AnswerError(f"the module server answered a JSON {json_type(answer)}, not an object")
    error = answer.get("error")
    if "result" in answer:
        result = not is_empty(answer["result"])
        errors = answer.get("errors")
        if not isinstance(errors, list):
            errors = [] if is_empty(error) else [str(error)]
        messages = [str(e) for e in errors]
    elif runner_only:
        # the server reports a failure that is not the module's decision (it raised, timed out, was not found)
        raise AnswerError(str(error) if not is_empty(error) else "the module answered without a `result`")
    else:
        result = is_empty(error)
        messages = [] if result else [error if isinstance(error, str) else str(error)]
    warnings = answer.get("warnings")
    data = answer.get("data")
    result_key = answer.get("result_key")
    result_data = None
    if isinstance(result_key, str) and result_key and not runner_only:
        result_data, data = data, None
    else:
        result_key = None
    if not (isinstance(data, dict) or (isinstance(data, list) and runner_only)):
        data = None
    changes = answer.get("changes")
    exception = answer.get("exception") if runner_only and "result" in answer else None
    directive = answer.get("run_workflows") if runner_only and "result" in answer else None
    if not (isinstance(directive, dict) and isinstance(directive.get("labels"), list)):
        directive = None
    return Answer(result, messages, [str(w) for w in warnings] if isinstance(warnings, list) else [], data,
                  changes if isinstance(changes, list) else [],
                  None if is_empty(exception) else str(exception), result_key, result_data,
                  _toasts(answer.get("toasts")) if runner_only else [],
                  _crash(answer) if runner_only else None, run_workflows=directive)
