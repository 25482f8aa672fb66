"""One HTTP call, retried while the service asks for a short wait (HTTP 429), and every
transport failure turned into an :class:`OutboundError` that names no credential."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Mapping

import requests

from misp_modules.lib.http.errors import api_message, failure, json_body, transport_reason
from misp_modules.lib.http.policy import HttpPolicy


def send_with_retry(attempt: Callable[[], requests.Response], policy: HttpPolicy, *, service: str, target: str,
                    secrets: Iterable[str] = (), sleep: Callable[[float], None] = time.sleep) -> requests.Response:
    """Run ``attempt`` (one HTTP call made with ``policy.timeout``) and retry it on HTTP 429 as
    long as the service asks for a wait within budget. Returns the first non-429 response;
    raises :class:`OutboundError` for transport failures and exhausted rate limits."""
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
    body = json_body(response)
    if isinstance(body, Mapping):
        for holder in (body.get("parameters"), body):
            if isinstance(holder, Mapping) and isinstance(holder.get("retry_after"), int | float):
                return max(0.0, float(holder["retry_after"]))
    return default
