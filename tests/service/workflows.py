"""Workflows for the service tests, written as MISP exports them (``{"Workflow": ...}``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.loader import load_workflow
from tests.support.data import PAP_TLP_BLUEPRINT


def export(nodes: dict[str, dict], trigger: str, name: str, wid: int = 7) -> dict[str, Any]:
    return {"Workflow": {"id": wid, "name": name, "trigger_id": trigger, "data": nodes}}


def from_blueprint(blueprint: Path, trigger: str, name: str) -> dict[str, Any]:
    """A MISP blueprint pasted into the workflow of ``trigger`` and exported."""
    workflow = load_workflow(blueprint, trigger)
    return export(workflow.graph, trigger, name)


def pap_tlp(trigger: str = "event-after-save") -> dict[str, Any]:
    return from_blueprint(PAP_TLP_BLUEPRINT, trigger, "PAP/TLP guard")


def _trigger(trigger: str, first: str) -> dict:
    return {"id": 1, "name": trigger, "data": {"id": trigger, "module_type": "trigger", "indexed_params": []},
            "inputs": [], "outputs": {"output_1": {"connections": [{"node": first, "output": "input_1"}]}}}


def _action(nid: int, module: str, params: dict, *, misp_module: bool = False, then: str | None = None) -> dict:
    data = {"id": module, "module_type": "action", "indexed_params": params, "saved_filters":
            {"selector": "", "value": "", "operator": "", "path": ""}}
    if misp_module:
        data["is_misp_module"] = True
    outputs = {"output_1": {"connections": [{"node": then, "output": "input_1"}]}} if then else {}
    return {"id": nid, "name": module, "data": data, "inputs": {"input_1": {"connections": []}}, "outputs": outputs}


def tagger(tag: str = "workflow:curated", trigger: str = "event-after-save") -> dict[str, Any]:
    """Attaches ``tag`` to the event it runs on: a workflow that writes to its own event."""
    return export({"1": _trigger(trigger, "2"),
                   "2": _action(2, "tag_operation", {"scope": "event", "action": "add", "locality": "local",
                                                      "tags": [tag]})},
                  trigger, "Tag the event")


def gated(entered: Path, gate: Path, trigger: str = "event-after-save", tag: str | None = None) -> dict[str, Any]:
    """Holds the run in the ``gate`` node until the gate file exists, then (with ``tag``) tags
    the event."""
    nodes = {"1": _trigger(trigger, "2"),
             "2": _action(2, "gate", {"entered": str(entered), "gate": str(gate)}, misp_module=True,
                          then="3" if tag else None)}
    if tag:
        nodes["3"] = _action(3, "tag_operation", {"scope": "event", "action": "add", "locality": "local",
                                                   "tags": [tag]})
    return export(nodes, trigger, "Gated")


def write(folder: Path, name: str, workflow: dict[str, Any]) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(workflow))
    return path
