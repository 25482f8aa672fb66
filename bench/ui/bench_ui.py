"""How fast the web debugger's pages render in headless Chromium (issue 18).

1. A run page: a 100-node workflow (the trigger and 99 ``generic-if`` nodes, true on every event,
   placed on a grid as an editor would place them, so every node runs and the graph has 99 taken
   edges) run once through a real ``misp-workflow serve`` and the real module server on a
   1,000-attribute event (grown from PyMISP's ``long_event.json``, bench/runner/events.py). The
   page is loaded ``--loads`` times in Debian's headless Chromium (Selenium, chromium-driver),
   each a fresh navigation; per load, from the Navigation Timing and Paint Timing APIs: the
   server's answer (``responseEnd``), first contentful paint, and *graph complete*: the page
   script's ``mw-ready`` mark (the SVG is in the server's HTML, so the graph is laid out once
   the document is parsed and the script ran) and the next frame after it (``mw-painted``).
   Target: first paint and graph complete under 1 s.
2. The runs list of 10,000 runs: the history gets 10,000 rows (copies of a real run's row and
   record, over 5 workflows, 4 outcomes and 10,000 minutes), then the first page is loaded and
   ``--pages`` "Older runs" links are followed, unfiltered and filtered (workflow and outcome);
   per page: the navigation's ``duration`` (click to load event) and the server's answer.
   Target: a page in under 300 ms.

Render times are measured here, never asserted by a test (they depend on the machine).

Also printed: a node's panel on that run (click to panel shown, timed in the page), the first opening
the run's call index (which node each of its 99 module calls was for), the next ones one call.

    python3 bench/ui/bench_ui.py [--loads 10] [--pages 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "runner"))

from events import make_event  # noqa: E402

from runner.service.history import History, RunRow  # noqa: E402
from tests.service.conftest import base_config  # noqa: E402
from tests.support import graphs as G  # noqa: E402
from tests.support.browser import Browser  # noqa: E402
from tests.support.harness import ModuleServer  # noqa: E402
from tests.support.service import TOKEN, ServiceProcess, write_config  # noqa: E402

TRUE_IF = {"hash_path": "Event.info", "operator": "any_value"}
TIMING = """
const nav = performance.getEntriesByType('navigation')[0];
const mark = n => (performance.getEntriesByName(n)[0] || {}).startTime;
const fcp = (performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint') || {}).startTime;
return {response: nav.responseEnd, ttfb: nav.responseStart, dom: nav.domContentLoadedEventEnd,
        load: nav.loadEventEnd, duration: nav.duration, fcp: fcp, ready: mark('mw-ready'), painted: mark('mw-painted'),
        nodes: document.querySelectorAll('#graph svg.graph .node').length,
        taken: document.querySelectorAll('#graph path.edge.taken').length,
        rows: document.querySelectorAll('#runs tbody tr').length, bytes: document.documentElement.outerHTML.length};
"""


PANEL = """
const key = arguments[0];
const panel = document.getElementById('panel');
window.__clickAt = null; window.__panelAt = null;
document.addEventListener('click', () => { window.__clickAt = window.__clickAt || performance.now(); },
                          {capture: true, once: true});
new MutationObserver((_, observer) => {
  if (panel.querySelector('[data-node-panel="' + key + '"]')) { observer.disconnect(); window.__panelAt = performance.now(); }
}).observe(panel, {childList: true, subtree: true});
"""


def workflow_100() -> dict[str, Any]:
    nodes = [G.trigger(1, "event-publish", [2])]
    for i in range(2, 101):
        nodes.append(G.logic_if(i, "generic-if", then=[i + 1] if i < 100 else [], params=TRUE_IF))
    for index, node in enumerate(nodes):  # a grid, row by row, as an author lays a long chain out
        node["pos_x"], node["pos_y"] = (index % 10) * 300, (index // 10) * 160
    return G.workflow(nodes, "event-publish", name="100 nodes")


def wait_painted(browser: Browser) -> dict[str, Any]:
    browser.wait(lambda d: browser.script("return document.readyState") == "complete" and
                 browser.script("return performance.getEntriesByName('mw-painted').length") > 0 and
                 browser.script("return performance.getEntriesByType('paint').some(e => e.name === "
                                "'first-contentful-paint')"), "the page painted")
    return browser.script(TIMING)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def run_page(browser: Browser, base: str, run_id: str, loads: int) -> dict[str, Any]:
    samples = []
    url = f"{base}/ui/runs/{run_id}"
    browser.get(url)  # warm: the drawing of a version is cached after the first page
    wait_painted(browser)
    for _ in range(loads):
        browser.get("about:blank")
        browser.get(url)
        samples.append(wait_painted(browser))
    panel = []
    for key in ("50", "51", "50"):  # the first opens the run's call index; then one call each
        browser.script(PANEL, key)
        browser.css(f'#graph a.node[data-node="{key}"]').click()  # a real click (Selenium), timed in the page
        browser.wait(lambda d: browser.script("return window.__panelAt"), "the node's panel")
        panel.append(round(browser.script("return window.__panelAt - window.__clickAt"), 1))
    last = samples[-1]
    return {"url": url, "node_panel_ms": panel, "loads": loads, "nodes": last["nodes"], "taken_edges": last["taken"], "html_bytes": last["bytes"],
            **{k: summary([s[k] for s in samples]) for k in ("response", "fcp", "ready", "painted", "load")}}


def fill_history(history: History, template_id: str, count: int) -> None:
    row = history.get(template_id)
    blob = history.detail_blob(template_id)
    base = {k: row[k] for k in row if k != "seq"}
    now = time.time()
    outcomes = ("success", "blocked", "failure", "success")
    entries = []
    for i in range(count):
        rid = str(uuid.uuid4())
        finished = now - (count - i) * 60
        entries.append((RunRow(**{**base, "id": rid, "workflow": f"workflow-{i % 5}", "outcome": outcomes[i % 4],
                                  "event_id": str(1000 + i % 300), "enqueued_at": finished - 0.05,
                                  "started_at": finished - 0.04, "finished_at": finished}), blob))
        if len(entries) == 1000:
            history.record_many(entries)
            entries = []
    if entries:
        history.record_many(entries)


def runs_pages(browser: Browser, base: str, query: str, pages: int) -> dict[str, Any]:
    browser.get(f"{base}/ui/runs?{query}")
    first = wait_painted(browser)
    samples = []
    for _ in range(pages):
        older = browser.all("#older")
        if not older:
            break
        was = browser.driver.current_url
        older[0].click()
        browser.wait(lambda d: d.current_url != was, "the next page")
        samples.append(wait_painted(browser))
    return {"query": query or "(none)", "first_page": {k: round(first[k], 1) for k in ("response", "fcp", "load")},
            "pages": len(samples), "rows_per_page": samples[-1]["rows"] if samples else 0,
            **{k: summary([s[k] for s in samples]) for k in ("response", "duration", "fcp")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp, ModuleServer(
            config={"server": {"max_body_size": 256 * 1024 * 1024}}) as server:
        root = Path(tmp)
        (root / "workflows").mkdir()
        (root / "workflows" / "big.json").write_text(json.dumps(workflow_100()))
        from tests.service import workflows as wfs

        wfs.write(root / "workflows", "guard", wfs.pap_tlp())
        config = base_config(root, server.url, service={"node_timeout": 120})
        with ServiceProcess(write_config(root, config)) as service:
            event = make_event(1000)
            status, queued = service.request("POST", "/api/runs", {"workflow": "big", "data": event}, timeout=120)
            big = service.run_done(queued["id"], timeout=600)
            small = service.run_done(service.request("POST", "/api/runs", {"workflow": "guard", "data": make_event(9)})[1]["id"])
            print(f"run of 100 nodes on 1,000 attributes: {big['outcome']}, {big['nodes']} node executions, "
                  f"{big['duration_ms']:.0f} ms", flush=True)
            browser = Browser(root / "shots")
            try:
                browser.login(f"http://127.0.0.1:{service.port}", TOKEN)
                base = f"http://127.0.0.1:{service.port}"
                results["run_page"] = run_page(browser, base, big["id"], args.loads)
                history = History(str(root / "state" / "history.db"))
                fill_history(history, small["id"], 10_000)
                results["runs_total"] = history.count()
                history.close()
                results["runs_list"] = [runs_pages(browser, base, "", args.pages),
                                        runs_pages(browser, base, "workflow=workflow-3&outcome=blocked", args.pages)]
            finally:
                browser.quit()
    page = results["run_page"]
    print(f"run page ({page['nodes']} nodes drawn, {page['taken_edges']} taken edges, {page['html_bytes']:,} bytes), "
          f"{page['loads']} loads, ms median (min-max):")
    for key, label in (("response", "server answer"), ("fcp", "first contentful paint"), ("ready", "graph complete"),
                       ("painted", "graph painted"), ("load", "load event")):
        s = page[key]
        print(f"  {label:24} {s['median']:7.1f} ({s['min']:.1f}-{s['max']:.1f})")
    print(f"  node panel (click to panel shown, in the page): {page['node_panel_ms']} ms")
    print(f"runs list, {results['runs_total']:,} runs in the history:")
    for item in results["runs_list"]:
        d, r = item["duration"], item["response"]
        print(f"  filter {item['query']}: first page load {item['first_page']['load']:.1f} ms; {item['pages']} older "
              f"pages of {item['rows_per_page']} rows: navigation {d['median']:.1f} ({d['min']:.1f}-{d['max']:.1f}) ms, "
              f"server answer {r['median']:.1f} ({r['min']:.1f}-{r['max']:.1f}) ms")
    met_page = max(page["fcp"]["max"], page["painted"]["max"]) < 1000
    met_list = all(i["duration"]["max"] < 300 for i in results["runs_list"])
    results["targets"] = {"run_page_under_1s": met_page, "runs_page_under_300ms": met_list}
    print(f"targets: run page < 1 s (worst load): {'met' if met_page else 'MISSED'}; runs page < 300 ms (worst page): "
          f"{'met' if met_list else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
