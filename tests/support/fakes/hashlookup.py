"""A local CIRCL hashlookup server (external-services.md §4.1, §4.4) for the real ``pyhashlookup`` client.

Records are kept in memory, indexed by upper-case MD5, SHA-1 and SHA-256. Lookups validate the
hash like the real server (400 with a message), unknown hashes answer 404 "Non existing ...",
bulk endpoints return the list of found records only. Fault modes: ``fault_status`` (every
request answers that status with an HTML body, as Flask/nginx do), ``delay`` (every answer waits
that many seconds, or until the fake is closed).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from tests.support.fakes.base import FakeService, Request, Response

_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_ALGOS = {
    # algo: (record key, expected length, 404 label, 400 label)
    "md5": ("MD5", 32, "MD5", "MD5"),
    "sha1": ("SHA-1", 40, "SHA-1", "SHA1"),
    "sha256": ("SHA-256", 64, "SHA-256", "SHA-256"),
}


def make_record(seed: str, *, filename: str | None = None, trust: int = 55, known_malicious: str | None = None,
                with_sha256: bool = True) -> dict[str, Any]:
    """A realistic hashlookup record whose hashes are derived from ``seed`` (string values,
    upper-case hex, integer trust score), as the NSRL-backed public instance returns them."""
    data = seed.encode()
    record: dict[str, Any] = {
        "CRC32": format(sum(data) & 0xFFFFFFFF, "08X"),
        "FileName": filename if filename is not None else f"{seed}.dll",
        "FileSize": str(1000 + len(data)),
        "MD5": hashlib.md5(data).hexdigest().upper(),
        "SHA-1": hashlib.sha1(data).hexdigest().upper(),
        "SSDEEP": "24:abcdef:ghijkl",
        "TLSH": "T1" + hashlib.sha256(data).hexdigest().upper()[:68],
        "SpecialCode": "",
        "db": "nsrl_modern_rds",
        "source": "NSRL",
        "insert-timestamp": "1679324382.6788242",
        "mimetype": "application/x-dosexec",
        "OpSystemCode": {"MfgCode": "1006", "OpSystemCode": "362", "OpSystemName": "TBD", "OpSystemVersion": "none"},
        "ProductCode": {"ApplicationType": "Security", "ProductName": "Cumulative Update", "ProductVersion": "1709"},
        "hashlookup:trust": trust,
        "hashlookup:parent-total": 1,
        "parents": [{"SHA-1": hashlib.sha1(data + b"-parent").hexdigest().upper(), "FileName": "parent.cab",
                     "FileSize": "4096"}],
    }
    if with_sha256:
        record["SHA-256"] = hashlib.sha256(data).hexdigest().upper()
    if known_malicious is not None:
        record["KnownMalicious"] = known_malicious
    return record


class HashlookupFake(FakeService):
    """The hashlookup API on 127.0.0.1. ``add()`` records; inspect ``requests`` afterwards."""

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self._index: dict[str, dict[str, dict[str, Any]]] = {algo: {} for algo in _ALGOS}
        self.fault_status: int | None = None
        self.fault_headers: dict[str, str] = {}
        self.delay: float = 0.0
        super().__init__()
        # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add
        # ~40 ms to every keep-alive request, which would swamp timings (bench/hashlookup)
        self._server.RequestHandlerClass.disable_nagle_algorithm = True
        for record in records:
            self.add(record)

    def reset(self, records: Iterable[dict[str, Any]] = ()) -> HashlookupFake:
        """Back to a fresh state (lets a test module share one server between tests)."""
        with self._lock:
            self.requests.clear()
        self._index = {algo: {} for algo in _ALGOS}
        self.fault_status, self.fault_headers, self.delay = None, {}, 0.0
        for record in records:
            self.add(record)
        return self

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        for algo, (key, *_rest) in _ALGOS.items():
            if record.get(key):
                self._index[algo][record[key].upper()] = record
        return record

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        response.delay = self.delay
        return response

    def _route(self, request: Request) -> Response:
        if self.fault_status is not None:
            body = f"<html><title>{self.fault_status}</title><body>Service failure</body></html>"
            return Response(self.fault_status, body, {"Content-Type": "text/html", **self.fault_headers})
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET" and parts == ["info"]:
            return Response.json({"nsrl-version": "RDS_2022.12.1", "hashlookup-version": "1.2",
                                  "stat:nsrl_modern_rds": str(len(self._index["sha1"]))})
        if request.method == "GET" and len(parts) == 3 and parts[0] == "lookup" and parts[1] in _ALGOS:
            return self._lookup(parts[1], parts[2])
        if request.method == "POST" and len(parts) == 2 and parts[0] == "bulk" and parts[1] in ("md5", "sha1"):
            return self._bulk(parts[1], request)
        return Response.json({"message": "The requested URL was not found on the server."}, status=404)

    def _lookup(self, algo: str, value: str) -> Response:
        _key, length, label404, label400 = _ALGOS[algo]
        if len(value) != length or not _HEX.match(value):
            return Response.json(
                {"message": f"{label400} value incorrect, expecting a {label400} value in hex format"}, status=400)
        record = self._index[algo].get(value.upper())
        if record is None:
            return Response.json({"message": f"Non existing {label404}", "query": value}, status=404)
        return Response.json(record)

    def _bulk(self, algo: str, request: Request) -> Response:
        try:
            payload = request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or "hashes" not in payload:
            return Response.json(
                {"message": "JSON format incorrect. An array of hashes in the key 'hashes' is expected."}, status=404)
        found = []
        for value in payload["hashes"]:
            record = self._index[algo].get(str(value).upper())
            if record is not None:
                found.append(record)
        return Response.json(found)
