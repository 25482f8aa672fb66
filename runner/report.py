"""What ``misp-workflow run`` shows: the ``--json`` document, or a readable tree.

The JSON document (documented in docs/runner.md): ``outcome`` (success | blocked | failure),
``now`` (the clock used), ``message``, ``errors``, ``data`` (final roaming data), ``changes`` (in order, each with its
``node``), ``event`` (the stored event after them), ``nodes`` (every node execution in order),
``executed``/``failed``/``blocked_paths`` (MISP's walkResult), ``log`` and ``branches``. A
``run-workflow`` node's entry lists its sub-workflow runs under ``subworkflows`` (:func:`_subrun`),
each with its own ``nodes``, nested the same way.
"""

from __future__ import annotations

import datetime
from typing import Any, BinaryIO

from misp_modules.contract.wire import dumps
from runner import graph as g
from runner.engine import RunResult
from runner.jsonio import dumps_shared
from runner.paths import PathTable
from runner.records import Branch, NodeRun, SubRun, WalkRecord
from runner.textsafe import printable


def document(result: RunResult) -> dict[str, Any]:
    wf, trigger = result.workflow, result.trigger
    walk = result.walk
    doc: dict[str, Any] = {
        "workflow": {"id": wf.id, "name": wf.name, "kind": wf.kind, "source": wf.source},
        "trigger": {"id": trigger.id, "blocking": trigger.blocking, "for_path": trigger.for_path},
        "now": now_field(result),
        "misp_release": result.misp_release,
        "initiator_user": result.initiator_user,
        "outcome": result.outcome,
        "outcome_text": result.outcome_text,
        "success": result.success,
        "message": result.message,
        "errors": result.errors,
        "log": result.log,
        "data": result.data,
        "changes": result.stored.changes,
        "event": result.stored.event,
    }
    doc.update(_walk_fields(walk))
    doc["branches"] = [_branch(b, result) for b in result.branches]
    if result.caller_log:
        doc["caller_log"] = result.caller_log
    if result.job_message is not None:
        doc["job_message"] = result.job_message
    if result.notes:
        doc["notes"] = result.notes
    doc["duration_ms"] = round(result.duration * 1000, 3)
    return doc


def now_field(result: RunResult) -> dict[str, Any]:
    """The clock the run used: relative times (``filter-timestamp``'s ``30d``) resolve against it,
    so a run repeats with ``--now <epoch>`` (``source``: ``--now``, or ``clock`` for the wall clock)."""
    iso = datetime.datetime.fromtimestamp(result.now, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"epoch": result.now, "iso": iso, "source": "--now" if result.now_given else "clock"}


EVENT_SIZED = ("data", "event")  # values as large as the event: written compact, on their own


def write_document(result: RunResult, out: BinaryIO, *, indent: bool = True) -> None:
    """Write :func:`document` to ``out`` one top-level key at a time, so a run on a large event
    never holds the whole document's encoding, only one value's (``data`` and ``event``, each
    the size of the event, go compact on one line even when the rest is indented)."""
    doc = document(result)
    out.write(b"{\n" if indent else b"{")
    for i, (key, value) in enumerate(doc.items()):
        head = dumps(key) + b": "
        out.write((b",\n  " if i else b"  ") + head if indent else (b"," if i else b"") + head)
        if key in EVENT_SIZED:
            for chunk in dumps_shared(value):  # each attribute encoded once
                out.write(chunk)
        else:
            out.write(dumps(value, indent=True).replace(b"\n", b"\n  ") if indent else dumps(value))
    out.write(b"\n}\n" if indent else b"}\n")


def _walk_fields(walk: WalkRecord | None) -> dict[str, Any]:
    """A walk's keys. Paths are given once, in ``paths`` (``[parent row or null, edge]``): a
    node's ``path`` and each of ``blocked_paths`` is a row (null: the start node's empty path),
    so the document grows with the nodes, not with the nodes times their depth."""
    if walk is None:
        return {"walked": False, "nodes": [], "executed": [], "failed": [], "blocked_paths": [], "paths": []}
    table = PathTable()
    nodes = [_node(r, table) for r in walk.trace]
    blocked = table.indexes(walk.blocked_paths)
    return {"walked": walk.walked, "start_node": walk.start_node, "for_path": walk.for_path,
            "nodes": nodes, "executed": walk.executed, "failed": walk.failed, "blocked_paths": blocked,
            "paths": table.rows}


def _node(run: NodeRun, table: PathTable) -> dict[str, Any]:
    out = run.as_dict(table)
    if run.subworkflows:
        out["subworkflows"] = [_subrun(s) for s in run.subworkflows]
    return out


def _subrun(sub: SubRun) -> dict[str, Any]:
    """One sub-workflow run: which workflow, on which collected item, and its own run (its
    ``nodes``, ``branches`` and nested sub-runs); ``outcome`` null: nothing was collected, MISP
    runs nothing. Its outcome never changes the node's: MISP ignores it."""
    wf = sub.workflow
    out: dict[str, Any] = {
        "label": sub.label,
        "workflow": {"id": wf.id, "name": wf.name, "kind": wf.kind, "source": wf.source},
        "trigger": sub.trigger, "scope": sub.scope, "input": sub.input, "item": sub.item, "items": sub.items,
    }
    result = sub.result
    if result is None:
        out.update({"outcome": None, "note": "no data collected: MISP runs nothing"})
        return out
    out["payload"] = sub.payload
    out.update({"outcome": result.outcome, "outcome_text": result.outcome_text, "success": result.success,
                "message": result.message, "errors": result.errors, "log": result.log})
    out.update(_walk_fields(result.walk))
    out["branches"] = [_branch(b, result) for b in result.branches]
    out["data"] = result.data
    if result.notes:
        out["notes"] = result.notes
    out["duration_ms"] = round(result.duration * 1000, 3)
    return out


def _branch(branch: Branch, result: RunResult) -> dict[str, Any]:
    walk = branch.walk
    out: dict[str, Any] = {
        "job_id": branch.job_id, "parent_job": branch.parent_job, "from_node": branch.from_node,
        "start_node": branch.start_node,
        "outcome": walk.outcome if walk else None,
        "success": walk.success if walk else None,
        "errors": walk.errors if walk else [],
        "log": branch.log, "job_message": branch.job_message,
    }
    out.update(_walk_fields(walk))
    if branch.start_data is not result.start_data and branch.start_data != result.start_data:
        out["start_data"] = branch.start_data
    out["data"] = branch.final_data
    out["duration_ms"] = round(branch.duration * 1000, 3)
    return out


# -- the readable summary ------------------------------------------------------------------------

def text(result: RunResult) -> str:
    wf, trigger = result.workflow, result.trigger
    lines = [f"Workflow `{wf.name}` ({wf.kind} {wf.source}) on trigger `{trigger.id}` "
             f"({'blocking' if trigger.blocking else 'non-blocking'})"]
    if result.walk is not None:
        start = wf.node(result.walk.start_node) or {}
        lines.append(f"{result.walk.start_node} {g.module_id(start)} (trigger)")
        lines += _tree(wf, result.walk, base=0)
    for branch in result.branches:
        walk = branch.walk
        outcome = walk.outcome if walk else "not run"
        lines.append("")
        lines.append(f"Branch job {branch.job_id} from concurrent-task {branch.from_node}, "
                     f"starting at node {branch.start_node}: {outcome}")
        if walk is not None:
            lines += _tree(wf, walk, base=1)
            if walk.errors:
                lines.append("  errors: " + ", ".join(walk.errors))
    lines.append("")
    lines.append(f"Outcome: {result.outcome}" + (f" — {result.message}" if result.message else ""))
    if result.outcome == "success" and result.errors:
        lines.append("Errors that did not stop the run: " + ", ".join(result.errors))
    if result.stored.changes:
        from misp_modules.contract.changes import describe

        lines.append(f"Changes to MISP's stored event ({len(result.stored.changes)}):")
        for change in result.stored.changes:
            lines.append(f"  node {change.get('node')}: {describe(change)}")
    else:
        lines.append("Changes to MISP's stored event: none")
    if result.now_given:
        lines.append(f"Clock: {now_field(result)['iso']} (--now {result.now})")
    for note in result.notes:
        lines.append(f"Note: {note}")
    return "\n".join(printable(line) for line in lines) + "\n"  # each line one line, no raw controls


MAX_INDENT = 24  # levels; deeper lines say their depth (a 5,000-node chain must not print 25 MB of spaces)


def _indent(depth: int) -> str:
    if depth <= MAX_INDENT:
        return "  " * depth
    return "  " * MAX_INDENT + f"[depth {depth}] "


