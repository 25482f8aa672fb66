"""The expansion modules a workflow node can query, and how: this server's, or another's.

MISP's enrichment nodes (``attach-enrichment``, ``enrich-event``) query MISP's Enrichment
service. Here they query this server in-process (``misp_modules.server.dispatch.query_module``:
same lanes, timeouts and error contract as ``POST /query``); a module this server lacks
(upstream's ``mmdb_lookup``, ``abuseipdb``, ...) is asked from another misp-modules server when
the node's ``forward_url`` setting names one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import requests

from misp_modules.lib.http import public_url
from misp_modules.settings import get_settings

ENRICHMENT_TYPES = ("expansion", "hover")  # MISP's "Enrichment" family


class Enrichers:
    """The enrichment modules a node run can use: this server's, then the forward server's."""

    def __init__(self, local: dict[str, dict], remote: dict[str, dict], forward_url: str | None,
                 problems: list[str]) -> None:
        self.local, self.remote, self.forward_url, self.problems = local, remote, forward_url, problems

    @classmethod
    async def load(cls, wanted: list[str], node_module: str) -> Enrichers:
        """The ``wanted`` modules' ``/modules`` entries; ``node_module``'s settings give
        ``forward_url``."""
        local: dict[str, dict] = {}
        from misp_modules.server import dispatch

        dispatcher = dispatch.current()
        if dispatcher is not None:
            for name in wanted:
                module = dispatcher.registry.modules.get(name)
                if module is not None and any(t in ENRICHMENT_TYPES for t in module.module_types):
                    local[name] = module.entry
        forward_url = get_settings().module_setting(node_module, "forward_url", None) or None
        remote: dict[str, dict] = {}
        problems: list[str] = []
        if forward_url and any(name not in local for name in wanted):
            try:
                listing = await asyncio.to_thread(_get_json, f"{forward_url.rstrip('/')}/modules", 5.0)
                for entry in listing if isinstance(listing, list) else []:
                    if not isinstance(entry, dict) or entry.get("name") not in wanted:
                        continue
                    types = (entry.get("meta") or {}).get("module-type") or []
                    if any(t in ENRICHMENT_TYPES for t in types):
                        remote[entry["name"]] = entry
            except ForwardError as exc:
                problems.append(str(exc))
        return cls(local, remote, forward_url, problems)

    def entry(self, name: str) -> dict | None:
        return self.local.get(name) or self.remote.get(name)

    def unavailable(self, name: str) -> str:
        where = "this module server"
        if self.forward_url:
            where += f" nor {public_url(self.forward_url)}"
        return f"Enrichment module {name!r} is not available on {where}"

    async def query(self, name: str, body: dict, query_timeout: float) -> dict:
        if name in self.local:
            from misp_modules.server.dispatch import query_module

            return await query_module(name, body, query_timeout)
        url = f"{self.forward_url.rstrip('/')}/query"
        return await asyncio.to_thread(_post_json, url, body, query_timeout)


class ForwardError(RuntimeError):
    pass


def _get_json(url: str, wait: float) -> Any:
    return _answer(url, lambda: requests.get(url, timeout=wait))


def _post_json(url: str, body: dict, wait: float) -> Any:
    return _answer(url, lambda: requests.post(url, json=body, timeout=wait))


def _answer(url: str, call) -> Any:
    where = public_url(url)
    try:
        response = call()
    except requests.exceptions.Timeout:
        raise ForwardError(f"{where} did not answer in time") from None
    except requests.exceptions.RequestException as exc:
        raise ForwardError(f"cannot reach {where} ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ForwardError(f"{where} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ForwardError(f"{where} answered something that is not JSON") from None


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


