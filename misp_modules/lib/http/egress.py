"""Which addresses an outbound request may reach: the server-side request forgery guard.

A MISP-facing module that takes its URL from a node's params (a webhook, a Mattermost or Teams
address) would otherwise let anyone who can edit a workflow, or whoever controls the event
content a URL template renders, make this server call its own ``/query``, a cloud metadata
endpoint or any host of the internal network. MISP's own webhook node is off unless
``Security.rest_client_enable_arbitrary_urls`` is set; here such modules are on, and gated:

- the host is resolved once and every connection goes to an address that was checked (the
  connection is pinned to it, so a second DNS answer cannot swap in another address; name
  spellings such as ``2130706433`` or ``0177.0.0.1`` are what the resolver makes of them);
- an address that is not globally routable (loopback, private, link-local, shared, reserved,
  documentation, unspecified) or is multicast is refused, IPv4-mapped IPv6 included, unless the
  deployment allow-lists it;
- every redirect hop goes through the same adapter, so it is checked the same way.

Allow-list entries (``[server] outbound_allow`` for every gated module, ``[modules.<name>]
outbound_allow`` for one): an address or network (``10.0.0.0/8``, ``::1``, ``192.0.2.5``) allows
connections to addresses in it; a host name (``chat.internal.example``) allows that name whatever
it resolves to; either may end in ``:port`` (``[::1]:8080`` for IPv6) to allow that port only.

requests-hardened pins and filters the same way but only knows "loopback allowed or not": a
deployment with an internal chat server needs networks and names, so this is our adapter.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(requests.exceptions.ConnectionError):
    """The target resolves only to addresses this deployment does not allow. The message names
    the kind of address and the setting that allows it, never the URL."""


@dataclass(frozen=True)
class _Entry:
    network: IPNetwork | None
    host: str | None
    port: int | None

    def allows(self, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host.lower().rstrip(".")
        return self.network is not None and address in self.network


def parse_entry(text: str) -> _Entry:
    """One allow-list entry; ``ValueError`` naming what is wrong."""
    raw = text.strip()
    if not raw:
        raise ValueError("an empty entry")
    host, port = raw, None
    if raw.startswith("["):  # [v6]:port or [v6]
        close = raw.find("]")
        if close < 0:
            raise ValueError(f"{text!r}: unclosed '['")
        host, rest = raw[1:close], raw[close + 1:]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"{text!r}: expected [address]:port")
            port = int(rest[1:])
    elif raw.count(":") == 1:  # name:port or v4:port (a bare IPv6 address has several colons)
        host, _, digits = raw.partition(":")
        if not digits.isdigit():
            raise ValueError(f"{text!r}: the port must be a number")
        port = int(digits)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{text!r}: port out of range")
    try:
        return _Entry(ipaddress.ip_network(host, strict=False), None, port)
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    if not name or any(c in name for c in "/ @"):
        raise ValueError(f"{text!r}: not an address, a network or a host name")
    return _Entry(None, name, port)


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, test in (("loopback", address.is_loopback), ("unspecified", address.is_unspecified),
                       ("link-local", address.is_link_local), ("multicast", address.is_multicast)):
        if test:
            return kind
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class EgressRules:
    """The allow-list of one module (server-wide entries included) and where it is set."""

    entries: tuple[_Entry, ...] = ()
    setting: str = "[server] outbound_allow"

    @classmethod
    def from_entries(cls, entries: Iterable[str], setting: str) -> EgressRules:
        parsed = []
        for entry in entries:
            try:
                parsed.append(parse_entry(str(entry)))
            except ValueError as exc:
                raise ValueError(f"setting {setting}: {exc}") from None
        return cls(tuple(parsed), setting)

    def pick(self, host: str, port: int, addresses: Iterable[IPAddress]) -> IPAddress:
        """The first resolved address a connection may go to; :class:`EgressRefused` if none."""
        reasons = []
        for address in addresses:
            reason = refusal_reason(address)
            if reason is None or any(e.allows(host, address, port) for e in self.entries):
                return address
            reasons.append(reason)
        kinds = ", ".join(dict.fromkeys(reasons)) or "no"
        raise EgressRefused(f"it resolves to a {kinds} address, which is not allowed here "
                            f"(allow-list it in {self.setting})")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host``, in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise requests.exceptions.ConnectionError(exc) from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos
            if info[0] in (socket.AF_INET, socket.AF_INET6)]


class GuardedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that connects only to addresses :class:`EgressRules` allow, pinned to
    the address it checked (TLS still verifies, and SNI still names, the URL's host)."""

    def __init__(self, rules: EgressRules, **kwargs: Any) -> None:
        self.rules = rules
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host = host_params["host"]
        scheme = host_params["scheme"]
        port = host_params["port"] or (443 if scheme == "https" else 80)
        address = self.rules.pick(host, port, resolve(host, port))
        # the Host header keeps the name (and port) of the URL; a copy, the caller's may be shared
        request.headers = CaseInsensitiveDict(request.headers or {})
        shown = f"[{host}]" if ":" in host else host
        request.headers["Host"] = shown if host_params["port"] is None else f"{shown}:{host_params['port']}"
        if scheme == "https":
            pool_kwargs["assert_hostname"] = host
            pool_kwargs["server_hostname"] = host
        host_params["host"] = str(address)
        return host_params, pool_kwargs
