"""Helpers for the notification tests: deployment settings for one test, MISP-like requests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from misp_modules.settings import MispConnection, Settings, get_settings, set_settings
from tests.support.data import EVENTS

#: The fakes listen on 127.0.0.1, which the egress guard refuses to modules taking a URL from a
#: node: tests allow-list loopback as a deployment allow-lists its internal chat server.
LOOPBACK_ALLOWED = ("127.0.0.1",)


@contextlib.contextmanager
def settings(modules: Mapping[str, Mapping[str, Any]] | None = None, services: Mapping[str, str] | None = None,
             misp: MispConnection | None = None, outbound_allow: tuple[str, ...] = LOOPBACK_ALLOWED) -> Iterator[Settings]:
    """Install deployment settings for the duration of a test, then restore the previous ones.
    ``outbound_allow=()`` tests the egress guard itself."""
    previous = get_settings()
    current = Settings(modules=dict(modules or {}), services=dict(services or {}), misp=misp or MispConnection(),
                       outbound_allow=outbound_allow)
    set_settings(current)
    try:
        yield current
    finally:
        set_settings(previous)


def event(name: str = "57c4445b-c548-4654-af0b-4be3950d210f.json") -> dict:
    """A real MISP event from tests/data/events (``{"Event": ...}``)."""
    data = json.loads((EVENTS / name).read_text())
    return data if "Event" in data else {"Event": data}


def misp_request(module: str, params: Mapping[str, str], data: Any, *, filtered: Any = None,
                 matching: Mapping[str, Any] | None = None) -> dict:
    """The body MISP posts to /query for a misp-module action node (misp-behaviour.md §11.2)."""
    body: dict[str, Any] = {"module": module, "data": data, "params": dict(params) or []}
    body["filteredItems"] = data if filtered is None else filtered
    if matching is not None:
        body["matchingData"] = dict(matching)
    return body
