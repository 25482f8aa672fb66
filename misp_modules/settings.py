"""Deployment settings: what an administrator sets once per server, not per workflow node.

One place for them: a TOML file given by ``--config`` (or ``MISP_MODULES_CONFIG``), with
environment-variable overrides. Modules read them through :func:`get_settings`; they never read
files or the environment themselves, so a deployment can be understood from one file.

Validation and the environment overrides live in :mod:`misp_modules.settings_loader`; every
key is documented in docs/configuration.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class SettingsError(ValueError):
    """An invalid configuration: the message names the file, the key and the problem."""


@dataclass(frozen=True)
class MispConnection:
    """Where write-back modules reach MISP through PyMISP. ``key`` is a secret: never log it."""

    url: str | None = None
    key: str | None = field(default=None, repr=False)
    verify_tls: bool | str = True  # True, False, or a CA bundle path
    timeout: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.url and self.key)


@dataclass(frozen=True)
class UpstreamSettings:
    """How upstream's module tree (``--upstream``) is served."""

    prefer: tuple[str, ...] = ()  # names upstream's file serves where a built-in has the same name
    default_timeout: float = 300.0  # s, for the tree's modules that declare no ``timeout`` (upstream's)


@dataclass(frozen=True)
class Settings:
    """The whole deployment configuration, immutable once loaded."""

    default_timeout: float = 30.0  # s, per query, for modules that declare no ``timeout``
    default_concurrency: int = 16  # queries in flight per module, for modules that declare none
    max_body_size: int = 64 * 1024 * 1024  # bytes; larger /query bodies get 413
    shutdown_grace: float = 30.0  # s that SIGTERM waits for in-flight queries
    outbound_allow: tuple[str, ...] = ()  # internal targets URL-taking modules may call (egress)
    template_cpu_seconds: float = 5.0  # CPU seconds one template render may take
    default_process_concurrency: int = 4  # worker processes per isolation="process" module declaring none
    worker_memory_limit: int = 1024  # MB of RSS a module worker process may use before it is replaced
    worker_idle_timeout: float = 300.0  # s a module worker process may stay idle before it is stopped
    idle_timeout: float = 60.0  # s a connection may wait for a request's headers (keep-alive or slow)
    body_timeout: float = 60.0  # s a request's body may take to arrive
    max_connections: int = 1000  # connections at once (lowered to fit the descriptor limit)
    max_bodies_in_memory: int = 256 * 1024 * 1024  # bytes of /query bodies held at once, all requests
    loop_lag_warning: float = 0.2  # s the event loop may go without turning before the stall is logged
    misp: MispConnection = field(default_factory=MispConnection)
    services: Mapping[str, str] = field(default_factory=dict)
    modules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    source: str | None = None  # the file the settings came from, for messages

    def module(self, name: str) -> Mapping[str, Any]:
        """Per-module settings table (``[modules.<name>]``), empty when absent."""
        return self.modules.get(name, {})

    def module_setting(self, name: str, key: str, default: Any = None) -> Any:
        return self.module(name).get(key, default)

    def module_number(self, name: str, key: str, default: float, *, whole: bool = False,
                      minimum: float = 0.0) -> float:
        """``[modules.<name>] <key>`` as a number (a whole one if ``whole``), at least
        ``minimum``; :class:`SettingsError` naming the key otherwise. Module settings are
        free-form in the file, so each module checks its own when it uses them."""
        value = self.module_setting(name, key, default)
        if (isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < minimum
                or (whole and float(value) != int(value))):
            what = "a whole number" if whole else "a number"
            raise SettingsError(f"setting [modules.{name}] {key}: expected {what} >= {minimum:g}, got {value!r}")
        return int(value) if whole else float(value)

    def service_url(self, service: str, default: str) -> str:
        """Base URL of an external service (self-hosted mirrors), or the public default."""
        return self.services.get(service) or default


_lock = threading.Lock()
_current: Settings | None = None


def get_settings() -> Settings:
    """The active settings; loaded lazily from ``MISP_MODULES_CONFIG`` when never set."""
    global _current
    with _lock:
        if _current is None:
            _current = load_settings(os.environ.get("MISP_MODULES_CONFIG") or None)
        return _current


def set_settings(settings: Settings) -> None:
    """Install settings (the server does this at startup; tests may too)."""
    global _current
    with _lock:
        _current = settings


def load_settings(path: str | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file at ``path`` (or nothing), then apply environment overrides."""
    from misp_modules.settings_loader import load  # the server's loader and validator

    return load(path, os.environ if environ is None else environ)
