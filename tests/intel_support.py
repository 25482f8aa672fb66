"""Fixtures shared by the threat-intel tests: the two fakes and settings pointing at them."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest

from misp_modules.lib.intel import bgpranking, hashlookup
from misp_modules.settings import Settings, get_settings, set_settings
from tests.fakes.bgpranking import BGPRankingFake, Ranking
from tests.fakes.hashlookup import HashlookupFake, make_record

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
