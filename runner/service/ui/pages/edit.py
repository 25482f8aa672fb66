"""Running with edits: ``/ui/new`` (a workflow on an event) and ``/ui/runs/<id>/edit`` (a past
run again: "debug in editor"). One form: the workflow version, the trigger (blueprints), the
input (edited JSON, an event file of the events folder, or an event MISP is asked for by id)
and a scripted result per node (mocks). Submitting queues the run through the service's intake,
exactly as ``POST /api/runs`` (or ``/rerun``) does, and shows the new run's page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from runner.service import execution
from runner.service.intake import IntakeError
from runner.service.ui import runview
from runner.service.ui.pages.base import Page, PageError
from runner.service.workflows import UnknownWorkflow

MOCK_CHOICES = (("", "run the module"), ("success", "succeed (true)"), ("failure", "fail (false)"),
                ("exception", "throw an exception"))


def mock_fields(mocks: Mapping[str, Any] | None) -> dict[str, tuple[str, str]]:
    """A run's mocks as the form shows them: node -> (choice, text)."""
    out = {}
    for key, value in (mocks or {}).items():
        if value is True or (isinstance(value, Mapping) and value.get("success", True) is not False
                             and not value.get("exception")):
            out[str(key)] = ("success", "")
        elif isinstance(value, Mapping) and value.get("exception"):
            out[str(key)] = ("exception", str(value["exception"]))
        else:
            errors = value.get("errors") if isinstance(value, Mapping) else None
            out[str(key)] = ("failure", "; ".join(map(str, errors or [])))
    return out


def mocks_from_form(page: Page, keys: list[str]) -> dict[str, Any] | None:
    mocks: dict[str, Any] = {}
    for key in keys:
        choice = page.get_body_argument(f"mock:{key}", "")
        text = page.get_body_argument(f"mock_text:{key}", "").strip()
        if choice == "success":
            mocks[key] = True
        elif choice == "failure":
            mocks[key] = {"success": False, "errors": [e.strip() for e in text.split(";") if e.strip()]} if text \
                else False
        elif choice == "exception":
            mocks[key] = {"exception": text or "scripted exception"}
        elif choice:
            raise PageError(400, f"node {key}: unknown scripted result {choice!r}")
    return mocks or None


