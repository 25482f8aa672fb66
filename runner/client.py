"""The runner's module server: a client of the module protocol (``misp_modules.contract.client``)
and the catalogue read from its ``/modules``, as every command that runs or checks workflows
needs them.
"""

from __future__ import annotations

import argparse

from misp_modules.contract.client import ModuleCallError, ModuleClient
from runner.catalog import Catalog
from runner.errors import RunnerError


def connect(args: argparse.Namespace) -> tuple[ModuleClient, Catalog]:
    """The module client and the catalog from its ``/modules``; :class:`RunnerError` if the
    server cannot be asked."""
    client = ModuleClient(args.modules_url, timeout=args.timeout)
    try:
        entries = client.modules()
    except ModuleCallError as exc:
        raise RunnerError(f"cannot load the module list: {exc}") from None
    return client, Catalog.from_modules(entries, action_services=not args.no_action_services)
