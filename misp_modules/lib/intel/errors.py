"""What can go wrong when asking a threat-intel service, split by who can do something about it.

- :class:`ServiceError`: the service itself failed (down, timeout, 5xx, rate limit, an answer
  that is not the API's). Nothing from that batch can be trusted: modules fail the whole call.
- :class:`LookupIssue` subclasses: one value could not be looked up (malformed hash, IP without
  routing history, ASN unknown to BGP Ranking). Batch modules note it and carry on.
"""

from __future__ import annotations


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
