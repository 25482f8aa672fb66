"""``misp-workflow hashpath PATH [FILE]``: try a hash path on an event before using it in a workflow.

Prints what MISP's ``Hash::extract`` (or ``Hash::get`` with ``--get``) returns for PATH on the
JSON in FILE (or stdin), encoded as MISP encodes it. ``--convert`` first turns a MISP/PyMISP
event into the roaming data a workflow sees (``Event._AttributeFlattened``, ``_allTags``...).
Bad JSON, an unreadable file or a path MISP would silently mis-read gives one line on stderr
and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from misp_modules.semantics import convert, hashpath, php
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.preg import PhpRegexWarning

from .cli import EXIT_INVALID_INPUT, EXIT_OK, describe

PROG = "misp-workflow hashpath"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "hashpath",
        help="evaluate a hash path on JSON data, as MISP does",
        description=describe(__doc__, 1),
    )
    parser.add_argument("path", metavar="PATH", help="hash path, e.g. 'Event.Attribute.{n}[type=ip-src].value'")
    parser.add_argument("file", metavar="FILE", nargs="?", help="JSON file (default: standard input)")
    parser.add_argument("--get", action="store_true", help="use Hash::get (simple dotted path, no patterns)")
    parser.add_argument("--convert", action="store_true",
                        help="convert the input to MISP core format first (the roaming data of event triggers)")
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"{PROG}: {message}".replace("\n", " "), file=sys.stderr)
    return EXIT_INVALID_INPUT


def _read(file: str | None) -> bytes:
    if file is None or file == "-":
        return sys.stdin.buffer.read()
    with open(file, "rb") as fh:
        return fh.read()


def run(args: argparse.Namespace) -> int:
    source = args.file or "standard input"
    try:
        text = _read(args.file)
    except OSError as exc:
        return _fail(f"cannot read {source}: {exc.strerror or exc}")
    try:
        data = php.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _fail(f"invalid JSON in {source}: {reason}")
    if not args.get:
        problem = hashpath.validate(args.path)
        if problem:
            return _fail(f"bad path {args.path!r}: {problem}")
    try:
        if args.convert:
            data = convert.to_core_format(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error", PhpRegexWarning)
            result = hashpath.get(data, args.path) if args.get else hashpath.extract(data, args.path)
    except (SemanticsError, PhpRegexWarning) as exc:
        return _fail(f"cannot evaluate {args.path!r} on {source}: {exc}")
    sys.stdout.write(php.dumps(result) + "\n")
    return EXIT_OK
