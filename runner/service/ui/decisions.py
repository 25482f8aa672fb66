"""Two runs side by side: which nodes decided differently, and why.

For every node of the workflow, each run's status and outputs in its main walk
(:mod:`.states`); a node *differs* when its status, the outputs it took or its result differ.
The reasons are what a person checks first: the outputs, the errors, the params the module
received, and the node's input (how many data changes, and the first paths), the latter two
from the runs' module calls (given by the caller, which reads them lazily).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.service.ui.states import WalkStates

CallView = tuple[Any, Any]  # (params, input data) of a node's first call, or None


@dataclass
class NodeDecision:
    key: str
    title: str
    module: str
    a: str
    b: str
    differs: bool
    why: list[str] = field(default_factory=list)


def describe(states: WalkStates, walk: Mapping[str, Any], key: str) -> str:
    state = states.nodes.get(key)
    if state is None:
        return "not in this version"
    text = state.label
    if state.outputs:
        text += " → " + ", ".join(state.outputs)
    if state.runs:
        results = [(walk.get("nodes") or [])[i].get("result") for i in state.runs]
        if any(r is not None for r in results):
            text += " (result " + ", ".join("null" if r is None else str(r).lower() for r in results) + ")"
    return text


def _errors(walk: Mapping[str, Any], states: WalkStates, key: str) -> list[str]:
    state = states.nodes.get(key)
    if state is None:
        return []
    return [str(e) for i in state.runs for e in ((walk.get("nodes") or [])[i].get("errors") or ())]


def compare(order: list[tuple[str, str, str]], doc_a: Mapping[str, Any], states_a: WalkStates,
            doc_b: Mapping[str, Any], states_b: WalkStates,
            call_view: Callable[[str, str], CallView | None]) -> list[NodeDecision]:
    """One row per node of ``order`` (``(key, title, module)``); ``call_view(side, key)`` gives
    a node's first call in run ``"a"`` or ``"b"``."""
    import jsonpatch

    from runner.service.ui.diff import short

    out = []
    for key, title, module in order:
        a, b = describe(states_a, doc_a, key), describe(states_b, doc_b, key)
        differs = a != b
        why: list[str] = []
        if differs:
            ea, eb = _errors(doc_a, states_a, key), _errors(doc_b, states_b, key)
            if ea != eb:
                why.append("errors: " + ("; ".join(ea) or "none") + " → " + ("; ".join(eb) or "none"))
            va, vb = call_view("a", key), call_view("b", key)
            if va is not None and vb is not None:
                pa, pb = va[0] if isinstance(va[0], Mapping) else {}, vb[0] if isinstance(vb[0], Mapping) else {}
                for name in sorted(set(pa) | set(pb)):
                    if pa.get(name) != pb.get(name):
                        why.append(f"param `{name}`: {short(pa.get(name), 120)} → {short(pb.get(name), 120)}")
                if va[1] != vb[1]:
                    ops = jsonpatch.make_patch(va[1], vb[1]).patch if isinstance(va[1], (dict, list)) and \
                        isinstance(vb[1], (dict, list)) else [{"op": "replace", "path": ""}]
                    paths = ", ".join(f"{o['op']} {o.get('path') or '/'}" for o in ops[:4])
                    more = f" and {len(ops) - 4} more" if len(ops) > 4 else ""
                    why.append(f"its input differed: {len(ops)} change(s) ({paths}{more})")
                elif pa == pb:
                    why.append("same input and params: the module answered differently")
            elif (va is None) != (vb is None):
                mocked = [side for side, doc, st in (("A", doc_a, states_a), ("B", doc_b, states_b))
                          if any((doc.get("nodes") or [])[i].get("mocked") for i in st.nodes.get(key, _EMPTY).runs)]
                if mocked:
                    why.append("scripted (mocked) in run " + " and ".join(mocked))
                else:
                    why.append("reached in one run only")
        out.append(NodeDecision(key, title, module, a, b, differs, why))
    return out


class _Empty:
    runs: list[int] = []


_EMPTY = _Empty()
