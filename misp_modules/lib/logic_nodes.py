"""The answer of an IF-style built-in logic node: MISP's decision, plus what is wrong with it.

The decision itself lives in :mod:`misp_modules.semantics.decisions` (one place for MISP's
semantics); this adds the node's param problems and turns MISP's crashes into a clear error.
MISP discards a logic node's errors and takes the else branch when the module throws; the
runner does the same with the decision and still reports the errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from misp_modules.lib import node_params
from misp_modules.lib.workflow import NodeRequest, if_reply
from misp_modules.semantics import decisions
from misp_modules.semantics.errors import SemanticsError


def decide(misp_id: str, req: NodeRequest, declared: Sequence[Mapping[str, Any]], *,
           accept: Mapping[str, Iterable[Any]] | None = None,
           check_options: Iterable[str] | None = None) -> dict[str, Any]:
    """``if_reply`` for the built-in IF node ``misp_id`` on ``req`` (data as ``getData()`` gives it)."""
    found = node_params.problems(declared, req.params, accept=accept, check_options=check_options)
    try:
        result, errors = decisions.DECISIONS[misp_id](req.data, req.params)
    except SemanticsError as exc:
        result, errors = False, [f"Error while executing module {misp_id}: {exc}"]
    return if_reply(result, node_params.merge(errors, found))
