"""How one module talks HTTP: timeouts, the 429 retry budget, TLS trust and where it may connect,
from the deployment's settings (``[modules.<name>]``, ``[server]``).

Every session comes from :meth:`HttpPolicy.session`, so no call can go out without a timeout,
and a module whose URL comes from a node's params (``gated``) cannot reach an address the
deployment did not allow (:mod:`misp_modules.lib.http.egress`) -- its redirects included, with
credentials dropped when a redirect leaves the URL's origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import requests

from misp_modules.lib.http.egress import EgressRules, GuardedAdapter
from misp_modules.settings import SettingsError, get_settings

DEFAULT_TIMEOUT = 5.0  # keeps a MISP-facing call inside MISP's 10 s Plugin.Action_timeout
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_WAIT = 5.0
MAX_REDIRECTS = 10  # MISP's SyncTool client
# What a redirect to another origin must not carry: requests drops Authorization itself.
ALWAYS_CREDENTIALS = ("Authorization", "Proxy-Authorization", "Cookie")


@dataclass(frozen=True)
class HttpPolicy:
    """Per-request timeout, 429 retry budget, TLS trust, and the egress rules (None: the
    destination comes from the deployment's own settings and is trusted)."""

    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT  # a longer Retry-After fails at once
    verify: bool | str = True  # True, or the path of a CA bundle
    egress: EgressRules | None = field(default=None, compare=False)

    @classmethod
    def for_module(cls, module: str, *, timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES,
                   gated: bool = False) -> HttpPolicy:
        """The policy from ``[modules.<module>]`` (``request_timeout``, ``max_retries``,
        ``max_retry_wait``, ``ca_bundle``, ``outbound_allow``) and ``[server] outbound_allow``.
        ``gated``: the module's URLs come from node params, so egress rules apply."""
        settings = get_settings()
        return cls(
            timeout=settings.module_number(module, "request_timeout", timeout, minimum=0.001),
            max_retries=int(settings.module_number(module, "max_retries", max_retries, whole=True)),
            max_retry_wait=settings.module_number(module, "max_retry_wait", DEFAULT_MAX_RETRY_WAIT),
            verify=_ca_bundle(module),
            egress=egress_rules(module) if gated else None,
        )

    def session(self, credential_headers: Iterable[str] = ()) -> requests.Session:
        """A ``requests`` session that follows this policy. ``credential_headers``: header names
        (besides Authorization and cookies) that must not follow a redirect to another origin."""
        session = _Session(credential_headers)
        session.max_redirects = MAX_REDIRECTS
        session.verify = self.verify
        if self.egress is not None:
            adapter = GuardedAdapter(self.egress)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        return session


def egress_rules(module: str) -> EgressRules:
    """``[server] outbound_allow`` plus ``[modules.<module>] outbound_allow``."""
    settings = get_settings()
    own = settings.module_setting(module, "outbound_allow", [])
    own = [own] if isinstance(own, str) else list(own)  # the loader checked the entries
    return EgressRules.from_entries([*settings.outbound_allow, *own],
                                    f"[modules.{module}] outbound_allow or [server] outbound_allow")


def _ca_bundle(module: str) -> bool | str:
    value = get_settings().module_setting(module, "ca_bundle", None)
    if value in (None, ""):
        return True
    if not isinstance(value, str):
        raise SettingsError(f"setting [modules.{module}] ca_bundle must be a file path, not {value!r}")
    return value


class _Session(requests.Session):
    """requests drops ``Authorization`` when a redirect changes host; this also drops cookies
    and the caller's own credential headers (``X-Api-Key: ...`` in a webhook's headers)."""

    def __init__(self, credential_headers: Iterable[str]) -> None:
        super().__init__()
        self.credential_headers = tuple({*ALWAYS_CREDENTIALS, *credential_headers})

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in self.credential_headers:
                prepared_request.headers.pop(name, None)
            prepared_request.prepare_cookies(requests.cookies.RequestsCookieJar())
        super().rebuild_auth(prepared_request, response)


