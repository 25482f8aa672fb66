"""What an outbound call that went wrong says: one exception, and wording that never shows a
credential.

``requests``, ``httpx`` and urllib3 put the full URL in their exception messages, and the URLs
of these services hold the credential (Telegram ``/bot<token>/``, Mattermost ``/hooks/<id>``,
Teams ``sig=``, a webhook's path). So messages name only ``scheme://host:port``
(:func:`target_of`), say why in words (:func:`transport_reason`), quote at most a short,
redacted piece of the remote body (:func:`api_message`), and go through :func:`failure`.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from misp_modules.lib.http.egress import EgressRefused
from misp_modules.lib.redact import redact

DETAIL_LIMIT = 300


class OutboundError(Exception):
    """An outbound call (HTTP, SMTP) did not do its job. The message says why and is safe to
    show to MISP and to log: build it with :func:`failure`."""


def failure(message: str, secrets: Iterable[str] = ()) -> OutboundError:
    """An :class:`OutboundError` whose message has every known secret of the call masked."""
    return OutboundError(redact(message, [s for s in secrets if s]))


def target_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: all that messages may show of it."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme or 'http'}://{host}{port}"


def public_url(url: str) -> str:
    """``url`` without ``user:password@``, for the base URLs of configured services."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


_GENERIC_MEANINGS = {
    401: "authentication failed: check the token",
    403: "permission denied",
    404: "not found",
    413: "message too large",
}


def status_failure(response: requests.Response, *, service: str, target: str, secrets: Iterable[str] = (),
                   meanings: Mapping[int, str] | None = None) -> OutboundError:
    """An :class:`OutboundError` for an unsuccessful HTTP status, with the service's own message.
    ``meanings`` says what a status means for this service (Telegram 400 "chat not found",
    Mattermost 403 "bot is not a member of the channel")."""
    code = response.status_code
    meaning = (meanings or {}).get(code) or _GENERIC_MEANINGS.get(code)
    if meaning is None:
        meaning = f"server error at {target}" if code >= 500 else "request rejected"
    detail = api_message(response)
    return failure(f"{service}: {meaning} (HTTP {code}{': ' + detail if detail else ''})", secrets)


def api_message(response: requests.Response) -> str:
    """The human part of an error body: JSON ``message`` (Mattermost), ``description``
    (Telegram), ``error.message`` (Power Automate), else the text; shortened."""
    body = json_body(response)
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


def shorten(text: str, limit: int = DETAIL_LIMIT) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_body(response: requests.Response) -> Any:
    """The decoded JSON body, or None when there is none or it is not JSON."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def transport_reason(exc: BaseException) -> str:
    """Why a connection failed, in words and without the URL. Walks the exception chain for
    the underlying OS/TLS error."""
    for err in _chain(exc):
        if isinstance(err, EgressRefused):
            return str(err)
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
        if isinstance(err, requests.exceptions.TooManyRedirects):
            return "too many redirects"
        if isinstance(err, requests.exceptions.InvalidSchema):
            return "redirected to a URL that is not http(s)"
        if isinstance(err, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
            return "the server sent a broken response"
        if type(err).__name__ in ("RemoteDisconnected", "RemoteProtocolError", "ProtocolError"):
            return "the server closed the connection without answering"
    return f"connection failed ({type(exc).__name__})"


def _chain(exc: BaseException | None, _seen: set[int] | None = None) -> Iterator[BaseException]:
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
