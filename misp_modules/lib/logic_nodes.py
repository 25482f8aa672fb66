"""The answer of an IF-style built-in logic node: MISP's decision, plus what is wrong with it.

The decision itself, and its param defaults, live in :mod:`misp_modules.semantics.decisions`
(one place for MISP's semantics); the node's declaration (``misp_modules.lib.declaration``)
takes those defaults for its descriptors. This adds the node's param problems as ``warnings``
(MISP decides anyway: an unknown operator is false, and MISP's errors stay MISP's) and turns
MISP's crashes into a clear error without a decision (:func:`no_decision`): where MISP's run
dies, the runner must not pick a branch for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from misp_modules.contract.reply import if_reply, no_decision
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import Node
from misp_modules.semantics import decisions
from misp_modules.semantics.errors import SemanticsError


def decide(node: Node, req: NodeRequest, *, accept: Mapping[str, Iterable[Any]] | None = None,
           check_options: Iterable[str] | None = None) -> dict[str, Any]:
    """``if_reply`` for the built-in IF ``node`` on ``req`` (data as ``getData()`` gives it)."""
    found = node_params.problems(node.params, req.params, accept=accept, check_options=check_options)
    try:
        result, errors = decisions.DECISIONS[node.misp_id](req.data, req.params)
    except SemanticsError as exc:
        return no_decision(crash_reason(node.misp_id, exc))
    return if_reply(result, errors, warnings=found)


def crash_reason(misp_id: str, exc: SemanticsError) -> str:
    """Why MISP's module cannot decide: the PHP failure the library reproduced."""
    text = str(exc)
    return text if "MISP crashes" in text else f"{text} (MISP's {misp_id} crashes on this input)"
