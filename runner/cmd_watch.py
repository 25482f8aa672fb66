"""``misp-workflow watch FILE --zmq tcp://misp:50000``: run a workflow on every event MISP
publishes on its ZeroMQ feed (``misp_json_event``), without loading MISP with the workflow.

One line per run (``--json``: one JSON document per line). Ends after ``--max-events`` events
or ``--idle-timeout`` seconds without a message (default: runs until interrupted).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from typing import Any

from runner.cli import EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_OK, describe
from runner.client import connect
from runner.cmd_run import add_run_options, check_log_file, load_config, load_mocks, run_options
from runner.engine import Runner, refuse_cycles
from runner.errors import InputError, RunnerError
from runner.loader import load_workflow
from runner.options import add_module_options, known_trigger, positive_int, seconds
from runner.report import write_document
from runner.sources import zmq_events
from runner.textsafe import printable

MAX_IDLE = 7 * 24 * 3600.0  # a week of silence


def register(subparsers) -> None:
    parser = subparsers.add_parser("watch", help="run a workflow on every event of MISP's ZeroMQ feed",
                                   description=describe(__doc__))
    parser.add_argument("workflow", metavar="FILE", help="workflow (MISP REST export) or blueprint JSON")
    parser.add_argument("--zmq", required=True, metavar="URL", help="MISP's ZeroMQ publisher, e.g. tcp://misp:50000")
    parser.add_argument("--topic", action="append", default=None, metavar="TOPIC",
                        help="feed topic(s) carrying events (default misp_json_event)")
    parser.add_argument("--trigger", metavar="ID", type=known_trigger,
                        help="trigger to fire (default: the workflow's, or event-publish)")
    parser.add_argument("--json", action="store_true", help="one JSON document per run, one per line")
    parser.add_argument("--max-events", type=positive_int, default=None, metavar="N", help="stop after N events")
    parser.add_argument("--idle-timeout", type=lambda text: seconds(text, limit=MAX_IDLE), default=None,
                        metavar="SECONDS",
                        help="stop when no message arrives for that long")
    add_run_options(parser)
    add_module_options(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        load_config(args)
        workflow = load_workflow(args.workflow, args.trigger)
        if not args.allow_cycles:
            refuse_cycles(workflow)
        mocks = load_mocks(args, workflow)
        check_log_file(args)
    except InputError as exc:
        print(printable(f"misp-workflow watch: {exc}"), file=sys.stderr)
        return EXIT_INVALID_INPUT
    try:
        client, catalog = connect(args)
    except RunnerError as exc:
        print(printable(f"misp-workflow watch: {exc}"), file=sys.stderr)
        return EXIT_FAILURE
    runner = Runner(catalog, client, run_options(args, mocks))
    topics = tuple(args.topic or ("misp_json_event",))
    seen = 0
    try:
        for topic, data in zmq_events(args.zmq, topics, receive_timeout=args.idle_timeout,
                                      ready=lambda: print(f"subscribed to {args.zmq} ({', '.join(topics)})",
                                                          file=sys.stderr, flush=True)):
            seen += 1
            _one(runner, workflow, topic, data, args)
            if args.max_events is not None and seen >= args.max_events:
                break
    except InputError as exc:
        print(printable(f"misp-workflow watch: {exc}"), file=sys.stderr)
        return EXIT_INVALID_INPUT
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return EXIT_OK


def _one(runner: Runner, workflow: Any, topic: str, data: Any, args: argparse.Namespace) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    if not isinstance(data, Mapping) or not isinstance(data.get("Event"), Mapping):
        print(f"{stamp} {topic}: skipped a message that is not an event", flush=True)
        return
    try:
        result = runner.run(workflow, data, args.trigger)
    except InputError as exc:
        print(printable(f"{stamp} {topic}: {exc}"), flush=True)
        return
    if args.json:
        write_document(result, sys.stdout.buffer, indent=False)  # one document per line
        sys.stdout.flush()
        return
    event = data["Event"]
    line = f"{stamp} event {event.get('uuid', event.get('id', '?'))} ({event.get('info', '')}): {result.outcome}"
    if result.message:
        line += f": {result.message}"
    if result.stored.changes:
        line += f" [{len(result.stored.changes)} change(s)]"
    print(printable(line), flush=True)
