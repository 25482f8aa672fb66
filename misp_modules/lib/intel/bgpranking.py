"""CIRCL BGP Ranking (``pybgpranking2``) and IP ASN History (``pyipasnhistory``) clients.

Quirks handled here (docs/external-services.md §5.4):

- pybgpranking2 computes ``asns_global_ranking``'s default date at import time and lets the
  server pick "today" (not computed yet) when ``query`` gets no date. Every ranking query here
  passes a date computed per call: yesterday, UTC (:func:`yesterday`).
- pybgpranking2 joins ``/json/asn`` as an absolute path, dropping a mirror's path prefix
  (``https://proxy/bgp/`` → ``https://proxy/json/asn``); :class:`_PrefixSafeBGPRanking` sends the
  same request relative to the configured root.
- pyipasnhistory retries connection errors five times on http:// only and never on https://;
  :func:`~misp_modules.lib.http.upstream.harden` replaces that with one bounded policy for both.
- Neither library has a timeout or checks the HTTP status (also fixed by ``harden``).

Settings (``[modules.bgpranking]``, shared by the expansion and the curation action):
``http_timeout`` (seconds per HTTP request, default 2: an IP needs two requests and MISP's
attach-enrichment waits 5 s), ``retries`` (1), ``cache_ttl`` (seconds, 3600; 0 disables),
``parallel_requests`` (parallel requests in batches, 8). Base URLs: ``[services] bgpranking``,
``[services] ipasnhistory``.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from pybgpranking2 import PyBGPRanking
from pyipasnhistory import IPASNHistory

from misp_modules.lib.http.upstream import harden
from misp_modules.lib.intel.batch import map_bounded
from misp_modules.lib.intel.cache import MISS, TTLCache
from misp_modules.lib.intel.errors import InvalidValue, LookupIssue, NotFound, ServiceError, guard
from misp_modules.settings import get_settings

SERVICE = "bgpranking"
BGP_SERVICE = "BGP Ranking"
IPASN_SERVICE = "IP ASN History"
DEFAULT_BGP_URL = "https://bgpranking-ng.circl.lu/"
DEFAULT_IPASN_URL = "https://ipasnhistory.circl.lu/"
_ASN = re.compile(r"^(?:AS)?\s*(\d{1,10})$", re.IGNORECASE)


def yesterday() -> str:
    """The most recent day BGP Ranking has computed, as ``YYYY-MM-DD`` (UTC), fresh per call."""
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def parse_asn(value: Any) -> int:
    """``AS15169``, ``as15169``, ``15169`` or 15169 → 15169; anything else is an :class:`InvalidValue`."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**32:
        return value
    match = _ASN.match(value.strip()) if isinstance(value, str) else None
    if match is None or not 0 < int(match.group(1)) < 2**32:
        raise InvalidValue(f"{value!r} is not an AS number (expected AS<number> or <number>)")
    return int(match.group(1))


def parse_ip(value: Any) -> str:
    """The IP address in ``value`` (``ip-src|port`` values give their IP part)."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidValue(f"{value!r} is not an IP address") from None


@dataclass(frozen=True)
class AsnOrigin:
    """Where an IP was announced from, per the latest IP ASN History snapshot."""

    ip: str
    asn: int
    prefix: str
    seen: str  # snapshot timestamp


@dataclass(frozen=True)
class AsnRanking:
    """BGP Ranking's verdict on one ASN for one day (``position`` 1 = most malicious)."""

    asn: int
    description: str
    rank: float
    position: int | None
    total_known_asns: int | None
    date: str
    address_family: str

    @property
    def name(self) -> str:
        return self.description.rsplit(", ", 1)[0] if ", " in self.description else self.description

    @property
    def country(self) -> str | None:
        return self.description.rsplit(", ", 1)[1] if ", " in self.description else None


class _PrefixSafeBGPRanking(PyBGPRanking):
    """pybgpranking2's ``query`` with the endpoint joined relative to ``root_url``."""

    def query(self, asn: str, address_family: str = "v4", date: str | None = None, source: list | str = ""):
        to_query: dict[str, Any] = {"asn": asn, "address_family": address_family}
        if date:
            to_query["date"] = date
        if source:
            to_query["source"] = source
        return self.session.post(urljoin(self.root_url, "json/asn"), json=to_query).json()


@dataclass(frozen=True)
class BGPRankingConfig:
    bgp_url: str = DEFAULT_BGP_URL
    ipasn_url: str = DEFAULT_IPASN_URL
    timeout: float = 2.0
    retries: int = 1
    cache_ttl: float = 3600.0
    concurrency: int = 8

    @classmethod
    def from_settings(cls) -> BGPRankingConfig:
        settings = get_settings()
        return cls(
            bgp_url=settings.service_url("bgpranking", DEFAULT_BGP_URL),
            ipasn_url=settings.service_url("ipasnhistory", DEFAULT_IPASN_URL),
            timeout=settings.module_number(SERVICE, "http_timeout", cls.timeout, minimum=0.001),
            retries=settings.module_number(SERVICE, "retries", cls.retries, whole=True),
            cache_ttl=settings.module_number(SERVICE, "cache_ttl", cls.cache_ttl),
            concurrency=settings.module_number(SERVICE, "parallel_requests", cls.concurrency, whole=True, minimum=1),
        )


_cache = TTLCache()


