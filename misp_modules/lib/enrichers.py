"""The expansion modules a workflow node can query, and how: this server's, or another's.

MISP's enrichment nodes (``attach-enrichment``, ``enrich-event``) query MISP's Enrichment
service. Here they query this server in-process (``misp_modules.server.dispatch.query_module``:
same lanes, timeouts and error contract as ``POST /query``); a module this server lacks
(upstream's ``mmdb_lookup``, ``abuseipdb``, ...) is asked from another misp-modules server when
the node's ``forward_url`` setting names one, with the client of the module protocol
(``misp_modules.contract.client``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from misp_modules.contract.client import ModuleCallError, ModuleClient
from misp_modules.lib.http import public_url
from misp_modules.settings import get_settings

ENRICHMENT_TYPES = ("expansion", "hover")  # MISP's "Enrichment" family
LISTING_TIMEOUT = 5.0  # s for the forward server's /modules (MISP allows its own 1 s)


class ForwardError(RuntimeError):
    """The forward server could not be asked or answered something unusable."""


def is_enrichment(entry: Mapping[str, Any]) -> bool:
    types = (entry.get("meta") or {}).get("module-type") or []
    return any(t in ENRICHMENT_TYPES for t in types)


class Enrichers:
    """The enrichment modules a node run can use: this server's, then the forward server's."""

    def __init__(self, local: dict[str, dict], remote: dict[str, dict], forward_url: str | None,
                 problems: list[str]) -> None:
        self.local, self.remote, self.forward_url, self.problems = local, remote, forward_url, problems

    @classmethod
    async def load(cls, wanted: list[str], node_module: str) -> Enrichers:
        """The ``wanted`` modules' ``/modules`` entries; ``node_module``'s settings give
        ``forward_url``."""
        from misp_modules.server.dispatch import module_entry

        local: dict[str, dict] = {}
        for name in wanted:
            entry = module_entry(name)
            if entry is not None and is_enrichment(entry):
                local[name] = entry
        forward_url = get_settings().module_setting(node_module, "forward_url", None) or None
        remote: dict[str, dict] = {}
        problems: list[str] = []
        if forward_url and any(name not in local for name in wanted):
            try:
                listing = await asyncio.to_thread(_forward(forward_url).modules, LISTING_TIMEOUT)
            except (ForwardError, ModuleCallError) as exc:
                problems.append(str(exc))
            else:
                for entry in listing:
                    if isinstance(entry, dict) and entry.get("name") in wanted and is_enrichment(entry):
                        remote[entry["name"]] = entry
        return cls(local, remote, forward_url, problems)

    def entry(self, name: str) -> dict | None:
        return self.local.get(name) or self.remote.get(name)

    def unavailable(self, name: str) -> str:
        where = "this module server"
        if self.forward_url:
            where += f" nor {public_url(self.forward_url)}"
        return f"Enrichment module {name!r} is not available on {where}"

    async def query(self, name: str, body: dict, query_timeout: float) -> dict:
        """The module's answer; :class:`ForwardError` when the forward server fails."""
        if name in self.local:
            from misp_modules.server.dispatch import query_module

            return await query_module(name, body, query_timeout)
        try:
            answer, _ = await asyncio.to_thread(_forward(str(self.forward_url)).query, body, query_timeout)
        except ModuleCallError as exc:
            raise ForwardError(str(exc)) from None
        if not isinstance(answer, dict):
            raise ForwardError(f"the forward server at {public_url(str(self.forward_url))} answered something "
                               "that is not a JSON object")
        return answer


_clients: dict[str, ModuleClient] = {}
_lock = threading.Lock()


def _forward(url: str) -> ModuleClient:
    """One client (its kept-alive connections) per forward server, for every node run."""
    with _lock:
        client = _clients.get(url)
        if client is None:
            try:
                client = ModuleClient(url, name="the forward server", shown=public_url(url))
            except ModuleCallError:
                raise ForwardError("forward_url is not an http:// or https:// URL with a host") from None
            _clients[url] = client
        return client


def module_options(name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """``getModuleOptions``: each ``meta.config`` name valued from the settings (None when unset)."""
    config = (entry.get("meta") or {}).get("config") or []
    names = list(config.values()) if isinstance(config, Mapping) else list(config)
    settings = get_settings()
    options = {str(conf): settings.module_setting(name, str(conf), None) for conf in names}
    return options or {"_": "_"}


def supported(entry: Mapping[str, Any], attribute: Mapping[str, Any]) -> bool:
    inputs = (entry.get("mispattributes") or {}).get("input") or []
    return attribute.get("type") in inputs


