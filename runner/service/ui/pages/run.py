"""A run: ``/ui/runs/<id>`` (the main walk), ``/ui/runs/<id>/walks/branch-<job>`` (a
concurrent-task branch, drawn as its own run), a node's panel, the raw JSON, re-run as is.

A run still on the queue (or running) gets a page that says so and reloads itself when the run
is written to the history; an id the history and the queue do not know is a 404 page saying so.
"""

from __future__ import annotations

from typing import Any

import orjson

from misp_modules.contract.changes import describe
from misp_modules.lib.redact import redact
from runner.service.record import PartReader
from runner.service.ui import graph, runview
from runner.service.ui.diff import rows as diff_rows
from runner.service.ui.diff import short
from runner.service.ui.pages.base import Page, PageError
from runner.service.ui.states import WalkStates, mark_elsewhere, walk_states

RUN_ID = r"([\w-]+)"


def describe_change(change: dict[str, Any]) -> str:
    try:
        return describe(change)
    except Exception:  # noqa: BLE001 - an unusual record: show it as JSON
        return short(change, 300)


def walk_view(view: runview.RunView, walk_id: str) -> tuple[Any, WalkStates]:
    walk = view.walk(walk_id)
    if walk is None:
        raise PageError(404, f"run {view.row['id']} has no walk {walk_id!r} (its walks: main"
                             + "".join(f", branch-{b.get('job_id')}" for b in view.document.get("branches") or ())
                             + ")")
    states = walk_states(walk, view.drawing.nodes, start_node=str(view.document.get("start_node") or ""),
                         is_main=walk_id == "main", edges=view.drawing.plan.connections())
    if walk_id == "main":
        mark_elsewhere(states, view.document, walk_id)
    return walk, states


def graph_svg(view: runview.RunView, walk_id: str, states: WalkStates) -> str:
    base = f"/ui/runs/{view.row['id']}/walks/{walk_id}/nodes/"
    label = f"Workflow {view.drawing.name or view.row['workflow']}: {len(view.drawing.nodes)} nodes, " + \
        ("main walk" if walk_id == "main" else walk_id.replace("-", " job "))
    return graph.svg(view.drawing.plan, states, lambda key: base + key, label=label)


async def load_or_pending(page: Page, run_id: str) -> runview.RunView | None:
    """The run, or None after answering the pending page (queued or running) or a 404 page."""
    seq = await page.blocking(page.ctx.service.history.last_seq)  # first: a run written after it wakes the page
    view = await page.blocking(runview.load, page.ctx, run_id)
    if view is not None:
        return view
    queued = await page.blocking(page.ctx.service.backend.get, run_id)
    if queued is None:
        view = await page.blocking(runview.load, page.ctx, run_id)  # it finished between the two reads
        if view is not None:
            return view
        raise PageError(404, f"there is no run {run_id}: the id is wrong, or the run was dropped by the history's "
                             "retention ([history] max_age_days, max_runs)", title="No such run")
    task, state = queued
    page.page("pending.html", title=f"Run {run_id[:8]} ({state})", task=task.summary(), state=state, seq=seq)
    return None


class Run(Page):
    async def get(self, run_id: str, walk_id: str = "main") -> None:
        view = await load_or_pending(self, run_id)
        if view is None:
            return
        walk, states = walk_view(view, walk_id)
        doc = view.document
        branches = doc.get("branches") or []
        branch = walk if walk_id != "main" else None
        logs = [("main walk", line) for line in doc.get("log") or ()]
        for b in branches:
            logs += [(f"branch job {b.get('job_id')}", line) for line in b.get("log") or ()]
        written = {(w.get("index") if isinstance(w, dict) else None): w for w in view.written}
        changes = [{"change": c, "text": describe_change(c), "written": written.get(i) or
                    (view.written[i] if i < len(view.written) else None)}
                   for i, c in enumerate(doc.get("changes") or [])]
        self.page("run.html", title=f"Run {run_id[:8]}" + (f" · {walk_id}" if branch else ""), view=view,
                  row=view.row, doc=doc, walk=walk, walk_id=walk_id, branch=branch, branches=branches,
                  svg=graph_svg(view, walk_id, states), states=states, entries=walk.get("nodes") or [],
                  logs=logs, changes=changes, drawing=view.drawing, meta=view.meta, notes=view.notes)


class NodePanel(Page):
    """One node in one walk: its definition, then each of its executions in full."""

    async def get(self, run_id: str, walk_id: str, key: str) -> None:
        view = await self.blocking(runview.load, self.ctx, run_id)
        if view is None:
            raise PageError(404, f"there is no run {run_id}", title="No such run")
        walk, states = walk_view(view, walk_id)
        node = view.drawing.nodes.get(key)
        state = states.nodes.get(key)
        if node is None and state is None:
            raise PageError(404, f"workflow `{view.row['workflow']}` has no node {key!r}")
        executions = await self.blocking(self._executions, view, walk, walk_id, key)
        values = dict(view=view, row=view.row, walk_id=walk_id, key=key, node=node or {}, state=state,
                      executions=executions, definition=_definition(node or {}),
                      title=f"Node {key} · run {run_id[:8]}")
        if self.get_argument("fragment", ""):
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(self.ctx.render("node_panel.html", **values))
        else:
            self.page("node.html", **values)

    def _executions(self, view: runview.RunView, walk: Any, walk_id: str, key: str) -> list[dict[str, Any]]:
        found = runview.call_index(self.ctx, view.row["id"])
        out = []
        for position, entry in enumerate(walk.get("nodes") or ()):
            if str(entry.get("node")) != key:
                continue
            item: dict[str, Any] = {"position": position, "entry": entry, "call": None}
            if found is not None:
                index, blob = found
                number = index.call_number(view.document, walk_id, position)
                if number is not None:
                    item.update(_call_details(index.load(blob, number), entry, view.drawing.nodes.get(key) or {}))
                    item["number"] = number
            out.append(item)
        return out


