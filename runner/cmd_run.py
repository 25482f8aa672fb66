"""``misp-workflow run FILE --data EVENT.json``: execute a workflow with MISP's semantics.

Exit codes: 0 success, 1 blocked (a stop-execution stopped the run), 3 failure (another
blocking failure, or the runner could not run), 2 invalid input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from misp_modules.contract.triggers import TRIGGERS, get_trigger
from misp_modules.semantics.decisions import MISP_RELEASES
from runner.cli import EXIT_BLOCKED, EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_OK, describe
from runner.client import connect
from runner.context import DEFAULT_MAX_EXECUTIONS, DEFAULT_MAX_SUBWORKFLOW_DEPTH
from runner.engine import Runner, RunOptions, refuse_cycles
from runner.errors import InputError, RunnerError
from runner.jsonio import read_json
from runner.loader import load_workflow
from runner.mocks import Mocks
from runner.options import add_module_options, enablement, http_url, known_trigger, misp_user, moment, positive_int
from runner.report import text, write_document
from runner.textsafe import printable
from runner.triggers import TriggerDataError, trigger_data

EXIT_BY_OUTCOME = {"success": EXIT_OK, "blocked": EXIT_BLOCKED, "failure": EXIT_FAILURE}


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="execute a workflow or blueprint on an event",
                                   description=describe(__doc__), epilog=describe(__doc__, 1))
    parser.add_argument("workflow", metavar="FILE", help="workflow (MISP REST export) or blueprint JSON")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="EVENT.json", help="the data the trigger receives (a MISP event)")
    source.add_argument("--replay", metavar="CAPTURE.json",
                        help="run on the data a debug-listener capture recorded at the trigger")
    source.add_argument("--event-id", metavar="ID|UUID",
                        help="fetch the event from MISP through PyMISP ([misp] url/key of --config, or "
                             "MISP_URL/MISP_KEY)")
    parser.add_argument("--trigger", metavar="ID", type=known_trigger,
                        help="trigger to fire (blueprints: default event-publish)")
    parser.add_argument("--json", action="store_true", help="print the run as one JSON document")
    add_run_options(parser)
    add_module_options(parser)
    parser.set_defaults(func=main)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every command that runs workflows shares (run, watch)."""
    parser.add_argument("--mock", action="append", default=[], metavar="NODE=RESULT",
                        help="script a node's result instead of calling its module: true, false, "
                             "or '{\"success\": false, \"errors\": [\"...\"]}' / '{\"exception\": \"...\"}'")
    parser.add_argument("--mocks", action="append", default=[], metavar="FILE",
                        help="JSON object of scripted results keyed by node id")
    parser.add_argument("--dry-run", action="store_true",
                        help="modules never write to a live MISP, even when one is configured")
    parser.add_argument("--carry-module-data", action="store_true",
                        help="carry the data a MISP-facing misp-module returns to the next nodes "
                             "(MISP ignores it: not MISP's behaviour)")
    parser.add_argument("--log-file", metavar="PATH", help="append MISP's workflow-execution.log lines here")
    parser.add_argument("--debug-url", metavar="URL", type=http_url,
                        help="turn debug mode on and POST every step there, e.g. to misp-workflow debug-listener "
                             "(as in MISP, the run fails when the URL cannot be reached)")
    parser.add_argument("--host-org-id", metavar="ID",
                        help="MISP.host_org_id: the organisation of the SYSTEM workflow user")
    parser.add_argument("--organisation", action="append", default=None, metavar="ID",
                        help="an organisation id that exists (repeatable; default: the event's orgs)")
    parser.add_argument("--parallel", type=positive_int, default=4, metavar="N",
                        help="concurrent-task branches run at once (default 4)")
    parser.add_argument("--allow-cycles", action="store_true",
                        help="walk a workflow with a cycle, as MISP's engine walks one it holds (MISP refuses to "
                             "save it; without this the run refuses it, as validate reports it)")
    parser.add_argument("--max-executions", type=positive_int, default=DEFAULT_MAX_EXECUTIONS, metavar="N",
                        help=f"stop a run after N walk steps, node executions and skipped paths, branches "
                             f"included (default {DEFAULT_MAX_EXECUTIONS:,}; MISP has no bound)")
    parser.add_argument("--now", type=moment, default=None, metavar="ISO8601|EPOCH",
                        help="the run's clock: relative times such as filter-timestamp's `30d` resolve against it "
                             "(default: the wall clock at the start; --json records the time used)")
    parser.add_argument("--misp-release", choices=MISP_RELEASES, default=None,
                        help="reproduce this MISP release's module files where a node's saved version does not "
                             "tell them apart (2.5.1: threat-level-if's default is the name 'Low'); default: the "
                             "newest MISP code known")
    parser.add_argument("--workflows", action="append", default=[], metavar="PATH",
                        help="workflows run-workflow nodes can run: a MISP workflow export, or a folder of them "
                             "(repeatable); the workflow run is one of them too")
    parser.add_argument("--max-subworkflow-depth", type=positive_int, default=DEFAULT_MAX_SUBWORKFLOW_DEPTH,
                        metavar="N", help=f"how deep sub-workflow runs may nest (default "
                                          f"{DEFAULT_MAX_SUBWORKFLOW_DEPTH}; MISP has no bound: a workflow "
                                          "running itself never ends)")
    parser.add_argument("--initiator-user", type=misp_user, default=None, metavar="ID|JSON",
                        help="the MISP user whose action started the run (MISP's initiator user, who gets "
                             "toasts): a user id or a MISP user object as JSON; default: none, as for a run "
                             "MISP starts itself")
    parser.add_argument("--misp-baseurl", metavar="URL", default=None,
                        help="MISP.baseurl, which MISP's newer nodes give templates as {{ _env.baseurl }} "
                             "(default: the configured [misp] url, else empty as an unset MISP.baseurl)")
    parser.add_argument("--config", metavar="FILE",
                        help="deployment settings (TOML, as the server's): the MISP connection for --event-id, "
                             "sub-workflow event searches and reloads")


