"""Small MISP-format graphs for the runner's tests, written the way MISP's editor saves them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

TRIGGERS = {
    "event-publish": {"blocking": True, "misp_core_format": True, "name": "Event Publish"},
    "event-after-save-new": {"blocking": False, "misp_core_format": True, "name": "Event After Save New"},
}


def node(nid: int, module: str, module_type: str = "action", params: Any = None,
         outputs: dict[str, Iterable[int]] | None = None, filters: dict | None = None, **data: Any) -> dict:
    """A node; ``outputs`` maps output names to target ids (``None``: MISP's ``[]``)."""
    out: Any = [] if outputs is None else {
        name: {"connections": [{"node": str(t), "output": "input_1"} for t in targets]}
        for name, targets in outputs.items()}
    body = {"id": module, "module_type": module_type, "name": module,
            "indexed_params": params if params is not None else [],
            "saved_filters": filters or {"selector": "", "value": "", "operator": "", "path": ""},
            "multiple_output_connection": module == "concurrent-task", **data}
    return {"id": nid, "name": module, "data": body, "class": "block-type-default", "typenode": False,
            "inputs": {}, "outputs": out, "pos_x": 0, "pos_y": 0}


def trigger(nid: int, trigger_id: str, targets: Iterable[int]) -> dict:
    info = TRIGGERS.get(trigger_id, {"blocking": False, "misp_core_format": True, "name": trigger_id})
    n = node(nid, trigger_id, "trigger", outputs={"output_1": targets}, **info)
    n["inputs"] = []
    return n


def workflow(nodes: Iterable[dict], trigger_id: str = "event-publish", wid: int = 1, name: str | None = None) -> dict:
    return {"Workflow": {"id": wid, "name": name or f"Workflow for trigger {trigger_id}", "trigger_id": trigger_id,
                         "data": {str(n["id"]): n for n in nodes}}}


def logic_if(nid: int, module: str, then: Iterable[int] = (), else_: Iterable[int] = (), params: Any = None) -> dict:
    return node(nid, module, "logic", params, {"output_1": then, "output_2": else_})
