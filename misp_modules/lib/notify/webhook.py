"""MISP's generic webhook (``Module_webhook``, docs/external-services.md §6, docs/misp-behaviour.md §10.2).

Shared by the runner-only ``webhook`` / ``ms-teams-webhook`` nodes (MISP's exact behaviour and
error strings) and the MISP-facing ``http_webhook`` module (same request, our templates, TLS
CA bundle, bounded 429 retry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import requests

from misp_modules.lib.http import HttpPolicy, send_with_retry, shorten, target_of, transport_reason
from misp_modules.lib.redact import redact
from misp_modules.semantics import php

METHODS = ("post", "get", "put", "delete")
CONTENT_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
USER_AGENT = "MISP (misp-modules-ng workflow node)"

# MISP's result wording (misp-behaviour.md §10.2).
BODY_QUOTE_LIMIT = 1000  # characters of a failed answer's body quoted in the error
AUTH_FAILED = "Authentication failed."
NO_URL = "URL not provided."
ARBITRARY_URLS_OFF = "`Security.rest_client_enable_arbitrary_urls` is turned off"


def parse_headers(text: str) -> dict[str, str]:
    """One ``Name: value`` per line, split at the first ``:``, trimmed; other lines ignored."""
    headers: dict[str, str] = {}
    for line in (text or "").split("\n"):
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        if name.strip():
            headers[name.strip()] = value.strip()
    return headers


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def http_build_query(data: Any, prefix: str = "") -> str:
    """PHP's ``http_build_query`` (nested keys ``a[b][0]``, ``true``→1, ``false``→0, null skipped)."""
    pairs: list[str] = []
    for key, value in php.iter_items(data):
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, (dict, list)):
            nested = http_build_query(value, name)
            if nested:
                pairs.append(nested)
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        pairs.append(f"{quote_plus(name)}={quote_plus(php.to_string(value))}")
    return "&".join(pairs)


def encode_body(payload: Any, content_type: str) -> bytes:
    """MISP's body: ``json`` re-encodes a string payload that parses as JSON and otherwise sends
    it as a JSON string literal; ``form`` sends a string as-is and form-encodes a structure."""
    if content_type == "form":
        text = payload if isinstance(payload, str) else http_build_query(payload)
        return text.encode("utf-8")
    if isinstance(payload, str):
        try:
            payload = php.loads(payload)
        except ValueError:
            pass
    return php.dumps(payload).encode("utf-8")


@dataclass
class WebhookCall:
    """One webhook request, as MISP's node builds it."""

    url: str
    method: str = "post"
    content_type: str = "json"
    payload: Any = ""
    headers: Mapping[str, str] | None = None
    allow_self_signed: bool = False

    def request_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": USER_AGENT}
        # http.client encodes str header values as latin-1; MISP (curl) sends the UTF-8 bytes
        headers.update({name: value if _latin1(value) else value.encode("utf-8")
                        for name, value in (self.headers or {}).items()})
        if self.content_type == "form":
            headers["Content-Type"] = CONTENT_TYPES["form"]
        return headers

    def body(self) -> bytes | None:
        return None if self.method == "get" else encode_body(self.payload, self.content_type)

    def secrets(self) -> list[str]:
        """What the call's configuration holds that must never be shown: the URL (its path and
        query may be the credential) and every custom header value."""
        return [self.url, *(self.headers or {}).values()]


def send(call: WebhookCall, policy: HttpPolicy, *, retry: bool = True) -> requests.Response:
    """Send ``call``. ``retry=False`` (MISP's nodes): one attempt, transport errors raised as
    ``requests`` exceptions for :func:`misp_transport_error`; else :func:`send_with_retry`."""
    verify = False if call.allow_self_signed else policy.verify
    # every custom header is a credential as far as redirects go: none follows one to another origin
    session = policy.session(credential_headers=call.headers or ())

    def attempt() -> requests.Response:
        return session.request(call.method.upper(), call.url, data=call.body(), headers=call.request_headers(),
                               timeout=policy.timeout, verify=verify)

    try:
        if not retry:
            return attempt()
        return send_with_retry(attempt, policy, service="Webhook", target=target_of(call.url),
                               secrets=call.secrets())
    finally:
        session.close()


def misp_result(response: requests.Response, call: WebhookCall) -> tuple[bool, str | None]:
    """MISP's reading of the answer: 200-206 ok; 401/403 "Authentication failed."; else the body,
    in MISP's words. Deviation: MISP quotes the whole body; a service may echo the URL's secret
    or a header value back, so those are masked and the quote is bounded (BODY_QUOTE_LIMIT)."""
    if 200 <= response.status_code <= 206:
        return True, None
    if response.status_code in (401, 403):
        return False, AUTH_FAILED
    body = shorten(response.text, BODY_QUOTE_LIMIT)
    return False, redact("Something went wrong with the request or the remote side is having issues. "
                         f"Body returned: {body}", [s for s in call.secrets() if s])


def misp_transport_error(exc: requests.RequestException) -> str:
    """MISP's wording for a failed send, with a reason that does not repeat the URL."""
    reason = "timed out" if isinstance(exc, requests.Timeout) else transport_reason(exc)
    return f"Something went wrong while sending the request. Error returned: {reason}"