class EditForm(Page):
    """The form, for a new run (``run_id`` None) or a re-run of ``run_id``."""

    async def get(self, run_id: str | None = None) -> None:
        values = await self.blocking(self._values, run_id)
        self.page("edit.html", **values)

    def _values(self, run_id: str | None, error: str | None = None, posted: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
        svc = self.ctx.service
        names = sorted({w.name for w in svc.folder.all()})
        view = None
        input_text, mocks, version, trigger = "", {}, None, None
        if run_id is not None:
            view = runview.load(self.ctx, run_id)
            if view is None:
                raise PageError(404, f"there is no run {run_id}", title="No such run")
            name = view.row["workflow"]
            trigger = view.row.get("trigger")
            version = view.row.get("version")
            mocks = mock_fields(view.meta.get("mocks"))
            input_text = runview.input_text(self.ctx, run_id) or ""
        else:
            name = self.get_argument("workflow", "") or (names[0] if names else "")
        current = None
        try:
            current = svc.folder.get(name) if name else None
        except UnknownWorkflow:
            current = None
        versions = []
        if current is not None:
            versions.append({"version": current.version, "label": f"{current.version} (the folder's file, current)"})
        for kept in svc.history.versions(name) if name else []:
            if current is None or kept["version"] != current.version:
                from runner.service.ui.context import when

                versions.append({"version": kept["version"], "label": f"{kept['version']} (first ran {when(kept['first_seen'])})"})
        if version is None and versions:
            version = versions[0]["version"]
        if version and not any(v["version"] == version for v in versions):
            versions.append({"version": version, "label": f"{version} (not kept: cannot be picked)"})
        event_file = self.get_argument("event_file", "")
        if not input_text and event_file:
            try:
                input_text = self.ctx.event_file(event_file).decode("utf-8", "replace")
            except LookupError as exc:
                error = error or str(exc)
        drawing = None
        if name and version:
            try:
                drawing = runview.drawing(self.ctx, name, version, trigger or (current.trigger if current else None)
                                          or svc.config.adhoc_trigger, None)
            except Exception:  # noqa: BLE001 - the form works without the node list
                drawing = None
        nodes = []
        if drawing is not None:
            for key, node in drawing.nodes.items():
                data = node.get("data") if isinstance(node.get("data"), dict) else {}
                if data.get("module_type") == "trigger":
                    continue
                nodes.append({"key": key, "title": node.get("name") or data.get("name") or key,
                              "module": data.get("id")})
        values: dict[str, Any] = {
            "title": f"Re-run {run_id[:8]} with edits" if run_id else "New run", "run_id": run_id, "view": view,
            "workflow": name, "workflows": names, "versions": versions, "version": version,
            "trigger": trigger or (current.trigger if current else None) or svc.config.adhoc_trigger,
            "fixed_trigger": bool(current and current.trigger), "triggers": execution.trigger_ids(),
            "input_text": input_text, "source": "json", "event_files": self.ctx.event_files(),
            "event_file": event_file, "event_id": "", "misp": svc.misp.configured, "nodes": nodes,
            "mocks": mocks, "choices": MOCK_CHOICES, "error": error,
        }
        if posted:
            values.update(posted)
        return values

    async def post(self, run_id: str | None = None) -> None:
        posted = {"input_text": self.get_body_argument("input_text", ""),
                  "source": self.get_body_argument("source", "json"),
                  "event_file": self.get_body_argument("event_file", ""),
                  "event_id": self.get_body_argument("event_id", "").strip(),
                  "version": self.get_body_argument("version", "") or None,
                  "trigger": self.get_body_argument("trigger", "") or None}
        workflow = self.get_body_argument("workflow", "") if run_id is None else None
        keys = [a[5:] for a in self.request.body_arguments if a.startswith("mock:")]
        try:
            mocks = mocks_from_form(self, keys)
            posted["mocks"] = mock_fields(mocks)
            task = await self.blocking(self._submit, run_id, workflow, posted, mocks)
        except (PageError, IntakeError, ValueError, LookupError) as exc:
            status = exc.status if isinstance(exc, PageError) else 404 if isinstance(exc, LookupError) else 400
            message = exc.message if isinstance(exc, PageError) else str(exc).strip("'\"")
            if isinstance(exc, PageError) and exc.status == 404 and run_id is not None:
                raise
            values = await self.blocking(self._values_for_error, run_id, workflow, message, posted)
            self.page("edit.html", status, **values)
            return
        self.redirect(f"/ui/runs/{task.id}", status=303)

    def _values_for_error(self, run_id: str | None, workflow: str | None, message: str,
                          posted: Mapping[str, Any]) -> dict[str, Any]:
        if workflow is not None:
            self.request.arguments["workflow"] = [workflow.encode()]
        return self._values(run_id, message, posted)

    def _submit(self, run_id: str | None, workflow: str | None, posted: Mapping[str, Any],
                mocks: dict[str, Any] | None) -> Any:
        svc = self.ctx.service
        data, event_ref = None, None
        source = posted["source"]
        if source == "json":
            text = posted["input_text"].strip()
            if not text:
                raise PageError(400, "the input is empty: paste the trigger's data (an event {\"Event\": ...})")
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise PageError(400, f"the input is not JSON: {exc}") from None
        elif source == "file":
            try:
                data = orjson.loads(self.ctx.event_file(posted["event_file"]))
            except orjson.JSONDecodeError as exc:
                raise PageError(400, f"event file {posted['event_file']}: not JSON: {exc}") from None
        elif source == "misp":
            if not posted["event_id"]:
                raise PageError(400, "give the id or uuid of the MISP event to run on")
            event_ref = posted["event_id"]
        else:
            raise PageError(400, f"unknown input source {source!r}")
        if run_id is not None:
            return svc.rerun(run_id, data=data, event_ref=event_ref, mocks=mocks, version=posted["version"])
        if not workflow:
            raise PageError(400, "choose a workflow")
        current = svc.folder.get(workflow)
        version = posted["version"]
        return svc.intake.submit(workflow=workflow, trigger=None if current.trigger else posted["trigger"], data=data,
                                 event_ref=event_ref, source="api", mocks=mocks,
                                 version=None if version == current.version else version)
