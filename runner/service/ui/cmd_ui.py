"""``misp-workflow ui WORKFLOWS [--events DIR]``: the web debugger on a folder of workflows, no service to set up.

Runs the service's embedded parts in this process (its queue and history in a temporary folder,
or the history in ``--history FILE`` to keep the runs), with the runner in worker threads, and
serves the same pages as ``misp-workflow serve`` on ``--listen``:``--port`` (127.0.0.1:8781 by
default). No feed, no schedules, and nothing is ever written back to MISP (``[misp]
write_back`` off; with ``MISP_URL``/``MISP_KEY`` set, a run can take its event from MISP). The
login token comes from ``MISP_WORKFLOW_API_TOKENS`` or is made at start and written, readable
by its owner only, to the file the startup line names (never printed). Stops on Ctrl-C or
SIGTERM. Exit codes: 0 stopped, 2 bad arguments, 3 could not start (a port taken).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from runner.cli import EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_OK, describe

PROG = "misp-workflow ui"


def register(subparsers: Any) -> None:
    from runner import options

    parser = subparsers.add_parser("ui", help="the web debugger on a folder of workflows and events",
                                   description=describe(__doc__, 1))
    parser.add_argument("workflows", metavar="WORKFLOWS", help="a folder of MISP workflow exports or blueprints")
    parser.add_argument("--events", metavar="DIR", help="a folder of event files (JSON) offered as inputs")
    parser.add_argument("--history", metavar="FILE", help="keep the runs in this SQLite file (default: a temporary one)")
    parser.add_argument("--modules-url", default="http://127.0.0.1:6666", metavar="URL", type=options.http_url,
                        help="the module server (default http://127.0.0.1:6666)")
    parser.add_argument("--timeout", type=options.seconds, default=10.0, metavar="S", help="per-node timeout (default 10 s)")
    parser.add_argument("--listen", default="127.0.0.1", metavar="ADDRESS", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=options.port, default=8781, metavar="PORT", help="port (default 8781; 0: a free one)")
    parser.add_argument("--token-file", metavar="FILE", help="where to write the login token (default: in the "
                                                             "temporary folder)")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=main)


def _fail(message: str, code: int = EXIT_INVALID_INPUT) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def config_mapping(args: argparse.Namespace, state: Path, token: str) -> dict[str, Any]:
    """The service configuration ``ui`` runs with (docs/ui.md, "Without a service")."""
    history = Path(args.history).resolve() if args.history else state / "history.db"
    mapping: dict[str, Any] = {
        "service": {"workflows": str(Path(args.workflows).resolve()), "modules_url": args.modules_url,
                    "node_timeout": args.timeout, "workers": 2, "reload_check": 1.0, "shutdown_grace": 5},
        "queue": {"backend": "sqlite", "path": str(state / "queue.db"), "poll": 0.2},
        "history": {"url": str(history)},
        "misp": {"write_back": False},
        "api": {"listen": args.listen, "port": args.port, "tokens": [token]},
        "ui": {"enabled": True},
    }
    if args.events:
        mapping["ui"]["events"] = str(Path(args.events).resolve())
    return mapping


def main(args: argparse.Namespace) -> int:
    from runner.service import config as cfg

    if not Path(args.workflows).is_dir():
        return _fail(f"WORKFLOWS: {args.workflows} is not a folder (give the folder that holds the workflow files)")
    if args.events and not Path(args.events).is_dir():
        return _fail(f"--events: {args.events} is not a folder")
    tmp = tempfile.TemporaryDirectory(prefix="misp-workflow-ui-")
    state = Path(tmp.name)
    given = [t.strip() for t in os.environ.get("MISP_WORKFLOW_API_TOKENS", "").split(",") if t.strip()]
    token = given[0] if given else secrets.token_urlsafe(24)
    token_file = Path(args.token_file) if args.token_file else state / "token"
    env = {k: v for k, v in os.environ.items() if k != "MISP_WORKFLOW_API_TOKENS"}
    try:
        config = cfg.from_mapping(config_mapping(args, state, token), PROG, Path.cwd(), env)
    except cfg.ConfigError as exc:
        tmp.cleanup()
        return _fail(str(exc).replace(f"{PROG}: ", "", 1))
    if not given:
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
    try:
        return _serve(args, config, token_file if not given else None)
    finally:
        tmp.cleanup()


def _serve(args: argparse.Namespace, config: Any, token_file: Path | None) -> int:
    import tornado.httpserver
    import tornado.netutil
    from tornado.ioloop import IOLoop

    from runner.service.api import make_app
    from runner.service.app import Service
    from runner.service.cmd_serve import _host, _logging

    _logging(args.debug, [*config.api.tokens, config.misp.key or ""])
    try:
        service = Service(config, role="all")
    except Exception as exc:  # noqa: BLE001 - the queue or history cannot be opened: one line
        return _fail(f"cannot start: {type(exc).__name__}: {exc}", EXIT_FAILURE)
    try:
        sockets = tornado.netutil.bind_sockets(config.api.port, config.api.listen)
    except OSError as exc:
        service.stop()
        return _fail(f"cannot listen on {config.api.listen}:{config.api.port}: {exc.strerror or exc}", EXIT_FAILURE)
    server = tornado.httpserver.HTTPServer(make_app(service), max_body_size=config.feed.max_message_bytes)
    server.add_sockets(sockets)
    loop = IOLoop.current()

    def ask_stop(signum: int, _frame: Any) -> None:
        loop.add_callback_from_signal(loop.stop)

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    service.start()
    where = f"http://{_host(config.api.listen)}:{sockets[0].getsockname()[1]}/ui/"
    login = f"log in with the token in {token_file}" if token_file else "log in with a token of MISP_WORKFLOW_API_TOKENS"
    print(f"{PROG}: ready on {where} ({login}; workflows in {config.workflows}, runs kept in "
          f"{config.history.url})", file=sys.stderr, flush=True)
    try:
        loop.start()
    finally:
        server.stop()
        service.stop()
    return EXIT_OK
