"""``misp-workflow history list|show|diff|replay --config automation.toml``: the run history.

``replay`` runs a stored run's input again through the runner (never writing to MISP) on the
version of the workflow it ran (``--version stored``, default), on the folder's current file
(``current``) or on a given file, and prints what changed. Exit codes: 0 (``diff``/``replay``:
no difference), 1 (``diff``/``replay``: differences), 2 invalid input (unknown run, bad
configuration), 3 the replay could not run (module server unreachable).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

import orjson

from runner.cli import EXIT_BLOCKED, EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_OK, describe


def register(subparsers) -> None:
    parser = subparsers.add_parser("history", help="list, show, compare and replay the service's runs",
                                   description=describe(__doc__))
    sub = parser.add_subparsers(dest="history_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", required=True, metavar="FILE", help="the service's automation.toml")
        p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("list", help="runs, newest first")
    common(p)
    for name in ("workflow", "trigger", "outcome", "source"):
        p.add_argument(f"--{name}", help=f"only runs with this {name}")
    p.add_argument("--event", help="only runs on this event (id or uuid)")
    p.add_argument("--limit", type=int, default=20)
    p = sub.add_parser("show", help="one run: nodes, params, errors, changes, what was written")
    common(p)
    p.add_argument("run", help="run id (or a unique prefix of at least 4 characters)")
    p.add_argument("--data", action="store_true", help="include each node's input data")
    p = sub.add_parser("diff", help="what differs between two runs")
    common(p)
    p.add_argument("run", nargs=2, metavar="RUN")
    p = sub.add_parser("replay", help="run a stored run's input again and show what changed")
    common(p)
    p.add_argument("run")
    p.add_argument("--version", default="stored", metavar="stored|current|FILE",
                   help="the workflow to replay on: the version that ran (default), the folder's current "
                        "file, or a workflow file")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from runner.service import config as cfg
    from runner.service.history import History

    try:
        config = cfg.load(args.config)
    except cfg.ConfigError as exc:
        print(f"misp-workflow history: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    history = History(config.history.url)
    try:
        return COMMANDS[args.history_command](args, config, history)
    except LookupError as exc:
        print(f"misp-workflow history: {str(exc).strip(chr(39))}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    finally:
        history.close()


def _out(args: argparse.Namespace, value: Any, text: str) -> None:
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n")
    else:
        sys.stdout.write(text)
    sys.stdout.flush()


def _when(ts: float | None) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _row(history: Any, ref: str) -> dict:
    row = history.find(ref)
    if row is None:
        raise LookupError(f"no run {ref} in the history")
    return row


def _detail(history: Any, row: dict) -> Any:
    from runner.service import record

    blob = history.detail_blob(row["id"])
    return record.unpack(blob) if blob else record.Detail(None, {})


def cmd_list(args: argparse.Namespace, config: Any, history: Any) -> int:
    filters = {k: getattr(args, k) for k in ("workflow", "trigger", "outcome", "source")}
    if args.event:
        filters["event_uuid" if "-" in args.event else "event_id"] = args.event
    rows, _ = history.list(filters, limit=args.limit)
    lines = [f"{r['id'][:8]}  {_when(r['finished_at'])}  {r['workflow']}@{(r['version'] or '-')[:8]}  "
             f"{r['trigger'] or '-'}  event {r['event_id'] or r['event_uuid'] or '-'}  {r['source']}  "
             f"{r['outcome']}" + (f": {r['message']}" if r["message"] else "") for r in rows]
    _out(args, rows, "\n".join(lines) + ("\n" if lines else "no runs\n"))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, config: Any, history: Any) -> int:
    from runner.service import record

    row = _row(history, args.run)
    detail = _detail(history, row)
    nodes = record.nodes(detail, with_data=args.data)
    doc = detail.document or {}
    value = {**row, "nodes": nodes, "changes": doc.get("changes", []), "written": detail.written,
             "notes": detail.notes, "errors": doc.get("errors", [])}
    lines = [f"run {row['id']}", f"  workflow {row['workflow']} version {row['version']} trigger {row['trigger']}",
             f"  event {row['event_id'] or '-'} ({row['event_uuid'] or '-'}), source {row['source']}"
             + (f", re-run of {row['parent']}" if row["parent"] else ""),
             f"  queued {_when(row['enqueued_at'])}, started {_when(row['started_at'])}, finished "
             f"{_when(row['finished_at'])}, {row['duration_ms'] or 0:.1f} ms in the runner, {row['attempts']} attempt(s)",
             f"  outcome {row['outcome']}" + (f": {row['message']}" if row["message"] else ""), "nodes:"]
    for node in nodes:
        line = f"  {node.get('node')} {node.get('module')}: {node.get('status')}"
        if node.get("output") is not None:
            line += f" → {node['output']}"
        if node.get("params"):
            line += f"  params {orjson.dumps(node['params']).decode()[:120]}"
        if node.get("errors"):
            line += f"  errors: {'; '.join(map(str, node['errors']))}"
        if node.get("data_patch"):
            line += f"  data: {len(node['data_patch'])} change(s)"
        lines.append(line + f"  [{node.get('duration_ms', 0)} ms]")
    lines.append("changes:" if doc.get("changes") else "changes: none")
    for w in detail.written or [{"change": c.get("op"), "state": "-", "note": ""} for c in doc.get("changes", [])]:
        lines.append(f"  {w.get('change')}: {w.get('state')}" + (f" ({w['note']})" if w.get("note") not in
                                                                  (None, "", "applied") else ""))
    for note in detail.notes:
        lines.append(f"note: {note}")
    _out(args, value, "\n".join(lines) + "\n")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace, config: Any, history: Any) -> int:
    from runner.service import compare

    first, second = (_row(history, ref) for ref in args.run)
    differences = compare.diff(_detail(history, first).document, _detail(history, second).document)
    _out(args, differences, f"{first['id'][:8]} → {second['id'][:8]}\n" + compare.render(differences))
    return EXIT_OK if not differences else EXIT_BLOCKED


def cmd_replay(args: argparse.Namespace, config: Any, history: Any) -> int:
    from runner.service import compare, execution
    from runner.service.workflows import WorkflowFolder, version_of

    row = _row(history, args.run)
    detail = _detail(history, row)
    if detail.input is None:
        print(f"misp-workflow history: run {row['id']} kept no input to replay", file=sys.stderr)
        return EXIT_INVALID_INPUT
    if args.version == "stored":
        stored = history.version_content(row["version"] or "")
        if stored is None:
            raise LookupError(f"version {row['version']} of workflow {row['workflow']} is not in the history")
        content, source = stored[1], f"{row['workflow']}@{row['version']}"
    elif args.version == "current":
        wf = WorkflowFolder(config.workflows, check_interval=0).get(row["workflow"])
        content, source = wf.content, wf.path
    else:
        try:
            with open(args.version, "rb") as handle:
                content, source = handle.read(), args.version
        except OSError as exc:
            print(f"misp-workflow history: cannot read {args.version}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_INVALID_INPUT
    try:
        workflow = execution.load_workflow(content, source, None)
        if execution.workflow_kind(workflow) != "workflow":
            workflow = execution.load_workflow(content, source, row["trigger"])
    except execution.WorkflowInvalid as exc:
        print(f"misp-workflow history: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    settings = execution.EngineSettings(modules_url=config.modules_url, node_timeout=config.node_timeout,
                                        enabled_modules=config.enabled_modules,
                                        disabled_modules=config.disabled_modules,
                                        carry_module_data=config.carry_module_data, host_org_id=config.host_org_id)
    engine = execution.Engine(settings, execution.Catalogs(config.modules_url))
    try:
        again = engine.run(workflow, orjson.loads(detail.input), row["trigger"])
    except execution.DataInvalid as exc:
        print(f"misp-workflow history: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    finally:
        engine.close()
    if again.outcome == "error" or (again.transient and not again.document):
        print(f"misp-workflow history: the replay could not run: {again.transient or again.message}", file=sys.stderr)
        return EXIT_FAILURE
    differences = compare.diff(detail.document, again.document)
    head = (f"replay of run {row['id'][:8]} ({row['workflow']}@{(row['version'] or '')[:8]} → "
            f"{version_of(content)[:8]}): {again.outcome}\n")
    _out(args, {"run": row["id"], "version": version_of(content), "outcome": again.outcome,
                "differences": differences, "document": again.document}, head + compare.render(differences))
    return EXIT_OK if not differences else EXIT_BLOCKED


COMMANDS = {"list": cmd_list, "show": cmd_show, "diff": cmd_diff, "replay": cmd_replay}
