"""``misp-workflow serve --config automation.toml``: the automation service (docs/service.md).

Runs until SIGTERM or SIGINT, then stops gracefully (intake first; runs in hand finish or go
back to the queue). Exit codes: 0 stopped, 2 invalid configuration, 3 could not start (a
port taken, the queue unreachable).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from runner.cli import EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_OK, describe


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the automation service (feed, API, queue, workers, history)",
                                   description=describe(__doc__))
    parser.add_argument("--config", required=True, metavar="FILE", help="the service's automation.toml")
    parser.add_argument("--role", default="all", choices=("all", "intake", "worker"),
                        help="all (default): everything in one process; intake: feed, API and schedules; "
                             "worker: runs only")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker threads in this process (default [service] workers)")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="worker role: serve /healthz and /metrics on 127.0.0.1:PORT (0: a free port)")
    parser.add_argument("--port", type=int, default=None, metavar="PORT",
                        help="the API's port, overriding [api] port (0: a free port)")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.set_defaults(func=main)


class _Secrets(logging.Filter):
    """Every configured secret is masked in every log line (the formatter redacts)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.secrets = [*getattr(record, "secrets", ()), *self.secrets]
        return True


def _logging(debug: bool, secrets: list[str]) -> None:
    from misp_modules.server.logs import FORMAT, RedactingFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT))
    handler.addFilter(_Secrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def main(args: argparse.Namespace) -> int:
    from runner.service import config as cfg

    try:
        config = cfg.load(args.config)
    except cfg.ConfigError as exc:
        print(f"misp-workflow serve: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    _logging(args.debug, [config.misp.key or "", config.feed.password or "", *config.api.tokens])
    import tornado.httpserver
    import tornado.netutil
    from tornado.ioloop import IOLoop

    from runner.service.api import make_app, make_probe_app
    from runner.service.app import Service

    try:
        service = Service(config, role=args.role, workers=args.workers)
    except Exception as exc:  # noqa: BLE001 - the queue or history cannot be opened: one line
        print(f"misp-workflow serve: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    servers = []
    try:
        if args.role in ("all", "intake") and config.api.enabled:
            port = config.api.port if args.port is None else args.port
            sockets = tornado.netutil.bind_sockets(port, config.api.listen)
            server = tornado.httpserver.HTTPServer(make_app(service), max_body_size=config.feed.max_message_bytes)
            server.add_sockets(sockets)
            servers.append(server)
            print(f"misp-workflow serve: API on http://{_host(config.api.listen)}:{sockets[0].getsockname()[1]}",
                  file=sys.stderr, flush=True)
        if args.role == "worker" and args.metrics_port is not None:
            sockets = tornado.netutil.bind_sockets(args.metrics_port, "127.0.0.1")
            server = tornado.httpserver.HTTPServer(make_probe_app(service))
            server.add_sockets(sockets)
            servers.append(server)
            print(f"misp-workflow serve: metrics on http://127.0.0.1:{sockets[0].getsockname()[1]}",
                  file=sys.stderr, flush=True)
    except OSError as exc:
        print(f"misp-workflow serve: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        service.stop()
        return EXIT_FAILURE
    loop = IOLoop.current()

    def ask_stop(signum, _frame) -> None:
        loop.add_callback_from_signal(loop.stop)

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    service.start()
    print(f"misp-workflow serve: ready (role {args.role})", file=sys.stderr, flush=True)
    try:
        loop.start()
    finally:
        for server in servers:
            server.stop()
        service.stop()
    return EXIT_OK


def _host(listen: str) -> str:
    return f"[{listen}]" if ":" in listen else listen
