"""Load a workflow file in either of MISP's formats (docs/misp-behaviour.md §2.1, §2.8).

* a workflow as MISP's REST API returns it: ``{"Workflow": {..., "data": {"<id>": node}}}``
  (also the one-element list ``/workflows/index.json`` gives, and ``data`` as a JSON string,
  the DB column's form);
* a blueprint: ``{"WorkflowBlueprint": {..., "data": [node, ...]}}``. Blueprints are fragments
  without a trigger: ``trigger_id`` supplies one (node id 1, or the next free id) connected to
  the blueprint's single entry node; a blueprint's own trigger node is switched to it.

Anything else is an :class:`InputError` naming the file and what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from misp_modules.contract.triggers import DEFAULT_TRIGGER, TRIGGERS, get_trigger
from misp_modules.semantics.php import flag, intval, json_type
from runner import graph as g
from runner.errors import InputError
from runner.jsonio import read_json


def load_workflow(path: str | Path, trigger_id: str | None = None) -> g.Workflow:
    """Read and check a workflow or blueprint file. ``trigger_id`` (``--trigger``) is required
    for nothing: blueprints default to ``event-publish``; for workflows it re-targets nothing
    (a workflow belongs to its stored trigger) and only has to agree with it."""
    return workflow_from_document(read_json(path, "workflow"), str(path), trigger_id)


def workflow_from_document(doc: Any, source: str, trigger_id: str | None = None) -> g.Workflow:
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]
    elif isinstance(doc, list):
        raise InputError(f"not a MISP workflow: {source} holds a list of {len(doc)} items; "
                         "export a single workflow (/workflows/view/<id>.json)")
    if not isinstance(doc, Mapping):
        raise InputError(f"not a MISP workflow: {source} holds a JSON {json_type(doc)}, "
                         "expected an object with a `Workflow` or `WorkflowBlueprint` key")
    if isinstance(doc.get("Workflow"), Mapping):
        return _from_workflow(doc["Workflow"], source, trigger_id)
    if isinstance(doc.get("WorkflowBlueprint"), Mapping):
        return _from_blueprint(doc["WorkflowBlueprint"], source, trigger_id or DEFAULT_TRIGGER)
    keys = ", ".join(sorted(map(str, doc))[:5]) or "none"
    raise InputError(f"not a MISP workflow: {source} has no `Workflow` or `WorkflowBlueprint` key "
                     f"(top-level keys: {keys})")


def _decode_data(record: Mapping, source: str) -> Any:
    data = record.get("data")
    if isinstance(data, str):  # the DB column, not yet decoded
        if not data.strip():
            return {}
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"invalid JSON in the `data` of the workflow in {source}: {exc.msg}") from None
    if data is None or data == []:
        return {}
    return data


def _from_workflow(record: Mapping, source: str, trigger_id: str | None) -> g.Workflow:
    data = _decode_data(record, source)
    if not isinstance(data, Mapping):
        raise InputError(f"not a MISP workflow: `Workflow.data` in {source} must be an object "
                         f"of nodes keyed by id, not a JSON {json_type(data)}")
    nodes = _check_nodes(((k, v) for k, v in data.items() if k != "_frames"), source)
    stored_trigger = record.get("trigger_id")
    if stored_trigger is None:
        first = _first_trigger_id(nodes)
        stored_trigger = first
    if trigger_id and stored_trigger and trigger_id != stored_trigger:
        raise InputError(f"the workflow in {source} belongs to trigger `{stored_trigger}`, "
                         f"not `{trigger_id}` (--trigger only applies to blueprints)")
    return g.Workflow(
        id=record.get("id", 0), name=str(record.get("name") or f"Workflow for trigger {stored_trigger}"),
        trigger_id=stored_trigger, graph=nodes, debug_enabled=flag(record.get("debug_enabled")),
        source=source, kind="workflow", record=dict(record),
    )


def _from_blueprint(record: Mapping, source: str, trigger_id: str) -> g.Workflow:
    trigger = get_trigger(trigger_id)
    if trigger is None:
        raise InputError(f"unknown trigger `{trigger_id}` (known: {', '.join(sorted(TRIGGERS))})")
    data = _decode_data(record, source)
    if isinstance(data, Mapping):
        items = [(k, v) for k, v in data.items() if k != "_frames"]
    elif isinstance(data, list):
        items = []
        for i, node in enumerate(data):
            if not isinstance(node, Mapping) or "id" not in node:
                raise InputError(f"not a MISP workflow: node #{i} of the blueprint in {source} "
                                 "is not an object with an `id`")
            items.append((g.node_key(node["id"]), node))
    else:
        raise InputError(f"not a MISP workflow: `WorkflowBlueprint.data` in {source} must be a list of nodes")
    nodes = _check_nodes(items, source)
    nodes = {k: dict(v) for k, v in nodes.items()}  # we may edit trigger wiring
    triggers = [k for k, n in nodes.items() if g.module_type(n) == "trigger"]
    if triggers:
        for key in triggers:  # the blueprint's own trigger becomes the requested one
            node = nodes[key]
            node["data"] = {**trigger.node_data(), **{k: v for k, v in g.node_data(node).items()
                                                    if k in ("indexed_params", "node_uid")}}
            node["data"]["id"] = trigger.id
            node["name"] = trigger.name
    else:
        entries = _entry_nodes(nodes)
        if len(entries) != 1:
            listing = ", ".join(f"{k} ({g.module_id(nodes[k])})" for k in entries) or "none"
            raise InputError(f"cannot attach trigger `{trigger.id}` to the blueprint in {source}: it needs "
                             f"exactly one entry node (a node nothing connects to), found: {listing}")
        entry = entries[0]
        trigger_key = "1" if "1" not in nodes else str(max(intval(k) for k in nodes) + 1)
        nodes = {trigger_key: {
            "id": int(trigger_key), "name": trigger.name, "class": "block-type-trigger", "typenode": False,
            "data": trigger.node_data(), "inputs": [],
            "outputs": {"output_1": {"connections": [{"node": entry, "output": "input_1"}]}},
            "pos_x": 0, "pos_y": 0,
        }, **nodes}
    # A blueprint runs as if pasted into the workflow MISP creates for the trigger: the first
    # workflow (id 1) with MISP's default name. Both appear in error messages.
    return g.Workflow(id=1, name=f"Workflow for trigger {trigger.id}", trigger_id=trigger.id, graph=nodes,
                      debug_enabled=False, source=source, kind="blueprint", record=dict(record))


def _check_nodes(items, source: str) -> dict[str, dict]:
    nodes: dict[str, dict] = {}
    for key, node in items:
        key = g.node_key(key)
        if not isinstance(node, Mapping):
            raise InputError(f"not a MISP workflow: node `{key}` in {source} is not an object")
        data = node.get("data")
        if not isinstance(data, Mapping):
            raise InputError(f"not a MISP workflow: node `{key}` in {source} has no `data` object")
        if not isinstance(data.get("id"), str) or not data.get("id"):
            raise InputError(f"not a MISP workflow: node `{key}` in {source} has no module id (`data.id`)")
        if data.get("module_type") not in ("trigger", "logic", "action"):
            raise InputError(f"not a MISP workflow: node `{key}` ({data.get('id')}) in {source} has "
                             f"module_type {data.get('module_type')!r}; expected trigger, logic or action")
        outputs = node.get("outputs", [])
        if not isinstance(outputs, (Mapping, list)):
            raise InputError(f"not a MISP workflow: node `{key}` ({data['id']}) in {source} has "
                             "`outputs` that is neither an object nor []")
        for name, conns in g.outputs(node):
            for conn in conns:
                if not isinstance(conn, Mapping) or "node" not in conn:
                    raise InputError(f"not a MISP workflow: output `{name}` of node `{key}` ({data['id']}) "
                                     f"in {source} has a connection without a target `node`")
        if key in nodes:
            raise InputError(f"not a MISP workflow: node id `{key}` appears twice in {source}")
        nodes[key] = node if isinstance(node, dict) else dict(node)
    return nodes


def _entry_nodes(nodes: Mapping[str, Mapping]) -> list[str]:
    targets = {target for key, node in nodes.items() for _, _, target in g.edges(key, node)}
    return [k for k in nodes if k not in targets]


def _first_trigger_id(nodes: Mapping[str, Mapping]) -> str | None:
    for node in nodes.values():
        if g.module_type(node) == "trigger":
            return g.module_id(node)
    return None

