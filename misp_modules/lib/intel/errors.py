"""What can go wrong when asking a threat-intel service, split by who can do something about it.

- :class:`ServiceError`: the service itself failed (down, timeout, 5xx, rate limit, an answer
  that is not the API's). Nothing from that batch can be trusted: modules fail the whole call.
- :class:`LookupIssue` subclasses: one value could not be looked up (malformed hash, IP without
  routing history, ASN unknown to BGP Ranking). Batch modules note it and carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import requests

from misp_modules.lib.http import public_url
from misp_modules.lib.http.upstream import BadStatus

T = TypeVar("T")


class IntelError(Exception):
    """Base class; the message is meant for the MISP user and never contains secrets."""


class ServiceError(IntelError):
    """The service failed as a whole."""

    def __init__(self, service: str, reason: str) -> None:
        self.service = service
        self.reason = reason
        super().__init__(f"{service}: {reason}")


class LookupIssue(IntelError):
    """One value could not be looked up; the rest of a batch is unaffected."""


class InvalidValue(LookupIssue):
    """The value is not something the service can look up (malformed hash, not an IP, ...)."""


class NotFound(LookupIssue):
    """The service has no data for this value (IP never announced, ASN not ranked)."""


def guard(service: str, base_url: str, timeout: float, call: Callable[[], T]) -> T:
    """Run one client call (its session hardened by :func:`misp_modules.lib.http.upstream.harden`);
    every transport or decoding failure becomes a :class:`ServiceError` that names the service's
    base URL (credentials removed), never the library's raw exception text."""
    where = public_url(base_url)
    try:
        return call()
    except BadStatus as exc:
        raise ServiceError(service, f"{exc} from {where}") from None
    except requests.exceptions.JSONDecodeError:
        raise ServiceError(service, f"answer from {where} is not JSON") from None
    except requests.exceptions.Timeout:
        raise ServiceError(service, f"no answer from {where} within {timeout:g}s") from None
    except requests.exceptions.ConnectionError:
        raise ServiceError(service, f"cannot connect to {where}") from None
    except requests.exceptions.RequestException as exc:
        raise ServiceError(service, f"request to {where} failed ({type(exc).__name__})") from None
