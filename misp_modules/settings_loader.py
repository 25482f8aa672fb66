"""Parse and validate the deployment config file (TOML) and its environment overrides.

Provisional minimal version; the server work (issue 2) hardens validation and documents keys.
"""

from __future__ import annotations

import tomllib
from typing import Any, Mapping

from misp_modules.settings import MispConnection, Settings, SettingsError


def load(path: str | None, environ: Mapping[str, str]) -> Settings:
    raw: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read config file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: invalid TOML: {exc}") from None
    server = raw.get("server", {})
    misp = dict(raw.get("misp", {}))
    if environ.get("MISP_URL"):
        misp["url"] = environ["MISP_URL"]
    if environ.get("MISP_KEY"):
        misp["key"] = environ["MISP_KEY"]
    return Settings(
        default_timeout=float(server.get("default_timeout", 30.0)),
        default_concurrency=int(server.get("default_concurrency", 8)),
        max_body_size=int(server.get("max_body_size", 64 * 1024 * 1024)),
        misp=MispConnection(
            url=misp.get("url"),
            key=misp.get("key"),
            verify_tls=misp.get("verify_tls", True),
            timeout=float(misp.get("timeout", 30.0)),
        ),
        services=dict(raw.get("services", {})),
        modules={k: dict(v) for k, v in raw.get("modules", {}).items()},
        source=path,
    )
