"""``misp-workflow validate FILE``: MISP's save-time and editor checks, before any run.

Exit 0 when there is no error (warnings allowed), 3 when there are errors, 2 for unreadable input.
"""

from __future__ import annotations

import argparse
import sys

from misp_modules.contract.wire import dumps
from runner.cli import EXIT_FAILURE, EXIT_INVALID_INPUT, EXIT_OK, describe
from runner.client import connect
from runner.errors import InputError, RunnerError
from runner.loader import load_workflow
from runner.options import add_module_options, enablement, known_trigger
from runner.textsafe import printable
from runner.validate import Finding, summary, validate


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check a workflow or blueprint the way MISP does",
                                   description=describe(__doc__))
    parser.add_argument("workflow", metavar="FILE", help="workflow (MISP REST export) or blueprint JSON")
    parser.add_argument("--trigger", metavar="ID", type=known_trigger,
                        help="trigger for a blueprint (default event-publish)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--offline", action="store_true",
                        help="skip the checks that need the module server (unknown modules, params, ...)")
    add_module_options(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        workflow = load_workflow(args.workflow, args.trigger)
    except InputError as exc:
        print(printable(f"misp-workflow validate: {exc}"), file=sys.stderr)
        return EXIT_INVALID_INPUT
    catalog, extra = None, []
    if not args.offline:
        try:
            client, catalog = connect(args)
            client.close()
        except RunnerError as exc:
            extra.append(Finding("warning", "modules-unchecked", f"module checks skipped: {exc}"))
    findings = validate(workflow, catalog, enablement(args)) + extra
    if args.json:
        sys.stdout.write(dumps({"workflow": workflow.source, **summary(findings)}, indent=True).decode() + "\n")
    else:
        for finding in findings:
            print(printable(finding.line()))
        report = summary(findings)
        print(f"{workflow.source}: {report['errors']} error(s), {report['warnings']} warning(s)")
    return EXIT_FAILURE if any(f.level == "error" for f in findings) else EXIT_OK
