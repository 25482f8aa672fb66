"""Command-line options shared by the sub-commands, and their checks.

Every option value is checked where argparse reads it (the ``type=`` functions here): a bad
value is one line on stderr and exit 2 (``runner.cli.Parser``), whichever command it is given to.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math

from misp_modules.contract.client import DEFAULT_TIMEOUT, DEFAULT_URL, parse_base_url
from misp_modules.contract.triggers import TRIGGERS, get_trigger
from runner.catalog import Enablement

MAX_TIMEOUT = 3600.0  # seconds; MISP's own client gives up after Plugin.Action_timeout (10 s)


def seconds(text: str, limit: float = MAX_TIMEOUT) -> float:
    """A positive number of seconds, at most ``limit``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0 or value > limit:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds above 0 and at most {limit:g}")
    return value


def misp_user(text: str) -> dict:
    """``--initiator-user``: a MISP user id (``12``), or a MISP user object as JSON
    (``{"User": {"id": "12", "email": "analyst@example.org"}}`` or the bare user), as MISP's user
    array ``{"User": {...}}``."""
    stripped = text.strip()
    if stripped.isdigit():
        return {"User": {"id": stripped}}
    try:
        value = json.loads(stripped)
    except ValueError:
        value = None
    user = value.get("User", value) if isinstance(value, dict) else None
    if not isinstance(user, dict):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is neither a user id nor a MISP user object "
                                         '(e.g. 12 or \'{"User": {"id": "12", "email": "a@example.org"}}\')')
    return {"User": user}


def moment(text: str) -> int:
    """``--now``: unix seconds, or an ISO 8601 time (``2026-01-01T00:00:00Z``; no zone = UTC), as
    whole unix seconds (MISP's ``time()``)."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or abs(value) > 2**53:
            raise argparse.ArgumentTypeError(f"{text!r}: not a usable unix time")
        return math.floor(value)
    try:
        parsed = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither unix seconds nor an ISO 8601 time "
                                         "(e.g. 2026-01-01T00:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return math.floor(parsed.timestamp())


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 1 or more")
    return value


def port(text: str) -> int:
    """A TCP port to listen on (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is between 0 and 65535")
    return value


def http_url(text: str) -> str:
    """An http(s) base URL (``host:port`` alone means ``http://host:port``)."""
    try:
        parse_base_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def known_trigger(text: str) -> str:
    """A MISP trigger id; the error lists the known ones."""
    if get_trigger(text) is None:
        raise argparse.ArgumentTypeError(f"unknown trigger `{text}` (known: {', '.join(sorted(TRIGGERS))})")
    return text


def add_module_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("modules")
    group.add_argument("--modules-url", default=DEFAULT_URL, metavar="URL", type=http_url,
                       help=f"module server base URL (default {DEFAULT_URL})")
    group.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"per-node timeout for module calls, above 0 and at most {MAX_TIMEOUT:g} "
                            f"(default {DEFAULT_TIMEOUT:g}, MISP's Plugin.Action_timeout)")
    group.add_argument("--enabled-modules", default=None, metavar="all|misp-default|ID,ID",
                       help="which logic/action modules are enabled: all (default), misp-default "
                            "(MISP's initial set), or an exact comma-separated list ('' = none)")
    group.add_argument("--disable", action="append", default=[], metavar="ID",
                       help="disable a module id (repeatable, comma-separated lists allowed)")
    group.add_argument("--no-action-services", action="store_true",
                       help="ignore MISP-facing misp-modules action modules "
                            "(MISP with Plugin.Action_services_enable off)")


def enablement(args: argparse.Namespace) -> Enablement:
    return Enablement.parse(args.enabled_modules, args.disable)
