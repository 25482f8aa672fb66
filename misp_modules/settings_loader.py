"""Parse and validate the deployment config file (TOML) and its environment overrides.

Every problem stops startup with one message naming where (file or environment variable),
the key and what is wrong, e.g. ``/etc/mm.toml: [server] default_timeout: must be a positive
number of seconds, got 'ten'``. A typo in a key the server knows is an error too (with a
suggestion), because a silently ignored ``defualt_timeout`` is worse than a refusal to start.

Environment overrides (applied after the file; docs/configuration.md):

* ``MISP_MODULES__<SECTION>__<KEY>=value`` for any key, e.g. ``MISP_MODULES__SERVER__DEFAULT_TIMEOUT=10``,
  ``MISP_MODULES__SERVICES__TELEGRAM=http://127.0.0.1:8081``,
  ``MISP_MODULES__MODULES__HASHLOOKUP__CUSTOM_API=...`` (names are case-insensitive: they match
  an existing key of any case, else they are lower-cased). Values are read as TOML scalars
  (``10``, ``2.5``, ``true``) when they parse as one, else as plain strings; ``misp.url``,
  ``misp.key`` and service URLs are always strings.
* ``MISP_URL``, ``MISP_KEY``, ``MISP_VERIFY_TLS``: short forms of the ``[misp]`` keys.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from misp_modules.settings import MispConnection, Settings, SettingsError, UpstreamSettings

ENV_PREFIX = "MISP_MODULES__"
SECTIONS = ("server", "misp", "services", "modules", "upstream")
SERVER_KEYS = ("default_timeout", "default_concurrency", "max_body_size", "shutdown_grace", "outbound_allow",
               "template_cpu_seconds", "default_process_concurrency", "worker_memory_limit", "worker_idle_timeout",
               "loop_lag_warning", "idle_timeout", "body_timeout", "max_connections", "max_bodies_in_memory")
MISP_KEYS = ("url", "key", "verify_tls", "timeout")
UPSTREAM_KEYS = ("prefer", "default_timeout")
ALIASES = {"MISP_URL": ("misp", "url"), "MISP_KEY": ("misp", "key"), "MISP_VERIFY_TLS": ("misp", "verify_tls")}
_STRING_KEYS = {("misp", "url"), ("misp", "key")}


def load(path: str | None, environ: Mapping[str, str]) -> Settings:
    raw: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}  # where each overridden key came from, for messages
    if path:
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: invalid TOML: {exc}") from None
    _apply_environment(raw, environ, origin)
    return _validate(raw, path, origin)


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str], origin: dict) -> None:
    overrides: list[tuple[str, list[str], str]] = []
    for name, (section, key) in ALIASES.items():
        if environ.get(name):
            overrides.append((name, [section, key], environ[name]))
    for name, value in environ.items():
        if name.upper().startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            parts = name[len(ENV_PREFIX):].split("__")
            if any(not p for p in parts) or len(parts) < 2:
                raise SettingsError(f"environment variable {name}: expected "
                                    f"{ENV_PREFIX}<SECTION>__<KEY> (modules: {ENV_PREFIX}MODULES__<NAME>__<KEY>)")
            overrides.append((name, parts, value))
    for name, parts, value in overrides:
        table = raw
        keys: list[str] = []
        for depth, part in enumerate(parts):
            if not isinstance(table, dict):
                raise SettingsError(f"environment variable {name}: {'.'.join(keys)} is not a table")
            key = _match_key(table, part)
            keys.append(key)
            if depth == len(parts) - 1:
                typed = value if tuple(keys) in _STRING_KEYS or keys[0] == "services" else _scalar(value)
                table[key] = typed
                origin[tuple(keys)] = f"environment variable {name}"
            else:
                table = table.setdefault(key, {})


def _match_key(table: dict[str, Any], part: str) -> str:
    for existing in table:
        if existing.lower() == part.lower():
            return existing
    return part.lower()


def _scalar(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


class _Checker:
    """Names the place of every problem: the file (or env var), the table and the key."""

    def __init__(self, path: str | None, origin: Mapping[tuple[str, ...], str]) -> None:
        self.path = path or "configuration"
        self.origin = origin

    def fail(self, keys: tuple[str, ...], problem: str) -> SettingsError:
        where = self.origin.get(keys, self.path)
        if len(keys) == 1:
            place = f"[{keys[0]}]"
        elif keys[0] == "modules" and len(keys) > 2:
            place = f"[modules.{keys[1]}] {'.'.join(keys[2:])}"
        else:
            place = f"[{keys[0]}] {'.'.join(keys[1:])}"
        return SettingsError(f"{where}: {place}: {problem}")

    def table(self, raw: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        value = raw.get(keys[-1], {})
        if not isinstance(value, dict):
            raise self.fail(keys, f"must be a table, got {_show(value)}")
        return value

    def known(self, table: Mapping[str, Any], section: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(allowed)})"
                raise self.fail((section, key), f"unknown key{hint}")

    def get(self, table: Mapping[str, Any], keys: tuple[str, ...], default: Any,
            check: Callable[[Any], str | None]) -> Any:
        if keys[-1] not in table:
            return default
        value = table[keys[-1]]
        problem = check(value)
        if problem:
            raise self.fail(keys, f"{problem}, got {_show(value)}")
        return value


def _positive_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return "must be a positive number of seconds"
    return None


def _non_negative_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return "must be a number of seconds (0 or more)"
    return None


def _positive_int(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a whole number, at least 1"
    return None


def _egress_entries(value: Any) -> str | None:
    from misp_modules.lib.http.egress import parse_entry

    if isinstance(value, str):  # one entry, e.g. from an environment variable
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of addresses, networks or host names (e.g. [\"10.0.0.0/8\", \"chat.internal:8065\"])"
    for entry in value:
        try:
            parse_entry(entry)
        except ValueError as exc:
            return f"must be a list of addresses, networks or host names: {exc}"
    return None


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be an http(s) URL string"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an http:// or https:// URL"
    return None


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _names(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return "must be a list of module names"
    return None


def _verify_tls(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return None
        if not os.path.exists(value):
            return "must be true, false or the path of an existing CA bundle"
        return None
    return "must be true, false or the path of a CA bundle"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _validate(raw: dict[str, Any], path: str | None, origin: Mapping) -> Settings:
    c = _Checker(path, origin)
    for section in raw:
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, SECTIONS, n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else f" (known: {', '.join(SECTIONS)})"
            raise SettingsError(f"{origin.get((section,), c.path)}: [{section}]: unknown section{hint}")

    server = c.table(raw, ("server",))
    c.known(server, "server", SERVER_KEYS)
    defaults = Settings()
    default_timeout = c.get(server, ("server", "default_timeout"), defaults.default_timeout, _positive_number)
    default_concurrency = c.get(server, ("server", "default_concurrency"), defaults.default_concurrency, _positive_int)
    max_body_size = c.get(server, ("server", "max_body_size"), defaults.max_body_size,
                          lambda v: _positive_int(v) and "must be a number of bytes, at least 1")
    shutdown_grace = c.get(server, ("server", "shutdown_grace"), defaults.shutdown_grace, _non_negative_number)
    outbound_allow = c.get(server, ("server", "outbound_allow"), [], _egress_entries)
    template_cpu = c.get(server, ("server", "template_cpu_seconds"), defaults.template_cpu_seconds, _positive_number)
    process_concurrency = c.get(server, ("server", "default_process_concurrency"),
                                defaults.default_process_concurrency, _positive_int)
    memory_limit = c.get(server, ("server", "worker_memory_limit"), defaults.worker_memory_limit,
                         lambda v: _positive_int(v) and "must be a number of MB, at least 1")
    idle_timeout = c.get(server, ("server", "worker_idle_timeout"), defaults.worker_idle_timeout, _positive_number)
    loop_lag = c.get(server, ("server", "loop_lag_warning"), defaults.loop_lag_warning, _positive_number)
    idle = c.get(server, ("server", "idle_timeout"), defaults.idle_timeout, _positive_number)
    body_timeout = c.get(server, ("server", "body_timeout"), defaults.body_timeout, _positive_number)
    max_connections = c.get(server, ("server", "max_connections"), defaults.max_connections, _positive_int)
    max_bodies = c.get(server, ("server", "max_bodies_in_memory"), defaults.max_bodies_in_memory,
                       lambda v: _positive_int(v) and "must be a number of bytes, at least 1")

    misp = c.table(raw, ("misp",))
    c.known(misp, "misp", MISP_KEYS)
    url = c.get(misp, ("misp", "url"), None, _http_url)
    key = c.get(misp, ("misp", "key"), None, lambda v: _string(v) or (None if v.strip() else "must not be empty"))
    verify = c.get(misp, ("misp", "verify_tls"), True, _verify_tls)
    if isinstance(verify, str) and verify.lower() in ("true", "false"):
        verify = verify.lower() == "true"
    misp_timeout = c.get(misp, ("misp", "timeout"), MispConnection.timeout, _positive_number)

    services = c.table(raw, ("services",))
    for name in services:
        c.get(services, ("services", name), None, _http_url)

    modules_raw = c.table(raw, ("modules",))
    modules: dict[str, dict[str, Any]] = {}
    for name, table in modules_raw.items():
        if not isinstance(table, dict):
            raise c.fail(("modules", name), f"must be a table of settings for module {name!r}, got {_show(table)}")
        c.get(table, ("modules", name, "timeout"), None, _positive_number)
        c.get(table, ("modules", name, "concurrency"), None, _positive_int)
        c.get(table, ("modules", name, "outbound_allow"), None, _egress_entries)
        c.get(table, ("modules", name, "isolation"), None,
              lambda v: None if v in ("process", "thread") else "must be \"process\" or \"thread\"")
        c.get(table, ("modules", name, "memory_limit"), None,
              lambda v: _positive_int(v) and "must be a number of MB, at least 1")
        modules[name] = dict(table)

    upstream = c.table(raw, ("upstream",))
    c.known(upstream, "upstream", UPSTREAM_KEYS)
    prefer = c.get(upstream, ("upstream", "prefer"), [], _names)
    upstream_timeout = c.get(upstream, ("upstream", "default_timeout"), UpstreamSettings.default_timeout,
                             _positive_number)

    return Settings(
        default_timeout=float(default_timeout),
        default_concurrency=int(default_concurrency),
        max_body_size=int(max_body_size),
        shutdown_grace=float(shutdown_grace),
        outbound_allow=(outbound_allow,) if isinstance(outbound_allow, str) else tuple(outbound_allow),
        template_cpu_seconds=float(template_cpu),
        default_process_concurrency=int(process_concurrency),
        worker_memory_limit=int(memory_limit),
        worker_idle_timeout=float(idle_timeout),
        loop_lag_warning=float(loop_lag),
        idle_timeout=float(idle),
        body_timeout=float(body_timeout),
        max_connections=int(max_connections),
        max_bodies_in_memory=int(max_bodies),
        misp=MispConnection(url=url, key=key, verify_tls=verify, timeout=float(misp_timeout)),
        services=dict(services),
        modules=modules,
        upstream=UpstreamSettings(prefer=tuple(prefer), default_timeout=float(upstream_timeout)),
        source=path,
    )
