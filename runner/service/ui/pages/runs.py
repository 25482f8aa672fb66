"""``/ui/runs``: the runs, newest first, filtered, paged by keyset; new runs appear as they finish.

Filters are the history's indexed columns (workflow, trigger, outcome, event id or uuid) and a
time range, so a page over tens of thousands of runs is an index range. Live updates: the page
script long-polls ``/ui/runs/changes?since=<seq>`` (the history's changes cursor), which answers
the rows written since, already rendered and filtered as the page is, and only on the first
page (an older page stays as it was).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from runner.service import execution
from runner.service.api import unix_time
from runner.service.ui.pages.base import Page, PageError

OUTCOMES = ("success", "blocked", "failure", "error", "skipped", "loop")
PAGE = 50
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_time(value: str, name: str) -> float | None:
    try:
        return unix_time(value)
    except ValueError:
        raise PageError(400, f"{name}: expected a date and time (YYYY-MM-DDTHH:MM), got {value!r}") from None


def filters_of(page: Page) -> tuple[dict[str, str], dict[str, str]]:
    """``(history filters, the form's values)`` from the query string."""
    form = {k: page.get_argument(k, "").strip() for k in ("workflow", "trigger", "outcome", "event", "since", "until")}
    filters = {k: form[k] for k in ("workflow", "trigger", "outcome") if form[k]}
    if form["outcome"] and form["outcome"] not in OUTCOMES:
        raise PageError(400, f"outcome: one of {', '.join(OUTCOMES)}, got {form['outcome']!r}")
    if form["trigger"] and not execution.trigger_is_known(form["trigger"]):
        raise PageError(400, f"trigger: unknown trigger {form['trigger']!r}")
    if form["event"]:
        filters["event_uuid" if UUID.match(form["event"]) else "event_id"] = form["event"]
    return filters, form


def matches(row: dict[str, Any], filters: dict[str, str], since: float | None, until: float | None) -> bool:
    if any(str(row.get(k) or "") != v for k, v in filters.items()):
        return False
    finished = row.get("finished_at") or 0
    return (since is None or finished >= since) and (until is None or finished < until)


async def wait_for_rows(page: Page, since: int, wait: float) -> list[dict[str, Any]]:
    """Rows written after cursor ``since``, waiting up to ``wait`` s for one without holding a
    thread (the history is asked every quarter second; other processes' runs show too)."""
    deadline = time.monotonic() + wait
    history = page.ctx.service.history
    while True:
        rows = await page.blocking(history.since, since)
        if rows or time.monotonic() >= deadline or page.ctx.service.stopping.is_set() or page.gone:
            return rows
        await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


class Runs(Page):
    async def get(self) -> None:
        filters, form = filters_of(self)
        since, until = parse_time(form["since"], "since"), parse_time(form["until"], "until")
        before_raw = self.get_argument("before", "")
        before = None
        if before_raw:
            try:
                at, seq = before_raw.split(",", 1)
                before = (float(at), int(seq))
            except ValueError:
                raise PageError(400, "before: the `older runs` link of a page, not an edited value") from None
        svc = self.ctx.service

        def read() -> tuple:
            rows, cursor = svc.history.list(filters, since_time=since, until_time=until, before=before, limit=PAGE)
            seq = svc.history.last_seq() if before is None else 0
            try:
                queued = svc.backend.pending(20) if before is None else []
                queue_error = None
            except Exception as exc:  # noqa: BLE001 - the queue may be down: the history still answers
                queued, queue_error = [], f"the queue cannot be read ({type(exc).__name__}): queued runs are not shown"
            return rows, cursor, seq, queued, queue_error

        rows, cursor, seq, queued, queue_error = await self.blocking(read)
        query = {k: v for k, v in form.items() if v}
        self.page("runs.html", title="Runs", rows=rows, form=form, outcomes=OUTCOMES, seq=seq,
                  triggers=execution.trigger_ids(), workflows=sorted({w.name for w in svc.folder.all()}),
                  next=f"{cursor[0]!r},{cursor[1]}" if cursor else None, query=query, live=before is None,
                  queued=[{**t.summary(), "state": s} for t, s in queued], queue_error=queue_error,
                  first_page=before is None)


class RunChanges(Page):
    """``GET /ui/runs/changes?since=<seq>&wait=<s>&<filters>``: rows written since the cursor,
    rendered as the runs page renders them."""

    json_endpoint = True

    async def get(self) -> None:
        filters, form = filters_of(self)
        since_time, until_time = parse_time(form["since"], "since"), parse_time(form["until"], "until")
        try:
            since = int(self.get_argument("since_seq", "0") or 0)
            wait = min(30.0, max(0.0, float(self.get_argument("wait", "0") or 0)))
        except ValueError:
            raise PageError(400, "since_seq and wait are numbers") from None
        rows = await wait_for_rows(self, since, wait)
        seq = rows[-1]["seq"] if rows else since
        shown = [r for r in rows if matches(r, filters, since_time, until_time)]
        template = self.ctx.env.get_template("runs_row.html")
        self.json({"seq": seq, "rows": [{"id": r["id"], "html": template.render(row=r)} for r in shown]})
