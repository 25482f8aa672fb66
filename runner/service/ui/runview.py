"""A finished run as its pages need it: the history row, the runner's document, the write-back,
and the drawing of the workflow version that ran.

Only the record's first parts are decompressed (input, document, write-back: :class:`PartReader`);
the module calls stay packed until a node's panel asks for one (:mod:`.calls`). The drawing
comes from the version's file the history kept (or the folder's, when it is the same version),
loaded as the runner loads it (a blueprint gets its trigger); when neither is there the graph is
drawn from the run's own trace, and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from runner.service import execution
from runner.service.record import PartReader
from runner.service.ui import graph
from runner.service.ui.calls import CallIndex
from runner.service.ui.context import UiContext
from runner.service.ui.states import run_walks


def input_text(ctx: UiContext, run_id: str) -> str | None:
    """A kept run's input event as indented JSON (for a form to edit), or None when the history
    has no record of it. Only the record's first part is decompressed."""
    blob = ctx.service.history.detail_blob(run_id)
    if blob is None:
        return None
    reader = PartReader(blob)
    try:
        raw = reader.take(["input"]).get("input")
    finally:
        reader.close()
    if not raw:
        return None
    return orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


@dataclass
class Drawing:
    nodes: dict[str, Mapping[str, Any]]
    plan: graph.Layout
    note: str | None = None
    name: str = ""
    kind: str = "workflow"


@dataclass
class RunView:
    row: dict[str, Any]
    document: dict[str, Any]
    written: list[dict[str, Any]]
    meta: dict[str, Any]
    notes: list[str]
    drawing: Drawing
    has_detail: bool = True
    children: list[dict[str, Any]] = field(default_factory=list)

    def walk(self, walk_id: str) -> Mapping[str, Any] | None:
        return next((w for wid, w in run_walks(self.document) if wid == walk_id), None)


def frames_of(content: bytes) -> Any:
    """The editor's ``_frames`` of a workflow export (blueprints have none)."""
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]
    record = doc.get("Workflow") if isinstance(doc, dict) else None
    data = record.get("data") if isinstance(record, dict) else None
    if isinstance(data, str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
    return data.get("_frames") if isinstance(data, dict) else None


def draw_content(content: bytes, source: str, trigger: str | None) -> Drawing:
    """The drawing of a workflow file (:class:`execution.WorkflowInvalid` when the runner refuses it)."""
    try:
        workflow = execution.load_workflow(content, source, trigger)
    except execution.WorkflowInvalid:
        if trigger is None:
            raise
        workflow = execution.load_workflow(content, source)  # a workflow export names its own trigger
    nodes = dict(execution.workflow_nodes(workflow))
    kind = execution.workflow_kind(workflow)
    return Drawing(nodes, graph.layout(nodes, frames_of(content), added_trigger=added_trigger(content, nodes, kind)),
                   None, workflow.name, kind)


def added_trigger(content: bytes, nodes: Mapping[str, Mapping[str, Any]], kind: str) -> str | None:
    """The trigger node the loader added to a blueprint that has none of its own."""
    if kind != "blueprint":
        return None
    try:
        raw = orjson.loads(content)
        listed = ((raw.get("WorkflowBlueprint") or {}).get("data")) if isinstance(raw, dict) else None
    except (orjson.JSONDecodeError, AttributeError):
        return None
    items = listed.values() if isinstance(listed, dict) else listed if isinstance(listed, list) else []
    if any(isinstance(n, dict) and (n.get("data") or {}).get("module_type") == "trigger" for n in items):
        return None
    return next((k for k, n in nodes.items() if (n.get("data") or {}).get("module_type") == "trigger"), None)


def draw_trace(document: Mapping[str, Any], why: str) -> Drawing:
    """A drawing from the run's trace alone: the nodes it ran, the edges it followed."""
    nodes: dict[str, dict[str, Any]] = {}
    for _wid, walk in run_walks(document):
        for entry in walk.get("nodes") or ():
            key = str(entry.get("node"))
            nodes.setdefault(key, {"id": key, "name": entry.get("module"),
                                   "data": {"id": entry.get("module"), "module_type": entry.get("kind")},
                                   "outputs": {}})
        for _parent, edge in walk.get("paths") or ():
            src, out, idx, dst = str(edge).split(":")
            for key in (src, dst):
                nodes.setdefault(key, {"id": key, "name": key, "data": {"id": "", "module_type": ""}, "outputs": {}})
            conns = nodes[src]["outputs"].setdefault(out, {"connections": []})["connections"]
            while len(conns) <= int(idx):
                conns.append({"node": dst})
    start = str(document.get("start_node") or "")
    if start in nodes:
        nodes[start]["data"]["module_type"] = "trigger"
    return Drawing(nodes, graph.layout(nodes), why, str((document.get("workflow") or {}).get("name") or ""))


def drawing(ctx: UiContext, name: str, version: str | None, trigger: str | None,
            document: Mapping[str, Any] | None) -> Drawing:
    def make() -> Drawing:
        content = None
        if version:
            kept = ctx.service.history.version_content(version)
            content = kept[1] if kept else None
            if content is None:
                try:
                    wf = ctx.service.folder.get(name)
                    content = wf.content if wf.version == version else None
                except LookupError:
                    content = None
        if content is not None:
            try:
                return draw_content(content, f"{name}@{version}", trigger)
            except execution.WorkflowInvalid as exc:
                return draw_trace(document or {}, f"the workflow file could not be read: {exc}")
        return draw_trace(document or {}, f"version {version or 'unknown'} of workflow `{name}` is not kept: "
                                          "drawn from the run's trace (the nodes it ran, the paths it took)")
    if not version:
        return make()
    return ctx.graphs.get(("version", version, trigger), make)


def load(ctx: UiContext, run_id: str) -> RunView | None:
    """The run, or None when the history has no such run."""
    history = ctx.service.history
    row = history.get(run_id)
    if row is None:
        return None
    blob = history.detail_blob(run_id)
    document: dict[str, Any] = {}
    written: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    notes: list[str] = []
    if blob is not None:
        reader = PartReader(blob)
        try:
            meta, notes = reader.meta, reader.notes
            parts = reader.take(["document", "written"])
        finally:
            reader.close()
        document = orjson.loads(parts.get("document") or b"{}")
        written = orjson.loads(parts.get("written") or b"[]")
    draw = drawing(ctx, row["workflow"], row.get("version"), row.get("trigger"), document)
    children, _ = history.list({"parent": run_id}, limit=20)
    return RunView(row, document, written, meta, notes, draw, blob is not None, children)


def call_index(ctx: UiContext, run_id: str) -> tuple[CallIndex, bytes] | None:
    blob = ctx.service.history.detail_blob(run_id)
    if blob is None:
        return None
    return ctx.calls.get(("calls", run_id), lambda: CallIndex(blob)), blob
