"""HTTP for notification modules: explicit timeouts, bounded retry on 429, clear errors.

``requests`` has no default timeout and its exception messages contain the full URL, which for
these services holds the credential (Telegram ``/bot<token>/``, Mattermost ``/hooks/<id>``,
Teams ``sig=``). So every call goes through :func:`send_with_retry`, which always passes a
timeout and turns transport failures into messages naming only the scheme, host and port.
"""

from __future__ import annotations

import email.utils
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from misp_modules.lib.notify.errors import NotifyError, failure
from misp_modules.settings import get_settings

DEFAULT_TIMEOUT = 5.0  # keeps a MISP-facing call inside MISP's 10 s Plugin.Action_timeout
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_WAIT = 5.0
_DETAIL_LIMIT = 300


@dataclass(frozen=True)
class HttpPolicy:
    """How one module talks HTTP: per-request timeout, 429 retry budget, TLS trust."""

    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT  # a longer Retry-After fails at once
    verify: bool | str = True  # True, or the path of a CA bundle

    @classmethod
    def for_module(cls, module: str, *, timeout: float = DEFAULT_TIMEOUT,
                   max_retries: int = DEFAULT_MAX_RETRIES) -> HttpPolicy:
        """The policy from ``[modules.<module>]``: ``request_timeout``, ``max_retries``,
        ``max_retry_wait``, ``ca_bundle``."""
        return cls(
            timeout=_setting_number(module, "request_timeout", timeout, minimum=0.001),
            max_retries=int(_setting_number(module, "max_retries", max_retries, minimum=0)),
            max_retry_wait=_setting_number(module, "max_retry_wait", DEFAULT_MAX_RETRY_WAIT, minimum=0),
            verify=_setting_ca_bundle(module),
        )


def setting(module: str, key: str, default: Any = None) -> Any:
    """A deployment setting of ``[modules.<module>]``."""
    return get_settings().module_setting(module, key, default)


def _setting_number(module: str, key: str, default: float, *, minimum: float) -> float:
    value = setting(module, key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise NotifyError(f"setting [modules.{module}] {key} must be a number >= {minimum:g}, not {value!r}")
    return float(value)


def _setting_ca_bundle(module: str) -> bool | str:
    value = setting(module, "ca_bundle", None)
    if value in (None, ""):
        return True
    if not isinstance(value, str):
        raise NotifyError(f"setting [modules.{module}] ca_bundle must be a file path, not {value!r}")
    return value


def target_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: what error messages may show of it (paths and query
    strings of these services carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme or 'http'}://{host}{port}"


def send_with_retry(
    attempt: Callable[[], requests.Response],
    policy: HttpPolicy,
    *,
    service: str,
    target: str,
    secrets: Iterable[str] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> requests.Response:
    """Run ``attempt`` (one HTTP call, made with ``policy.timeout``) and retry it on HTTP 429 as
    long as the service asks for a wait within budget. Returns the first non-429 response;
    raises :class:`NotifyError` for transport failures and exhausted rate limits."""
    retries = 0
    while True:
        try:
            response = attempt()
        except requests.Timeout:
            raise failure(f"{service}: no answer from {target} within {policy.timeout:g} s", secrets) from None
        except requests.RequestException as exc:
            raise failure(f"{service}: cannot reach {target}: {transport_reason(exc)}", secrets) from None
        if response.status_code != 429:
            return response
        wait = retry_after(response)
        if retries >= policy.max_retries or wait > policy.max_retry_wait:
            raise failure(rate_limited(service, target, wait, retries, detail=api_message(response)), secrets)
        retries += 1
        sleep(wait)


def rate_limited(service: str, target: str, wait: float, retries: int, detail: str = "") -> str:
    """The message for a rate limit we gave up on."""
    tried = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
    reason = f"{detail}; " if detail else ""
    return (f"{service}: rate limited by {target} (HTTP 429: {reason}retry after {wait:g} s){tried}; "
            "the message was not sent")


def retry_after(response: requests.Response, default: float = 1.0) -> float:
    """Seconds to wait before retrying a 429: ``Retry-After`` (seconds or HTTP date), else a
    JSON ``retry_after`` (Telegram puts it in ``parameters``), else ``default``."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    body = _json(response)
    if isinstance(body, Mapping):
        for holder in (body.get("parameters"), body):
            if isinstance(holder, Mapping) and isinstance(holder.get("retry_after"), (int, float)):
                return max(0.0, float(holder["retry_after"]))
    return default


def status_failure(
    response: requests.Response,
    *,
    service: str,
    target: str,
    secrets: Iterable[str] = (),
    meanings: Mapping[int, str] | None = None,
) -> NotifyError:
    """A :class:`NotifyError` for an unsuccessful HTTP status, with the service's own message.

    ``meanings`` lets a service say what a status means for it (e.g. Telegram 400 "chat not
    found" vs Mattermost 403 "bot is not a member of the channel")."""
    code = response.status_code
    meaning = (meanings or {}).get(code) or _GENERIC_MEANINGS.get(code)
    if meaning is None:
        meaning = f"server error at {target}" if code >= 500 else "request rejected"
    detail = api_message(response)
    return failure(f"{service}: {meaning} (HTTP {code}{': ' + detail if detail else ''})", secrets)


_GENERIC_MEANINGS = {
    401: "authentication failed: check the token",
    403: "permission denied",
    404: "not found",
    413: "message too large",
}


def api_message(response: requests.Response) -> str:
    """The human part of an error body: JSON ``message`` (Mattermost), ``description``
    (Telegram), ``error.message`` (Power Automate), else the text, shortened."""
    body = _json(response)
    text = None
    if isinstance(body, Mapping):
        error = body.get("error")
        for candidate in (body.get("message"), body.get("description"),
                          error.get("message") if isinstance(error, Mapping) else error):
            if isinstance(candidate, str) and candidate.strip():
                text = candidate
                break
    if text is None:
        text = response.text if response.content else ""
    return shorten(text)


def shorten(text: str, limit: int = _DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def transport_reason(exc: BaseException) -> str:
    """Why a connection failed, in words and without the URL (``requests``/``httpx``/urllib3
    messages embed it). Walks the exception chain for the underlying OS/TLS error."""
    for err in _chain(exc):
        if isinstance(err, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed ({err.verify_message or 'untrusted certificate'})"
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, socket.gaierror) or type(err).__name__ == "NameResolutionError":
            return "the host name could not be resolved"
        if isinstance(err, ConnectionResetError):
            return "connection reset by the server"
    for err in _chain(exc):
        if isinstance(err, ssl.SSLError):
            return f"TLS error ({err.reason or 'handshake failed'})"
    for err in _chain(exc):
        if isinstance(err, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
            return "the server sent a broken response"
        if type(err).__name__ in ("RemoteDisconnected", "RemoteProtocolError", "ProtocolError"):
            return "the server closed the connection without answering"
    return f"connection failed ({type(exc).__name__})"


def _chain(exc: BaseException, _seen: set[int] | None = None):
    """The exception, its causes/contexts, wrapped ``reason`` attributes and exception args."""
    seen = _seen if _seen is not None else set()
    if exc is None or id(exc) in seen:
        return
    seen.add(id(exc))
    yield exc
    nested = [getattr(exc, "reason", None), exc.__cause__, exc.__context__]
    nested += [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
    for inner in nested:
        if isinstance(inner, BaseException):
            yield from _chain(inner, seen)
