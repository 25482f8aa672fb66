"""The one outbound HTTP kit: every module that calls a service goes through it.

- :mod:`.policy`: :class:`HttpPolicy` per module from the settings (timeouts, 429 budget, TLS
  trust) and the sessions that follow it;
- :mod:`.egress`: where a module whose URL comes from node params may connect (the SSRF guard);
- :mod:`.retry`: one call with bounded retry on 429;
- :mod:`.errors`: :class:`OutboundError` and wording that never shows a credential;
- :mod:`.upstream`: hardening the sessions that upstream client libraries own.
"""

from misp_modules.lib.http.egress import EgressRefused, EgressRules
from misp_modules.lib.http.errors import (
    OutboundError,
    api_message,
    failure,
    public_url,
    shorten,
    status_failure,
    target_of,
    transport_reason,
)
from misp_modules.lib.http.policy import HttpPolicy
from misp_modules.lib.http.retry import rate_limited, retry_after, send_with_retry

__all__ = ["EgressRefused", "EgressRules", "HttpPolicy", "OutboundError", "api_message", "failure", "public_url",
           "rate_limited", "retry_after", "send_with_retry", "shorten", "status_failure", "target_of",
           "transport_reason"]