def _tree(wf: g.Workflow, walk: WalkRecord, base: int) -> list[str]:
    lines = []
    for step in walk.timeline:
        if isinstance(step, NodeRun):
            lines.append(_indent(len(step.path) + base) + _describe(step))
            for sub in step.subworkflows:
                lines += _subtree(sub, len(step.path) + base + 1)
        else:  # a skipped path
            target = step.target or walk.start_node
            node = wf.node(target) or {}
            lines.append(_indent(len(step) + base) + f"{target} {g.module_id(node)}: skipped "
                         "(below a failed node on a non-blocking path)")
    return lines


def _subtree(sub: SubRun, depth: int) -> list[str]:
    """A sub-workflow run under its run-workflow node: a heading, its walk, its branches."""
    wf, result = sub.workflow, sub.result
    which = f" (item {sub.item + 1} of {sub.items})" if sub.items > 1 else ""
    head = f"↳ sub-workflow `{wf.name}` ({wf.kind} {wf.source}, trigger `{sub.trigger}`, scope {sub.scope}){which}"
    if result is None:
        return [_indent(depth) + head + ": no data collected, nothing run"]
    lines = [_indent(depth) + head + f": {result.outcome}" + (f" — {result.message}" if result.message else "")]
    if result.walk is not None:
        start = wf.node(result.walk.start_node) or {}
        lines.append(_indent(depth + 1) + f"{result.walk.start_node} {g.module_id(start)} (trigger)")
        lines += _tree(wf, result.walk, base=depth + 1)
    for branch in result.branches:
        walk = branch.walk
        lines.append(_indent(depth + 1) + f"Branch job {branch.job_id} from concurrent-task {branch.from_node}, "
                     f"starting at node {branch.start_node}: {walk.outcome if walk else 'not run'}")
        if walk is not None:
            lines += _tree(wf, walk, base=depth + 2)
    return lines


def _describe(run: NodeRun) -> str:
    head = f"{run.node} {run.module}"
    timing = f"  [{run.duration * 1000:.1f} ms"
    if run.module_time is not None:  # the server's Server-Timing: the rest is HTTP, JSON, the runner
        timing += f", module {run.module_time * 1000:.1f} ms"
    timing += ", mocked]" if run.mocked else "]"
    if run.kind == "logic":
        if run.target is not None:
            what = f"queued branch job {run.enqueued[0]['job']} at node {run.target}" if run.enqueued else \
                f"did not queue node {run.target}"
            body = f"{head} → {what}"
        else:
            branch = {"output_1": "then", "output_2": "else"}.get(run.output or "", "")
            body = f"{head} → {run.output or 'nothing'}" + (f" ({branch})" if branch else "")
        if run.undecided:  # fail closed: no output was taken
            effect = ("so the run stops here (blocking path)" if run.closed == "stopped the run" else
                      "so nothing below it runs")
            body = f"{head}: FAILED ({run.status}): {', '.join(run.errors)}; no decision, {effect}"
        elif run.status != "success":
            body += f" [{run.status}: {', '.join(run.errors)}]"
        if run.warnings:
            body += f" [warning: {'; '.join(run.warnings)}]"
        return body + timing
    if run.result:
        body = f"{head}: ok"
        if run.errors:
            body += f" (errors: {', '.join(run.errors)})"
    else:
        body = f"{head}: FAILED ({run.status})" + (f": {', '.join(run.errors)}" if run.errors else "")
        if not run.errors and not run.warnings and run.status == "partial-success":
            body += ": the module returned false without an error (MISP's partial-success: the node counts as failed)"
    if run.changes:
        body += f"; {len(run.changes)} change(s)"
    if run.data_carried:
        body += "; data carried (--carry-module-data)"
    elif run.data_changed:
        body += "; data changed"
    if run.result_key is not None:
        body += f"; result `{printable(run.result_key)}`: {_brief(run.result_data)}"
    if run.data_ignored:
        body += "; returned data ignored, as MISP does"
    for note in run.toasts:
        body += f"; toast ({printable(note['variant'])}) {_clip(note['header'])}: {_clip(note['body'])}"
    if run.warnings:
        body += f" [warning: {'; '.join(run.warnings)}]"
    return body + timing


RESULT_BRIEF = 160


def _clip(text: str) -> str:
    """A toast's header or body in one bounded line of the trace (whole in ``--json``)."""
    return printable(text if len(text) <= RESULT_BRIEF else text[:RESULT_BRIEF] + "…")


def _brief(value: Any) -> str:
    """A module's result in one bounded line of the trace (the whole of it is in ``--json``)."""
    return _clip(dumps(value).decode("utf-8", "replace"))