def _definition(node: dict[str, Any]) -> dict[str, Any]:
    data = node.get("data") if isinstance(node.get("data"), dict) else {}
    filters = data.get("saved_filters") if isinstance(data.get("saved_filters"), dict) else {}
    return {"name": node.get("name") or data.get("name"), "module": data.get("id"), "type": data.get("module_type"),
            "indexed_params": redact(data.get("indexed_params") or {}),
            "filters": {k: v for k, v in filters.items() if v not in ("", None)}}


def _call_details(call: Any, entry: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    request, answer = call.request, call.answer
    data_in = request.get("data")
    rest = {k: v for k, v in request.items() if k not in ("data", "stored_event", "filteredItems", "matchingData")}
    details: dict[str, Any] = {
        "call": call, "params": redact(request.get("params")), "request": redact(rest),
        "answer": redact({k: v for k, v in answer.items() if k != "data"}) if isinstance(answer, dict) else answer,
        "has_stored_event": "stored_event" in request,
    }
    if "filteredItems" in request:
        details["filtered_items"] = request["filteredItems"]
    if "matchingData" in request:
        details["matching_data"] = request["matchingData"]
    filters = (request.get("node") or {}).get("saved_filters") or {}
    if isinstance(filters, dict) and any(v not in ("", None) for v in filters.values()):
        try:
            from misp_modules.semantics import conditions

            items = conditions.matching_items(data_in, filters)
            details["matching"] = {"filters": filters, "items": items,
                                   "count": len(items) if isinstance(items, (list, dict)) else 0}
        except Exception as exc:  # noqa: BLE001 - a filter MISP would fail on: say so
            details["matching"] = {"filters": filters, "error": f"{type(exc).__name__}: {exc}"}
    returned = answer.get("data") if isinstance(answer, dict) else None
    if entry.get("result_key") is not None and isinstance(data_in, dict):  # upstream 3.1: carried under its key
        returned = {**data_in, entry["result_key"]: returned}
    if entry.get("data_changed") and isinstance(returned, (dict, list)):
        details["diff"], details["diff_total"] = diff_rows(data_in, returned)
    elif entry.get("data_ignored"):
        details["diff_note"] = ("the module returned data, which MISP (and so this run) ignores: a misp-module only "
                                "decides by its `error` (--carry-module-data / [service] carry_module_data carries it)")
    else:
        details["diff_note"] = "the node did not change the roaming data"
    return details


class RunData(Page):
    """``/ui/runs/<id>/input.json``, ``document.json``, and a node call's
    ``/ui/runs/<id>/calls/<n>/input.json`` / ``output.json``."""

    async def get(self, run_id: str, what: str, number: str | None = None) -> None:
        blob = await self.blocking(self.ctx.service.history.detail_blob, run_id)
        if blob is None:
            raise PageError(404, f"there is no run {run_id} with a kept record")

        def read() -> bytes | None:
            reader = PartReader(blob)
            try:
                if number is None:
                    return reader.take([what]).get(what)
                part = "request" if what == "input" else "answer"
                raw = reader.take([f"call:{number}:{part}"]).get(f"call:{number}:{part}")
            finally:
                reader.close()
            if raw is None:
                return None
            decoded = orjson.loads(raw) if raw else None
            inner = decoded.get("data") if isinstance(decoded, dict) else None
            return orjson.dumps(inner, option=orjson.OPT_NON_STR_KEYS)

        raw = await self.blocking(read)
        if raw is None:
            raise PageError(404, f"run {run_id} kept no {what}" + (f" for call {number}" if number else ""))
        self.download(raw, f"{run_id[:8]}-{what}{'-' + number if number else ''}.json")


class CallData(RunData):
    """``/ui/runs/<id>/calls/<n>/input.json`` (the data a node received) and ``output.json``
    (the data it returned)."""

    async def get(self, run_id: str, number: str, what: str) -> None:  # type: ignore[override]
        await super().get(run_id, what, number)


class RerunAsIs(Page):
    async def post(self, run_id: str) -> None:
        try:
            task = await self.blocking(self.ctx.service.rerun, run_id)
        except LookupError as exc:
            raise PageError(404, str(exc).strip("'\"")) from None
        except ValueError as exc:
            raise PageError(400, str(exc)) from None
        self.redirect(f"/ui/runs/{task.id}", status=303)