class BGPRankingClient:
    """ASN rankings and IP → ASN resolution; thread-safe."""

    def __init__(self, config: BGPRankingConfig) -> None:
        self.config = config
        self._bgp = _PrefixSafeBGPRanking(config.bgp_url)
        self._ipasn = IPASNHistory(config.ipasn_url)
        for api in (self._bgp, self._ipasn):
            harden(api.session, timeout=config.timeout, retries=config.retries)

    def ranking(self, asn: Any, address_family: str = "v4", date: str | None = None) -> AsnRanking:
        """The ranking of ``asn`` on ``date`` (default: yesterday, UTC).

        :class:`NotFound` when BGP Ranking has nothing about the ASN (the removed upstream
        module's test: an empty answer or an empty description).
        """
        number = parse_asn(asn)
        day = date or yesterday()
        key = ("asn", self.config.bgp_url, number, address_family, day)
        cached = _cache.get(key, self.config.cache_ttl)
        if cached is MISS:
            answer = guard(BGP_SERVICE, self.config.bgp_url, self.config.timeout,
                           lambda: self._bgp.query(str(number), address_family=address_family, date=day))
            cached = self._interpret_ranking(number, address_family, day, answer)
            _cache.put(key, cached, self.config.cache_ttl)
        if isinstance(cached, NotFound):
            raise NotFound(str(cached))
        return cached

    @staticmethod
    def _interpret_ranking(number: int, address_family: str, day: str, answer: Any) -> AsnRanking | NotFound:
        if not isinstance(answer, dict):
            raise ServiceError(BGP_SERVICE, f"unexpected answer ({type(answer).__name__})")
        if answer.get("error"):
            raise ServiceError(BGP_SERVICE, f"refused the query for AS{number}: {answer['error']}")
        response = answer.get("response")
        if not response or not response.get("asn_description"):
            return NotFound(f"There is no result about AS{number} in BGP Ranking")
        ranking = response.get("ranking")
        description = response["asn_description"]
        if not isinstance(ranking, dict) or not isinstance(description, str):
            raise ServiceError(BGP_SERVICE, f"unexpected answer shape for AS{number}")
        meta = answer.get("meta") if isinstance(answer.get("meta"), dict) else {}
        position = ranking.get("position")
        try:
            return AsnRanking(
                asn=int(meta.get("asn", number)),
                description=description,
                rank=float(ranking.get("rank") or 0),
                position=None if position is None else int(position),
                total_known_asns=ranking.get("total_known_asns"),
                date=str(meta.get("date") or day),
                address_family=str(meta.get("address_family") or address_family),
            )
        except (TypeError, ValueError):
            raise ServiceError(BGP_SERVICE, f"unexpected values in the answer for AS{number}") from None

    def origin(self, ip: Any) -> AsnOrigin:
        """The ASN announcing ``ip`` in IP ASN History's latest snapshot.

        :class:`InvalidValue` for a non-IP, :class:`NotFound` when the IP has no history.
        """
        address = parse_ip(ip)
        key = ("ip", self.config.ipasn_url, address)
        cached = _cache.get(key, self.config.cache_ttl)
        if cached is MISS:
            answer = guard(IPASN_SERVICE, self.config.ipasn_url, self.config.timeout,
                           lambda: self._ipasn.query(address))
            cached = self._interpret_origin(address, answer)
            _cache.put(key, cached, self.config.cache_ttl)
        if isinstance(cached, NotFound):
            raise NotFound(str(cached))
        return cached

    @staticmethod
    def _interpret_origin(address: str, answer: Any) -> AsnOrigin | NotFound:
        if not isinstance(answer, dict):
            raise ServiceError(IPASN_SERVICE, f"unexpected answer ({type(answer).__name__})")
        response = answer.get("response")
        if not response:
            detail = f" ({answer['error']})" if answer.get("error") else ""
            return NotFound(f"IP ASN History has no routing history for {address}{detail}")
        if not isinstance(response, dict):
            raise ServiceError(IPASN_SERVICE, f"unexpected answer shape for {address}")
        latest = max(response)
        entry = response[latest]
        asn = entry.get("asn") if isinstance(entry, dict) else None
        if asn in (None, "", "0", 0):
            return NotFound(f"IP ASN History has no announcing ASN for {address}")
        try:
            return AsnOrigin(ip=address, asn=int(asn), prefix=str(entry.get("prefix") or ""), seen=latest)
        except (TypeError, ValueError):
            raise ServiceError(IPASN_SERVICE, f"unexpected ASN {asn!r} for {address}") from None

    def rank_ip(self, ip: Any, date: str | None = None) -> tuple[AsnOrigin, AsnRanking]:
        origin = self.origin(ip)
        family = "v6" if ":" in origin.ip else "v4"
        return origin, self.ranking(origin.asn, address_family=family, date=date)

    def origins(self, ips: Iterable[str]) -> dict[str, AsnOrigin | LookupIssue]:
        """:meth:`origin` for many IPs, concurrently (bounded); issues in place of answers."""
        return map_bounded(self.origin, ips, self.config.concurrency)

    def rankings(self, asns: Iterable[tuple[int, str]], date: str | None = None) -> dict[tuple[int, str], AsnRanking | LookupIssue]:
        """:meth:`ranking` for many ``(asn, address_family)`` pairs, concurrently (bounded)."""
        day = date or yesterday()
        return map_bounded(lambda pair: self.ranking(pair[0], pair[1], day), asns, self.config.concurrency)


_clients: dict[BGPRankingConfig, BGPRankingClient] = {}
_lock = threading.Lock()


def get_client() -> BGPRankingClient:
    """The client for the current settings."""
    config = BGPRankingConfig.from_settings()
    with _lock:
        client = _clients.get(config)
        if client is None:
            client = _clients[config] = BGPRankingClient(config)
        return client


def clear_cache() -> None:
    _cache.clear()
