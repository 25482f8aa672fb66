"""Fixtures shared by the threat-intel tests: the two fakes and settings pointing at them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from misp_modules.lib.intel import bgpranking, hashlookup
from misp_modules.settings import Settings, get_settings, set_settings
from tests.support.fakes.bgpranking import BGPRankingFake, Ranking
from tests.support.fakes.hashlookup import HashlookupFake, make_record

KNOWN = [make_record(f"known-{i}", filename=f"known-{i}.dll") for i in range(3)]
MALICIOUS = make_record("evil", filename="evil.exe", known_malicious="virustotal")

ASNS = {
    "64500": Ranking("EVIL-HOSTING, RU", 0.0081, 3),     # among the worst
    "64501": Ranking("SHADY-NET, NL", 0.0024, 49),
    "64502": Ranking("BIGCLOUD, US", 0.0003, 50),         # exactly the default threshold: not below
    "64503": Ranking("QUIET-ISP, LU", 0.0, None),         # known, not ranked that day
    "64504": Ranking("ACME, Inc., DE", 0.0001, 900),      # a description with a comma in the name
}
PREFIXES = {"192.0.2.0/24": "64500", "198.51.100.0/24": "64502", "203.0.113.0/24": "64501",
            "2001:db8::/32": "64504"}


@contextlib.contextmanager
def intel_settings(hashlookup_fake: HashlookupFake | None = None, bgp_fake: BGPRankingFake | None = None,
                   modules: dict[str, dict[str, Any]] | None = None,
                   services: dict[str, str] | None = None) -> Iterator[Settings]:
    """Install settings whose service URLs point at the fakes (``services`` overrides them);
    restore the previous settings and empty the lookup caches afterwards."""
    previous = get_settings()
    urls: dict[str, str] = {}
    if hashlookup_fake is not None:
        urls["hashlookup"] = hashlookup_fake.url + "/"
    if bgp_fake is not None:
        urls["bgpranking"] = bgp_fake.url + "/"
        urls["ipasnhistory"] = bgp_fake.url + "/"
    urls.update(services or {})
    settings = Settings(services=urls, modules=modules or {})
    set_settings(settings)
    hashlookup.clear_cache()
    bgpranking.clear_cache()
    try:
        yield settings
    finally:
        set_settings(previous)
        hashlookup.clear_cache()
        bgpranking.clear_cache()


@pytest.fixture(scope="module")
def _hl_server() -> Iterator[HashlookupFake]:
    with HashlookupFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def _bgp_server() -> Iterator[BGPRankingFake]:
    with BGPRankingFake() as fake:
        yield fake


@pytest.fixture
def hl_fake(_hl_server: HashlookupFake) -> HashlookupFake:
    """The hashlookup fake with the standard records (one server per test module, reset per test)."""
    return _hl_server.reset(KNOWN + [MALICIOUS])


@pytest.fixture
def bgp_fake(_bgp_server: BGPRankingFake) -> BGPRankingFake:
    """The BGP Ranking + IP ASN History fake with the standard data, reset per test."""
    return _bgp_server.reset(ASNS, PREFIXES)


@pytest.fixture
def intel(hl_fake: HashlookupFake, bgp_fake: BGPRankingFake) -> Iterator[tuple[HashlookupFake, BGPRankingFake]]:
    """Both fakes, with the settings pointing at them (fast timeouts)."""
    modules = {"hashlookup": {"http_timeout": 1.0}, "bgpranking": {"http_timeout": 1.0}}
    with intel_settings(hl_fake, bgp_fake, modules):
        yield hl_fake, bgp_fake


# --- events and a module server wired to the fakes ----------------------------------------------

from tests.support.data import INTEL_MODULES  # noqa: E402


def attribute(n: int, type_: str, value: str, *, to_ids: bool = True, category: str = "Network activity",
              **extra: Any) -> dict[str, Any]:
    """An attribute as MISP stores it (string ids, uuid derived from ``n``)."""
    return {"id": str(100 + n), "event_id": "42", "object_id": "0", "object_relation": None,
            "category": category, "type": type_, "value": value, "to_ids": to_ids,
            "uuid": f"5f1c0000-0000-4000-8000-{n:012d}", "timestamp": "1700000000", "distribution": "5",
            "sharing_group_id": "0", "comment": "", "deleted": False, "disable_correlation": False,
            "first_seen": None, "last_seen": None, "Tag": [], **extra}


def raw_event(attributes: list[dict], objects: list[dict] | None = None, tags: list[str] = ()) -> dict[str, Any]:
    """A MISP event as the event-publish trigger receives it."""
    return {"Event": {
        "id": "42", "uuid": "5f1c0000-0000-4000-8000-e00000000042", "info": "intel test event",
        "threat_level_id": "2", "analysis": "1", "distribution": "1", "published": False,
        "org_id": "1", "orgc_id": "1", "timestamp": "1700000000", "date": "2024-05-01",
        "Orgc": {"id": "1", "name": "ORGNAME", "uuid": "5f1c0000-0000-4000-8000-0000000000a1"},
        "Org": {"id": "1", "name": "ORGNAME", "uuid": "5f1c0000-0000-4000-8000-0000000000a1"},
        "Tag": [{"id": str(i + 1), "name": t, "colour": "#ffffff", "exportable": True, "local": 0}
                for i, t in enumerate(tags)],
        "Attribute": attributes, "Object": objects or [],
    }}


def core(raw: dict[str, Any]) -> dict[str, Any]:
    """The roaming data the trigger builds from ``raw`` (MISP core format)."""
    from misp_modules.semantics.convert import to_core_format

    return to_core_format(json.loads(json.dumps(raw)))


def server_config(hl: HashlookupFake, bgp: BGPRankingFake, **modules: dict[str, Any]) -> dict[str, Any]:
    # no lookup cache: each test sees the requests its own run makes
    config_modules = {"hashlookup": {"http_timeout": 1.0, "cache_ttl": 0},
                      "bgpranking": {"http_timeout": 1.0, "cache_ttl": 0}}
    config_modules.update(modules)
    return {"services": {"hashlookup": hl.url + "/", "bgpranking": bgp.url + "/", "ipasnhistory": bgp.url + "/"},
            "modules": config_modules}


@pytest.fixture(scope="module")
def intel_server(_hl_server: HashlookupFake, _bgp_server: BGPRankingFake):
    """A module server (built-in modules + tests/intel_modules) whose intel services are the fakes."""
    from tests.support.harness import ModuleServer

    config = server_config(_hl_server, _bgp_server,
                           intel_echo={"apikey": "k-123"},
                           attach_enrichment={"query_timeout": 1.0},
                           intel_slow={"concurrency": 4})
    with ModuleServer(custom_dir=INTEL_MODULES, config=config) as server:
        yield server


# Events the blueprint tests run: which attribute the fakes know and what each one tests.
BGP_EVENT = raw_event([
    attribute(1, "AS", "AS64500"),                 # position 3
    attribute(2, "AS", "64501"),                   # position 49
    attribute(3, "AS", "AS64502"),                 # position 50: not below 50
    attribute(4, "AS", "AS64503"),                 # not ranked that day
    attribute(5, "AS", "AS65000"),                 # unknown to BGP Ranking
    attribute(6, "ip-dst", "192.0.2.10"),          # → AS64500
    attribute(7, "ip-src", "203.0.113.5"),         # → AS64501
    attribute(8, "ip-src", "198.51.100.7"),        # → AS64502
    attribute(9, "ip-dst", "10.20.30.40"),         # no routing history
    attribute(10, "domain", "example.org"),        # not a bgpranking input
], objects=[{"id": "7", "name": "ip-port", "uuid": "5f1c0000-0000-4000-8000-0000000000b7", "distribution": "5",
             "Attribute": [attribute(11, "ip-dst", "192.0.2.99", object_id="7", object_relation="ip")]}])


HASH_EVENT = raw_event([
    attribute(1, "md5", KNOWN[0]["MD5"].lower(), category="Payload delivery"),
    attribute(2, "sha1", KNOWN[1]["SHA-1"], category="Payload delivery"),
    attribute(3, "sha256", KNOWN[2]["SHA-256"].lower(), category="Payload delivery"),
    attribute(4, "md5", "0" * 32, category="Payload delivery"),               # unknown
    attribute(5, "sha1", MALICIOUS["SHA-1"], category="Payload delivery"),    # known (KnownMalicious)
    attribute(6, "filename|md5", f"a.exe|{KNOWN[0]['MD5']}", category="Payload delivery"),  # not an input type
    attribute(7, "ip-src", "192.0.2.1"),
])
