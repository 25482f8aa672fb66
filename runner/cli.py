"""``misp-workflow``: the analyst's command line (try hash paths, validate and run workflows).

Each sub-command lives in its own module exposing ``register(subparsers)``; the parser it adds
sets ``func`` to a callable taking the parsed args and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Exit codes shared by every sub-command (documented in the README).
EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_INVALID_INPUT = 2
EXIT_FAILURE = 3

SUBCOMMANDS = ("runner.cmd_hashpath", "runner.cmd_validate", "runner.cmd_run", "runner.cmd_debug_listener",
               "runner.cmd_watch", "runner.service.cmd_serve", "runner.service.cmd_history")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="misp-workflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # sub-command not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
