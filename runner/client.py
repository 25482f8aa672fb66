"""HTTP to the module server: pooled keep-alive connections, a timeout on every call.

MISP counts a module server that is down, slow or answering garbage as a *successful* node
(spec §11.2 step 7). The runner does not: :class:`ModuleCallError` carries the reason and the
executor turns it into a node error.
"""

from __future__ import annotations

from typing import Any

import orjson
import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from runner.jsonio import dumps

DEFAULT_URL = "http://127.0.0.1:6666"
DEFAULT_TIMEOUT = 10.0  # MISP's Plugin.Action_timeout
MODULES_TIMEOUT = 5.0   # MISP uses 1 s for /modules; a cold server may need more


class ModuleCallError(RuntimeError):
    """The module server could not be asked or answered something unusable."""


class ModuleClient:
    """One pool of keep-alive connections to one module server; safe to share between threads."""

    def __init__(self, base_url: str = DEFAULT_URL, timeout: float = DEFAULT_TIMEOUT, pool_size: int = 8) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=pool_size, block=False, retries=False,
                                         headers={"Content-Type": "application/json", "Connection": "keep-alive"})

    def modules(self, timeout: float = MODULES_TIMEOUT) -> list:
        """``GET /modules``: the server's module list."""
        body = self._request("GET", "/modules", None, timeout)[0]
        if not isinstance(body, list):
            raise ModuleCallError(f"{self.base_url}/modules did not answer a JSON list")
        return body

    def query(self, body: dict, timeout: float | None = None) -> tuple[Any, float | None]:
        """``POST /query``: ``(decoded answer, module seconds reported by the server or None)``."""
        return self._request("POST", "/query", dumps(body), timeout)

    def query_bytes(self, payload: bytes, timeout: float | None = None) -> tuple[Any, float | None]:
        return self._request("POST", "/query", payload, timeout)

    def _request(self, method: str, path: str, payload: bytes | None, timeout: float | None) -> tuple[Any, float | None]:
        url = self.base_url + path
        limit = self.timeout if timeout is None else timeout
        try:
            resp = self._pool.request(method, url, body=payload,
                                      timeout=urllib3.Timeout(connect=min(limit, 5.0), read=limit),
                                      preload_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            raise ModuleCallError(f"the module server at {self.base_url} did not answer within {limit:g} s") from None
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            raise ModuleCallError(f"cannot connect to the module server at {self.base_url}") from None
        except Urllib3Error as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ModuleCallError(f"error talking to the module server at {self.base_url}: {reason}") from None
        if resp.status != 200:
            raise ModuleCallError(f"the module server answered HTTP {resp.status} to {method} {path}: "
                                  f"{_snippet(resp.data)}")
        try:
            answer = orjson.loads(resp.data)
        except orjson.JSONDecodeError:
            raise ModuleCallError(f"the module server answered something that is not JSON: {_snippet(resp.data)}") from None
        return answer, _module_seconds(resp.headers)

    def close(self) -> None:
        self._pool.clear()


def _module_seconds(headers: Any) -> float | None:
    """The module's own time when the server reports it (``Server-Timing: module;dur=<ms>``)."""
    timing = headers.get("Server-Timing") if headers else None
    if not timing:
        return None
    for part in timing.split(","):
        name, _, rest = part.strip().partition(";")
        if name.strip() != "module":
            continue
        for attr in rest.split(";"):
            key, _, value = attr.strip().partition("=")
            if key == "dur":
                try:
                    return float(value) / 1000.0
                except ValueError:
                    return None
    return None


def _snippet(raw: bytes, limit: int = 200) -> str:
    text = raw.decode("utf-8", "replace").strip().replace("\n", " ")
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")
