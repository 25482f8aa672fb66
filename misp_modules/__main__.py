"""``misp-modules``: upstream's command line, plus ``--upstream``, ``--config`` and ``--workers``."""

from __future__ import annotations

import argparse
import os
import sys

from misp_modules.server.app import Options, run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="misp-modules", description="misp-modules compatible module server")
    parser.add_argument("-p", "--port", type=int, default=6666, help="TCP port (default 6666; 0: any free port)")
    parser.add_argument("-l", "--listen", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1, as the shipped systemd unit; upstream: localhost)")
    parser.add_argument("-c", "--custom", default=None, help="root of a custom module tree (same layout as built-in)")
    parser.add_argument("--upstream", default=None, metavar="DIR",
                        help="upstream misp-modules' module tree to serve: a git checkout, its installed "
                             "misp_modules package directory, or that package's modules/ directory")
    parser.add_argument("-d", "--debug", action="store_true", help="debug logging (request bodies, secrets redacted)")
    parser.add_argument("--debug-extended", action="store_true",
                        help="-d, plus every outbound HTTP exchange of the modules (requests), secrets redacted")
    parser.add_argument("-t", "--test", action="store_true", help="load modules, bind, log 'started', exit 0")
    parser.add_argument("-s", "--system", nargs="?", const=True, default=None, help="legacy option, ignored")
    parser.add_argument("--config", default=None,
                        help="deployment settings file (TOML; default: $MISP_MODULES_CONFIG)")
    parser.add_argument("--workers", type=_positive_int, default=1,
                        help="number of server processes sharing the port (default 1)")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = args.config or os.environ.get("MISP_MODULES_CONFIG") or None
    return run(Options(port=args.port, listen=args.listen, custom=args.custom, upstream=args.upstream,
                       debug=args.debug or args.debug_extended, debug_extended=args.debug_extended,
                       test=args.test, config=config, workers=args.workers))


if __name__ == "__main__":
    sys.exit(main())
