"""The web debugger: the service's runs, drawn and explained, in a browser (docs/ui.md).

Pages under ``/ui/`` on the service's own HTTP port (``[api] listen``, loopback by default),
server-rendered HTML with one small script, everything served from the package (no CDN):

* ``/ui/runs``: the runs, filtered, paged, updated live;
* ``/ui/runs/<id>``: the workflow as MISP's editor draws it, coloured by the path the run took,
  each node's params, filter, request, answer, errors, timings and data diff; branches as runs
  of their own; MISP's log lines; the changes written to MISP;
* ``/ui/runs/<id>/edit``, ``/ui/new``: run again with an edited event, a picked version, mocks;
  ``/ui/compare``: two runs side by side;
* ``/ui/modules``: the module server's modules and a query form for each;
  ``/ui/hashpath``: the hash-path playground.

Log in with an API token (:mod:`.auth`). :func:`routes` gives the handlers the service's HTTP
application mounts; ``misp-workflow ui`` (:mod:`.cmd_ui`) serves the same pages without a
service configuration, for runs on a folder of workflows and events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from runner.service.app import Service


def routes(service: Service, *, events_dir: str | None = None) -> list[tuple[str, Any, dict]]:
    import tornado.web

    from runner.service.ui.context import STATIC, UiContext
    from runner.service.ui.pages import compare, edit, hashpath, login, modules, run, runs, workflows
    from runner.service.ui.pages.base import NotFoundPage

    ctx = UiContext(service, events_dir=events_dir)
    init = {"ctx": ctx}
    rid = run.RUN_ID
    return [
        (r"/ui/?", tornado.web.RedirectHandler, {"url": "/ui/runs"}),
        (r"/ui/static/(.*)", tornado.web.StaticFileHandler, {"path": str(STATIC)}),
        (r"/ui/login", login.Login, init),
        (r"/ui/logout", login.Logout, init),
        (r"/ui/runs", runs.Runs, init),
        (r"/ui/runs/changes", runs.RunChanges, init),
        (rf"/ui/runs/{rid}", run.Run, init),
        (rf"/ui/runs/{rid}/walks/(main|branch-\d+)", run.Run, init),
        (rf"/ui/runs/{rid}/walks/(main|branch-\d+)/nodes/([^/]+)", run.NodePanel, init),
        (rf"/ui/runs/{rid}/(input|document)\.json", run.RunData, init),
        (rf"/ui/runs/{rid}/calls/(\d+)/(input|output)\.json", run.CallData, init),
        (rf"/ui/runs/{rid}/rerun", run.RerunAsIs, init),
        (rf"/ui/runs/{rid}/edit", edit.EditForm, init),
        (r"/ui/new", edit.EditForm, init),
        (r"/ui/compare", compare.Compare, init),
        (r"/ui/workflows", workflows.Workflows, init),
        (r"/ui/workflows/([^/]+)", workflows.Workflow, init),
        (r"/ui/workflows/([^/]+)/nodes/([^/]+)", workflows.WorkflowNode, init),
        (r"/ui/modules", modules.Modules, init),
        (r"/ui/modules/([^/]+)", modules.Module, init),
        (r"/ui/hashpath", hashpath.Playground, init),
        (r"/ui/hashpath/eval", hashpath.Evaluate, init),
        (r"/ui/.*", NotFoundPage, init),
    ]

