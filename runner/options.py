"""Command-line options shared by ``run`` and ``validate``, and the catalog they need."""

from __future__ import annotations

import argparse

from runner.catalog import Catalog, Enablement
from runner.client import DEFAULT_TIMEOUT, DEFAULT_URL, ModuleCallError, ModuleClient
from runner.errors import RunnerError


def add_module_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("modules")
    group.add_argument("--modules-url", default=DEFAULT_URL, metavar="URL",
                       help=f"module server base URL (default {DEFAULT_URL})")
    group.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"per-node timeout for module calls (default {DEFAULT_TIMEOUT:g}, MISP's Plugin.Action_timeout)")
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


def connect(args: argparse.Namespace, pool_size: int = 8) -> tuple[ModuleClient, Catalog]:
    """The module client and the catalog from its ``/modules``; :class:`RunnerError` if the
    server cannot be asked."""
    client = ModuleClient(args.modules_url, timeout=args.timeout, pool_size=pool_size)
    try:
        entries = client.modules()
    except ModuleCallError as exc:
        raise RunnerError(f"cannot load the module list: {exc}") from None
    return client, Catalog.from_modules(entries, action_services=not args.no_action_services)
