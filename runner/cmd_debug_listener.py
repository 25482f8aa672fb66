"""``misp-workflow debug-listener --port P``: receive MISP's workflow debug POSTs and store each
run as a JSON capture (replay it with ``misp-workflow run FILE --replay CAPTURE``).

Point MISP's ``Plugin.Workflow_debug_url`` (or ``misp-workflow run --debug-url``) at it.
"""

from __future__ import annotations

import argparse
import signal
import sys

from runner.cli import EXIT_INVALID_INPUT, EXIT_OK, describe
from runner.debug_listener import CaptureStore, make_server
from runner.options import port
from runner.textsafe import printable


def register(subparsers) -> None:
    parser = subparsers.add_parser("debug-listener", help="receive MISP workflow debug posts and store runs",
                                   description=describe(__doc__))
    parser.add_argument("--port", type=port, default=27051,
                        help="port to listen on, 0 for any free one (default 27051, MISP's default)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--dir", default="workflow-debug", metavar="DIR",
                        help="where captures are written (default ./workflow-debug)")
    parser.add_argument("--quiet", action="store_true", help="do not print a line per post")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        store = CaptureStore(args.dir)
        server = make_server(args.host, args.port, store, None if args.quiet else _echo)
    except OSError as exc:
        print(printable(f"misp-workflow debug-listener: cannot listen on {args.host}:{args.port} "
              f"or write {args.dir}: {exc.strerror or exc}"), file=sys.stderr)
        return EXIT_INVALID_INPUT
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}, writing captures to {args.dir}", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.flush()
    return EXIT_OK


def _echo(line: str) -> None:
    print(line, flush=True)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt
