"""The client of the module protocol (``GET /modules``, ``POST /query``, docs/contract.md):
the runner asks its module server for every node with it, and the enrichment nodes ask a
forward misp-modules server for the modules this one lacks.

Persistent keep-alive connections, a timeout on every call. One connection per thread (the
main walk, each concurrent branch), reused for every call: the per-node cost is what matters (a
workflow is many small calls) and ``http.client`` on a kept-alive socket is the cheapest
well-kept client in the standard library. A request that fails on a *reused* connection before
any answer arrived (the server closed the idle socket) is sent once more on a fresh connection;
nothing else is retried. Credentials in the URL (``http://user:pass@host``) are sent as HTTP
Basic authentication.

MISP counts a module server that is down, slow or answering garbage as a *successful* node
(docs/misp-behaviour.md §11.2 step 7). The runner does not: :class:`ModuleCallError` carries the
reason and the runner turns it into a node error.
"""

from __future__ import annotations

import base64
import http.client
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from misp_modules.contract.wire import dumps

DEFAULT_URL = "http://127.0.0.1:6666"
DEFAULT_TIMEOUT = 10.0  # MISP's Plugin.Action_timeout
MODULES_TIMEOUT = 5.0   # MISP uses 1 s for /modules; a cold server may need more
_HEADERS = {"Content-Type": "application/json"}
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_BIG_BODY = 8 * 1024 * 1024  # a reset while sending this much is a refused body, not an idle socket


def parse_base_url(url: str) -> tuple[bool, str, int, str]:
    """``(https, host, port, path prefix)`` of a server base URL (``http://`` when no scheme is
    given); :class:`ValueError` naming the problem for anything else."""
    expected = "expected http://host:port or https://host:port"
    if not isinstance(url, str) or not url.strip() or any(c.isspace() for c in url):
        raise ValueError(f"invalid URL {url!r}: {expected}")
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
        port = parts.port
    except ValueError as exc:  # an unclosed IPv6 bracket, a port that is not a number
        raise ValueError(f"invalid URL {url!r} ({exc}): {expected}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"invalid URL {url!r}: the scheme is {parts.scheme!r}; {expected}")
    if not parts.hostname:
        raise ValueError(f"invalid URL {url!r}: no host; {expected}")
    if port == 0:
        raise ValueError(f"invalid URL {url!r}: port 0; {expected}")
    if parts.query or parts.fragment:
        raise ValueError(f"invalid URL {url!r}: a base URL has no query or fragment; {expected}")
    https = parts.scheme == "https"
    return https, parts.hostname, port or (443 if https else 80), parts.path.rstrip("/")


class ModuleCallError(RuntimeError):
    """The module server could not be asked or answered something unusable."""


class ModuleClient:
    """Calls to one module server; safe to share between threads (one connection each).

    Messages call it ``name`` at ``shown`` ("the module server at <url> did not answer ..."):
    a caller whose URL comes from the settings passes it without its credentials."""

    def __init__(self, base_url: str = DEFAULT_URL, timeout: float = DEFAULT_TIMEOUT, *,
                 name: str = "the module server", shown: str | None = None) -> None:
        try:
            self._https, self._host, self._port, self._prefix = parse_base_url(base_url)
        except ValueError as exc:
            raise ModuleCallError(str(exc)) from None
        self.base_url = (shown or base_url).rstrip("/")
        self.name = name
        self._headers = dict(_HEADERS)
        parts = urlsplit(base_url if "://" in base_url else "http://" + base_url)
        if parts.username is not None or parts.password is not None:
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def modules(self, timeout: float = MODULES_TIMEOUT) -> list[Any]:
        """``GET /modules``: the server's module list."""
        body = self._request("GET", "/modules", None, timeout)[0]
        if not isinstance(body, list):
            raise ModuleCallError(f"{self.base_url}/modules did not answer a JSON list")
        return body

    def query(self, body: dict[Any, Any], timeout: float | None = None) -> tuple[Any, float | None]:
        """``POST /query``: ``(decoded answer, module seconds reported by the server or None)``."""
        return self._request("POST", "/query", dumps(body), timeout)

    def query_bytes(self, payload: bytes | list[bytes], timeout: float | None = None) -> tuple[Any, float | None]:
        """``POST /query`` of an encoded body, or of its parts in order: a large roaming data is
        sent from its one encoding, never joined into a second copy."""
        return self._request("POST", "/query", payload, timeout)

    # -- transport --------------------------------------------------------------------------
    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            if conn.timeout != timeout:  # settimeout costs ~20 µs: only when it changes
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
            return conn, True
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=timeout)
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _request(self, method: str, path: str, payload: bytes | list[bytes] | None,
                 timeout: float | None) -> tuple[Any, float | None]:
        limit = self.timeout if timeout is None else timeout
        headers = self._headers
        size = 0
        if isinstance(payload, list):
            size = sum(len(p) for p in payload)
            headers = {**self._headers, "Content-Length": str(size)}
        elif payload is not None:
            size = len(payload)
        for attempt in (0, 1):
            conn, reused = self._connection(limit)
            try:
                conn.request(method, self._prefix + path, body=payload, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except _STALE as exc:
                answered = self._answer_after_reset(conn)  # the server may have refused the body first
                self._drop()
                if answered is not None:
                    resp, raw = answered
                    break
                if reused and attempt == 0:
                    continue  # the server closed the idle connection: once more, on a new one
                if size >= _BIG_BODY:
                    raise ModuleCallError(
                        f"{self.name} at {self.base_url} closed the connection while receiving a "
                        f"{_megabytes(size)} request ({exc}): most likely more than its limit, the server "
                        f"setting max_body_size (default 64 MiB); raise [server] max_body_size in its "
                        f"settings") from None
                raise ModuleCallError(f"{self.name} at {self.base_url} closed the connection: {exc}") from None
            except TimeoutError:
                self._drop()
                raise ModuleCallError(f"{self.name} at {self.base_url} did not answer within {limit:g} s") from None
            except ConnectionRefusedError:
                self._drop()
                raise ModuleCallError(f"cannot connect to {self.name} at {self.base_url} "
                                      "(connection refused)") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise ModuleCallError(f"error talking to {self.name} at {self.base_url}: "
                                      f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}") from None
            if resp.will_close:
                self._drop()
            break
        if resp.status == 413:
            raise ModuleCallError(f"{self.name} refused the {_megabytes(size)} request as too large "
                                  f"({_snippet(raw)}); raise its limit, the server setting [server] max_body_size")
        if resp.status != 200:
            raise ModuleCallError(f"{self.name} answered HTTP {resp.status} to {method} {path}: {_snippet(raw)}")
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ModuleCallError(f"{self.name} answered something that is not JSON: {_snippet(raw)}") from None
        return answer, _module_seconds(resp.getheader("Server-Timing"))

    @staticmethod
    def _answer_after_reset(conn: http.client.HTTPConnection) -> tuple[http.client.HTTPResponse, bytes] | None:
        """The answer a server sent before it stopped reading our body (a 413 for a body over
        its limit), when it is still readable; None otherwise."""
        try:
            resp = conn.getresponse()
            return resp, resp.read()
        except (OSError, http.client.HTTPException):
            return None

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def _module_seconds(timing: str | None) -> float | None:
    """The module's own time when the server reports it (``Server-Timing: module;dur=<ms>``)."""
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


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size:,}-byte"


def _snippet(raw: bytes, limit: int = 200) -> str:
    text = raw.decode("utf-8", "replace").strip().replace("\n", " ")
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")
