"""Make an upstream client library's own ``requests`` session safe in a long-running server.

pyhashlookup, pybgpranking2 and pyipasnhistory each own a ``requests.Session`` and call it without
a timeout and (except for IP ASN History's retry adapter, mounted on http:// only) without looking
at the HTTP status. :func:`harden` configures that session through requests' own extension
points, so every call the library makes:

- has a timeout (connect and read), whatever the library passes;
- retries connection failures and 502/503/504 the same way on http:// and https://, a bounded
  number of times, for any method (these lookups are idempotent);
- fails on any status the API does not use for answers (5xx, 429, ...) with :class:`BadStatus`,
  before the library tries to decode an HTML error page as JSON.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry


class BadStatus(Exception):
    """A status the API does not answer with; the message says which, in words."""


class _TimeoutAdapter(HTTPAdapter):
    """An adapter that applies ``timeout`` to every request that does not set its own."""

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        self._timeout = timeout
        super().__init__(**kwargs)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: D401
        return super().send(request, stream=stream, timeout=self._timeout if timeout is None else timeout,
                            verify=verify, cert=cert, proxies=proxies)


def status_reason(response: requests.Response) -> str:
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After")
        hint = f", retry after {retry_after}s" if retry_after else ""
        return f"rate limited (HTTP 429{hint})"
    if response.status_code >= 500:
        return f"service error (HTTP {response.status_code})"
    return f"unexpected answer (HTTP {response.status_code})"


def harden(session: requests.Session, *, timeout: float, retries: int,
           answer_statuses: Collection[int] = (200,)) -> requests.Session:
    """Configure ``session`` (owned by an upstream client) in place; see the module docstring.
    ``answer_statuses`` are the statuses whose body is an API answer the library decodes
    (hashlookup answers 400/404 with JSON messages); any other raises :class:`BadStatus`."""
    retry = Retry(total=retries, connect=retries, read=False, status=retries, other=0,
                  backoff_factor=0.1, status_forcelist=(502, 503, 504), allowed_methods=None,
                  raise_on_status=False, respect_retry_after_header=False)
    adapter = _TimeoutAdapter(timeout, max_retries=retry, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    statuses = frozenset(answer_statuses)

    def check_status(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.status_code not in statuses:
            raise BadStatus(status_reason(response))
        return response

    session.hooks["response"] = [check_status]
    return session
