"""``/ui/workflows``: the folder (name, version, trigger, bound, problem), and one workflow drawn
at its current or a kept version, with its versions, its recent runs and its nodes' stored
params."""

from __future__ import annotations

from typing import Any

from runner.service import execution
from runner.service.ui import graph, runview
from runner.service.ui.pages.base import Page, PageError
from runner.service.workflows import UnknownWorkflow


class Workflows(Page):
    async def get(self) -> None:
        files = await self.blocking(lambda: [w.describe() for w in self.ctx.service.folder.all()])
        self.page("workflows.html", title="Workflows", files=files, folder=str(self.ctx.service.folder.root))


def _drawing(page: Page, name: str, version: str | None) -> tuple[Any, runview.Drawing, list[dict], str]:
    svc = page.ctx.service
    try:
        current = svc.folder.get(name)
    except UnknownWorkflow as exc:
        raise PageError(404, str(exc).strip("'\""), title="No such workflow") from None
    version = version or current.version
    if version == current.version:
        content = current.content
    else:
        kept = svc.history.version_content(version)
        if kept is None or kept[0] != name:
            raise PageError(404, f"workflow `{name}` has no kept version `{version}`")
        content = kept[1]
    trigger = current.trigger or svc.config.adhoc_trigger
    try:
        draw = page.ctx.graphs.get(("file", version, trigger),
                                   lambda: runview.draw_content(content, f"{name}@{version}", trigger))
    except execution.WorkflowInvalid as exc:
        raise PageError(400, f"the runner cannot read this workflow: {exc}") from None
    versions = [{"version": current.version, "first_seen": None, "current": True}] + [
        {**v, "current": False} for v in svc.history.versions(name) if v["version"] != current.version]
    return current, draw, versions, version


class Workflow(Page):
    async def get(self, name: str) -> None:
        version = self.get_argument("version", "") or None

        def read() -> dict[str, Any]:
            current, draw, versions, shown = _drawing(self, name, version)
            runs, _ = self.ctx.service.history.list({"workflow": name}, limit=10)
            svg = graph.svg(draw.plan, None, lambda key: f"/ui/workflows/{name}/nodes/{key}?version={shown}",
                            label=f"Workflow {name}: {len(draw.nodes)} nodes")
            return {"current": current.describe(), "drawing": draw, "versions": versions, "version": shown,
                    "runs": runs, "svg": svg}

        values = await self.blocking(read)
        self.page("workflow.html", title=f"Workflow {name}", name=name, **values)


class WorkflowNode(Page):
    async def get(self, name: str, key: str) -> None:
        version = self.get_argument("version", "") or None
        _current, draw, _versions, shown = await self.blocking(_drawing, self, name, version)
        node = draw.nodes.get(key)
        if node is None:
            raise PageError(404, f"workflow `{name}` has no node {key!r}")
        from runner.service.ui.pages.run import _definition

        values = {"name": name, "version": shown, "key": key, "definition": _definition(node), "node": node,
                  "title": f"Node {key} · {name}"}
        if self.get_argument("fragment", ""):
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(self.ctx.render("workflow_node.html", **values))
        else:
            self.page("workflow_node_page.html", **values)