def run_options(args: argparse.Namespace, mocks: Mocks) -> RunOptions:
    from runner.subworkflows import load_workflow_set

    return RunOptions(
        enablement=enablement(args), mocks=mocks, timeout=args.timeout, dry_run=args.dry_run,
        carry_module_data=args.carry_module_data,
        debug_url=args.debug_url, log_file=args.log_file, host_org_id=args.host_org_id,
        organisations=frozenset(args.organisation) if args.organisation is not None else None,
        max_parallel=args.parallel, allow_cycles=args.allow_cycles, max_executions=args.max_executions,
        now=args.now, misp_release=args.misp_release, initiator_user=args.initiator_user,
        misp_baseurl=_misp_baseurl(args),
        workflows=load_workflow_set(args.workflows), max_subworkflow_depth=args.max_subworkflow_depth,
        pause_collector=True,  # a command's runs are JSON in flight: no cycles to collect (contract.wire)
    )


def main(args: argparse.Namespace) -> int:
    try:
        load_config(args)
        workflow, raw, trigger = _inputs(args)
        if not args.allow_cycles:
            refuse_cycles(workflow)
        mocks = load_mocks(args, workflow)
        check_log_file(args)
    except InputError as exc:
        print(printable(f"misp-workflow run: {exc}"), file=sys.stderr)
        return EXIT_INVALID_INPUT
    except RunnerError as exc:
        print(printable(f"misp-workflow run: {exc}"), file=sys.stderr)
        return EXIT_FAILURE
    try:
        client, catalog = connect(args)
    except RunnerError as exc:
        print(printable(f"misp-workflow run: {exc}"), file=sys.stderr)
        return EXIT_FAILURE
    try:
        result = Runner(catalog, client, run_options(args, mocks)).run(workflow, raw, trigger)
    except InputError as exc:
        print(printable(f"misp-workflow run: {exc}"), file=sys.stderr)
        return EXIT_INVALID_INPUT
    except Exception as exc:  # noqa: BLE001 - a runner bug: one line, not a traceback
        print(printable(f"misp-workflow run: internal error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_FAILURE
    finally:
        client.close()
    if args.json:
        write_document(result, sys.stdout.buffer)
    else:
        sys.stdout.write(text(result))
    sys.stdout.flush()
    return EXIT_BY_OUTCOME[result.outcome]


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, str | None]:
    trigger_id = args.trigger
    if args.event_id:
        from runner.sources import fetch_event

        raw = fetch_event(args.event_id)
        source = f"MISP event {args.event_id}"
    elif args.replay:
        from runner.debug_listener import load_capture

        capture = load_capture(args.replay)
        raw = capture["original"]
        trigger_id = trigger_id or capture.get("trigger_id")
        source = args.replay
    else:
        raw = read_json(args.data, "event")
        source = args.data
    if trigger_id is not None and get_trigger(trigger_id) is None:  # a capture's trigger
        raise InputError(f"unknown trigger `{trigger_id}` (known: {', '.join(sorted(TRIGGERS))})")
    workflow = load_workflow(args.workflow, trigger_id)
    trigger = get_trigger(trigger_id or workflow.trigger_id or "")
    if trigger is None:
        raise InputError(f"{args.workflow}: no trigger to fire (give --trigger ID)")
    try:
        raw = trigger_data(trigger, raw)
    except TriggerDataError as exc:
        raise InputError(f"not a MISP event: {source} {exc}") from None
    return workflow, raw, trigger.id


def load_mocks(args: argparse.Namespace, workflow: Any) -> Mocks:
    """``--mock``/``--mocks``, each for a node the workflow has."""
    mocks = Mocks.load(args.mocks, args.mock)
    mocks.check(key for key, _ in workflow.nodes())
    return mocks


def check_log_file(args: argparse.Namespace) -> None:
    """``--log-file`` must be writable before the run starts (not a traceback mid-run)."""
    if not getattr(args, "log_file", None):
        return
    try:
        with open(args.log_file, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise InputError(f"--log-file: cannot append to {args.log_file}: {exc.strerror or exc}") from None


def _misp_baseurl(args: argparse.Namespace) -> str | None:
    """``--misp-baseurl``, else the configured ``[misp] url`` (the MISP this run acts for)."""
    if args.misp_baseurl is not None:
        return str(args.misp_baseurl)
    from misp_modules.settings import get_settings

    return get_settings().misp.url


def load_config(args: argparse.Namespace) -> None:
    """Install the deployment settings of ``--config`` (the MISP connection modules and
    ``--event-id`` use); without it, ``MISP_MODULES_CONFIG`` and the environment apply."""
    if not getattr(args, "config", None):
        return
    from misp_modules.settings import SettingsError, load_settings, set_settings

    try:
        set_settings(load_settings(args.config))
    except SettingsError as exc:
        raise InputError(str(exc)) from None
