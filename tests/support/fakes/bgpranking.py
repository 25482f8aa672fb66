"""A local CIRCL BGP Ranking + IP ASN History server (external-services.md §5.1, §5.2, §5.6).

One server hosts both APIs, mounted at the root (pybgpranking2 drops path prefixes): BGP
Ranking's ``/json/*`` endpoints and IP ASN History's ``/ip`` (also under ``/ipasn_history/``,
as the public BGP Ranking proxies it). ``meta`` echoes the request as the real servers do.

Fault modes: ``fault_status`` (HTML body with that status for every request, optionally only
for paths starting with ``fault_prefix``) and ``delay`` (every request is held that many seconds,
or until the fake is closed). ``max_in_flight`` records the most requests served at once.
``mount`` serves everything under a path prefix instead (a mirror behind a reverse proxy).
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from typing import Any

from tests.support.fakes.base import FakeService, Request, Response


@dataclass
class Ranking:
    description: str  # "<NAME>, <CC>" as BGP Ranking stores it
    rank: float
    position: int | None  # 1 = most malicious; None = not ranked that day


class BGPRankingFake(FakeService):
    """``asns``: ASN (string) → :class:`Ranking`; ``prefixes``: CIDR → ASN (string)."""

    SNAPSHOT = "2024-05-01T12:00:00"

    def __init__(self, asns: dict[str, Ranking] | None = None, prefixes: dict[str, str] | None = None,
                 total_known_asns: int = 12345) -> None:
        self.asns: dict[str, Ranking] = dict(asns or {})
        self.prefixes: dict[str, str] = dict(prefixes or {})
        self.total_known_asns = total_known_asns
        self.fault_status: int | None = None
        self.fault_prefix: str = "/"
        self.delay: float = 0.0
        self.mount: str = ""
        self.error: str | None = None  # /json/asn answers 200 with this ``error`` (server-side problem)
        self.in_flight = 0
        self.max_in_flight = 0
        self._count_lock = threading.Lock()
        super().__init__()
        # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add
        # ~40 ms to every keep-alive request, which would swamp timings (bench/hashlookup)
        self._server.RequestHandlerClass.disable_nagle_algorithm = True

    def reset(self, asns: dict[str, Ranking] | None = None, prefixes: dict[str, str] | None = None) -> BGPRankingFake:
        """Back to a fresh state (lets a test module share one server between tests)."""
        with self._lock:
            self.requests.clear()
        self.asns, self.prefixes = dict(asns or {}), dict(prefixes or {})
        self.fault_status, self.fault_prefix, self.delay, self.mount, self.error = None, "/", 0.0, "", None
        self.max_in_flight = 0
        return self

    def bodies(self, path: str) -> list[Any]:
        """JSON bodies the client sent to ``path``."""
        return [r.json() for r in self.requests if r.path == path and r.method == "POST"]

    def handle(self, request: Request) -> Response:
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                self.release.wait(self.delay)
            path = request.path
            if self.mount:
                if not path.startswith(self.mount + "/"):
                    return Response.text("<html>Not Found</html>", status=404, content_type="text/html")
                path = path[len(self.mount):]
            return self._route(request, path)
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def _route(self, request: Request, path: str) -> Response:
        if self.fault_status is not None and path.startswith(self.fault_prefix):
            return Response(self.fault_status, "<html><title>Internal Server Error</title></html>",
                            {"Content-Type": "text/html"})
        if request.method == "HEAD" and path in ("/", "/ipasn_history/"):
            return Response(200)
        if request.method == "GET" and path == "/redis_up":
            return Response.json(True)
        if request.method != "POST":
            return Response.text("<html>Not Found</html>", status=404, content_type="text/html")
        try:
            body = request.json()
        except ValueError:
            return Response.text("<html>Bad Request</html>", status=400, content_type="text/html")
        if path == "/json/asn":
            return self._asn(body)
        if path in ("/ip", "/ipasn_history/ip"):
            return self._ip(body)
        if path == "/json/asns_global_ranking":
            ranked = sorted(((asn, r.rank) for asn, r in self.asns.items() if r.position is not None),
                            key=lambda item: -item[1])
            return Response.json({"meta": body, "response": ranked[: int(body.get("limit", 100))]})
        return Response.text("<html>Not Found</html>", status=404, content_type="text/html")

    def _asn(self, body: dict[str, Any]) -> Response:
        if self.error:
            return Response.json({"meta": body, "response": {}, "error": self.error})
        if not body.get("asn"):
            return Response.json({"meta": body, "response": {}, "error": f"You need to pass an asn - {body}"})
        ranking = self.asns.get(str(body["asn"]))
        if ranking is None:
            # BGP Ranking answers unknown ASNs with an empty description and a zero rank.
            return Response.json({"meta": body, "response": {"asn_description": "", "ranking": {
                "rank": 0, "position": None, "total_known_asns": self.total_known_asns}}})
        if body.get("source"):
            return Response.json({"meta": body, "response": {"asn_description": ranking.description,
                                                             "ranking": ranking.rank}})
        return Response.json({"meta": body, "response": {
            "asn_description": ranking.description,
            "ranking": {"rank": ranking.rank, "position": ranking.position,
                        "total_known_asns": self.total_known_asns}}})

    def _ip(self, body: dict[str, Any]) -> Response:
        meta = {"source": body.get("source", "caida"), "ip_version": body.get("address_family"), "ip": body.get("ip")}
        try:
            address = ipaddress.ip_address(str(body.get("ip")))
        except ValueError:
            return Response.json({"meta": meta, "error": f"Invalid IP address: {body.get('ip')}", "response": {}})
        best: tuple[int, str, str] | None = None
        for prefix, asn in self.prefixes.items():
            network = ipaddress.ip_network(prefix)
            if address.version == network.version and address in network:
                if best is None or network.prefixlen > best[0]:
                    best = (network.prefixlen, prefix, asn)
        if best is None:
            return Response.json({"meta": meta, "error": "Unable to find the IP in the database.", "response": {}})
        return Response.json({"meta": meta, "response": {self.SNAPSHOT: {"asn": best[2], "prefix": best[1]}}})
