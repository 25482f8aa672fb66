"""Mattermost: REST API v4 with a bot token, or an incoming webhook (docs/external-services.md §1).

Plain ``requests`` rather than ``mattermostdriver``: we need two endpoints, and the driver has
no HTTP timeout by default, only JSON-decodes a response whose content type is exactly
``application/json`` (``login()`` silently keeps no user otherwise), and upstream logged in on
every call. Here the token is verified once (``GET /users/me``) per server and token, and the
verified session is reused until the server rejects the token.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from misp_modules.contract.request import ParamError
from misp_modules.lib.http import HttpPolicy, failure, send_with_retry, status_failure, target_of
from misp_modules.lib.notify.text import split_text

SERVICE = "Mattermost"
MAX_POST_LENGTH = 16383  # characters of a post on Mattermost >= 5.0; longer messages are split
_API = "/api/v4"


def server_url(hostname: str) -> str:
    """The server's base URL from whatever users type: ``chat.example.org``,
    ``chat.example.org:8065``, ``http://10.0.0.5:8065``, ``https://example.org/mattermost/``,
    even a pasted ``.../api/v4``. No scheme means https; the port is kept only when given."""
    text = hostname.strip()
    if not text:
        raise ParamError("param `mattermost_hostname` is empty: set the Mattermost server address")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for an unclosed bracket
        raise ParamError(f"param `mattermost_hostname`: {hostname!r} is not a server address ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ParamError(f"param `mattermost_hostname`: {hostname!r} is not a server address "
                         "(expected e.g. chat.example.org, chat.example.org:8065 or https://example.org/mattermost)")
    try:
        port = parts.port
    except ValueError:
        raise ParamError(f"param `mattermost_hostname`: invalid port in {hostname!r}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port in (None, 443 if scheme == "https" else 80) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if path.lower().endswith(_API):
        path = path[: -len(_API)]
    return f"{scheme}://{netloc}{path}"


@dataclass
class _Client:
    """A session whose token the server accepted (``GET /users/me``)."""

    session: requests.Session
    base: str
    user: dict[str, Any]


_lock = threading.Lock()
_clients: dict[tuple[str, str, bool | str, object], _Client] = {}


def _key(base: str, token: str, policy: HttpPolicy) -> tuple[str, str, bool | str, object]:
    return base, hashlib.sha256(token.encode()).hexdigest(), policy.verify, policy.egress


def client(base: str, token: str, policy: HttpPolicy) -> _Client:
    """The verified client for this server and token, verifying the token on first use."""
    key = _key(base, token, policy)
    with _lock:
        cached = _clients.get(key)
    if cached is not None:
        return cached
    session = policy.session()
    session.headers["Authorization"] = f"Bearer {token}"
    target = target_of(base)
    response = send_with_retry(
        lambda: session.get(base + _API + "/users/me", timeout=policy.timeout),
        policy, service=SERVICE, target=target, secrets=[token])
    if response.status_code != 200:
        session.close()
        raise status_failure(response, service=SERVICE, target=target, secrets=[token], meanings={
            401: f"{target} rejected the bot access token",
            404: f"{target} has no Mattermost API at {_API} (check mattermost_hostname)",
        })
    try:
        user = response.json()
    except ValueError:
        user = None
    if not isinstance(user, dict) or "id" not in user:
        session.close()
        raise failure(f"{SERVICE}: {target} did not answer like a Mattermost server "
                      f"(GET {_API}/users/me gave no user; check mattermost_hostname)", [token])
    with _lock:
        cached = _clients.setdefault(key, _Client(session, base, user))
    if cached.session is not session:
        session.close()
    return cached


def forget(base: str, token: str, policy: HttpPolicy) -> None:
    """Drop a cached client (its token was rejected since it was verified)."""
    with _lock:
        dropped = _clients.pop(_key(base, token, policy), None)
    if dropped is not None:
        dropped.session.close()


def post(base: str, token: str, channel_id: str, message: str, policy: HttpPolicy) -> list[str]:
    """Post ``message`` to ``channel_id`` (split into several posts if needed); the post ids."""
    target = target_of(base)
    ids = []
    for chunk in split_text(message, MAX_POST_LENGTH):
        api = client(base, token, policy)
        response = send_with_retry(
            lambda: api.session.post(base + _API + "/posts", json={"channel_id": channel_id, "message": chunk},
                                     timeout=policy.timeout),
            policy, service=SERVICE, target=target, secrets=[token])
        if response.status_code == 401:
            forget(base, token, policy)
        if not 200 <= response.status_code < 300:
            raise status_failure(response, service=SERVICE, target=target, secrets=[token], meanings={
                400: f"{target} refused the post to channel {channel_id}",
                401: f"{target} no longer accepts the bot access token",
                403: f"the bot may not post in channel {channel_id} (is it a member of the channel?)",
                404: f"channel {channel_id} not found",
            })
        try:
            ids.append(str(response.json().get("id", "")))
        except (ValueError, AttributeError):
            ids.append("")
    return ids


def post_webhook(url: str, message: str, policy: HttpPolicy, *, channel: str = "", username: str = "") -> None:
    """Post through an incoming webhook URL (the URL is the credential). Mattermost splits
    overlong text itself."""
    payload: dict[str, Any] = {"text": message}
    if channel:
        payload["channel"] = channel
    if username:
        payload["username"] = username
    target = target_of(url)
    with policy.session() as session:
        response = send_with_retry(lambda: session.post(url, json=payload, timeout=policy.timeout),
                                   policy, service=SERVICE, target=target, secrets=[url])
    if not 200 <= response.status_code < 300:
        raise status_failure(response, service=SERVICE, target=target, secrets=[url], meanings={
            400: "the incoming webhook refused the message",
            404: "incoming webhook not found (check the webhook URL)",
            501: "incoming webhooks are disabled on this server",
        })
