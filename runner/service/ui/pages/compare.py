"""``/ui/compare?a=<run>&b=<run>``: two runs side by side: the outcome, every node's decision in
each (differences first, with why: :mod:`..decisions`), the path and changes as ``history diff``
prints them (:mod:`runner.service.compare`), and both graphs with the differing nodes marked."""

from __future__ import annotations

from typing import Any

from runner.service import compare as service_compare
from runner.service.ui import decisions, graph, runview
from runner.service.ui.pages.base import Page, PageError
from runner.service.ui.states import walk_states


class Compare(Page):
    async def get(self) -> None:
        picked = self.get_arguments("run")
        a = self.get_argument("a", "") or (picked[0] if len(picked) > 0 else "")
        b = self.get_argument("b", "") or (picked[1] if len(picked) > 1 else "")
        if picked and len(picked) != 2:
            raise PageError(400, f"select exactly two runs to compare ({len(picked)} selected)")
        if not a or not b:
            self.page("compare.html", title="Compare runs", a=a, b=b, ready=False)
            return
        values = await self.blocking(self._compare, a.strip(), b.strip())
        self.page("compare.html", title=f"Compare {a[:8]} and {b[:8]}", ready=True, **values)

    def _compare(self, a: str, b: str) -> dict[str, Any]:
        views = {}
        for side, run_id in (("a", a), ("b", b)):
            view = runview.load(self.ctx, run_id)
            if view is None:
                raise PageError(404, f"there is no run {run_id} (run {side.upper()})", title="No such run")
            views[side] = view
        states = {side: walk_states(v.document, v.drawing.nodes, start_node=str(v.document.get("start_node") or ""),
                                    edges=v.drawing.plan.connections()) for side, v in views.items()}
        order: list[tuple[str, str, str]] = []
        for view in (views["b"], views["a"]):
            for key, box in view.drawing.plan.boxes.items():
                if all(key != k for k, _, _ in order):
                    order.append((key, box.title, box.module))
        cache: dict[tuple[str, str], Any] = {}

        def call_view(side: str, key: str) -> Any:
            if (side, key) not in cache:
                cache[(side, key)] = self._first_call(views[side], key)
            return cache[(side, key)]

        rows = decisions.compare(order, views["a"].document, states["a"], views["b"].document, states["b"], call_view)
        differing = {r.key for r in rows if r.differs}
        rows.sort(key=lambda r: not r.differs)
        differences = service_compare.diff(views["a"].document, views["b"].document)
        svgs = {side: graph.svg(v.drawing.plan, states[side], lambda key, rid=v.row["id"]: f"/ui/runs/{rid}/walks/main/nodes/{key}",
                                label=f"Run {side.upper()} ({v.row['id'][:8]})", highlight=differing)
                for side, v in views.items()}
        return {"a": views["a"], "b": views["b"], "rows": rows, "differences": differences,
                "differing": differing, "svgs": svgs}

    def _first_call(self, view: runview.RunView, key: str) -> Any:
        found = runview.call_index(self.ctx, view.row["id"])
        if found is None:
            return None
        index, blob = found
        for position, entry in enumerate(view.document.get("nodes") or ()):
            if str(entry.get("node")) == key:
                number = index.call_number(view.document, "main", position)
                if number is None:
                    return None
                call = index.load(blob, number)
                return call.request.get("params"), call.request.get("data")
        return None
