"""``misp-workflow``: the analyst's command line (try hash paths, validate and run workflows).

Each sub-command lives in its own module exposing ``register(subparsers)``; the parser it adds
sets ``func`` to a callable taking the parsed args and returning the exit code. Every parser
reports bad input on one line and exits with ``EXIT_INVALID_INPUT`` (:class:`Parser`).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from typing import NoReturn

# Exit codes shared by every sub-command (documented in docs/runner.md).
EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_INVALID_INPUT = 2
EXIT_FAILURE = 3

SUBCOMMANDS = ("runner.cmd_hashpath", "runner.cmd_validate", "runner.cmd_run", "runner.cmd_debug_listener",
               "runner.cmd_watch", "runner.service.cmd_serve", "runner.service.cmd_history")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``misp-workflow run: <problem> (see --help)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): ", lambda m: m.group(1).split("/")[-1] + ": ", message)
        self.exit(EXIT_INVALID_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def describe(doc: str | None, paragraph: int = 0) -> str:
    """A help text from a module docstring: one whole paragraph on one line, without the reST
    markup (``code`` becomes code) and without the leading command synopsis."""
    paragraphs = [p for p in (doc or "").split("\n\n") if p.strip()]
    text = " ".join(paragraphs[paragraph].split()) if len(paragraphs) > paragraph else ""
    text = re.sub(r"^``misp-workflow[^`]*``:\s*", "", text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    return text[:1].upper() + text[1:]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="misp-workflow", description=describe(__doc__))
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:  # a sub-command that cannot be imported is a packaging error: it raises
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
