"""The intel clients (misp_modules.lib.intel) driving the real client libraries against the fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from misp_modules.lib.intel import bgpranking, hashlookup
from misp_modules.lib.intel.cache import MISS, TTLCache
from misp_modules.lib.intel.errors import InvalidValue, NotFound, ServiceError
from tests.support.fakes.hashlookup import HashlookupFake, make_record
from tests.support.intel import KNOWN, intel_settings

UNKNOWN_MD5 = "0" * 32


def utc_yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


# --- hashlookup ---------------------------------------------------------------------------------

def test_lookup_known_unknown_and_case(intel):
    hl, _ = intel
    client = hashlookup.get_client()
    record = client.lookup("md5", KNOWN[0]["MD5"].lower())
    assert record["FileName"] == "known-0.dll"
    assert client.lookup("sha1", "f" * 40) is None
    assert client.lookup("sha256", KNOWN[1]["SHA-256"])["FileName"] == "known-1.dll"
    assert [r.header("User-Agent") for r in hl.requests][0].startswith("PyHashlookup")


@pytest.mark.parametrize("algo,value", [("md5", "abc"), ("md5", "g" * 32), ("sha1", "0" * 32),
                                        ("sha256", None), ("ssdeep", "3:abc:def")])
def test_malformed_hash_costs_no_request(intel, algo, value):
    hl, _ = intel
    with pytest.raises(InvalidValue) as err:
        hashlookup.get_client().lookup(algo, value)
    assert algo in str(err.value)
    assert hl.requests == []


def test_cache_serves_repeats_until_ttl_zero(hl_fake):
    with intel_settings(hl_fake):
        client = hashlookup.get_client()
        client.lookup("md5", KNOWN[0]["MD5"])
        client.lookup("md5", KNOWN[0]["MD5"])
        client.lookup("md5", UNKNOWN_MD5)
        client.lookup("md5", UNKNOWN_MD5)  # "unknown" is an answer too, cached
        assert len(hl_fake.requests) == 2
    with intel_settings(hl_fake, modules={"hashlookup": {"cache_ttl": 0}}):
        client = hashlookup.get_client()
        client.lookup("md5", KNOWN[0]["MD5"])
        client.lookup("md5", KNOWN[0]["MD5"])
        assert len(hl_fake.requests) == 4


def test_ttl_cache_expires_entries():
    now = [100.0]
    cache = TTLCache(maxsize=2, clock=lambda: now[0])
    cache.put("a", 1, ttl=10)
    assert cache.get("a", ttl=10) == 1
    now[0] = 111.0
    assert cache.get("a", ttl=10) is MISS
    for key in "bcd":
        cache.put(key, key, ttl=10)
    assert cache.get("b", ttl=10) is MISS and cache.get("d", ttl=10) == "d"  # oldest evicted


def test_service_error_is_retried_once_then_named(intel):
    hl, _ = intel
    hl.fault_status = 503
    with pytest.raises(ServiceError) as err:
        hashlookup.get_client().lookup("md5", UNKNOWN_MD5)
    assert "HTTP 503" in str(err.value) and "hashlookup" in str(err.value)
    assert len(hl.requests) == 2  # one retry, on http:// as on https://


def test_rate_limit_is_reported_not_retried(intel):
    hl, _ = intel
    hl.fault_status = 429
    hl.fault_headers = {"Retry-After": "30"}
    with pytest.raises(ServiceError) as err:
        hashlookup.get_client().lookup("md5", UNKNOWN_MD5)
    assert "rate limited" in str(err.value) and "30" in str(err.value)
    assert len(hl.requests) == 1


def test_500_html_body_is_a_service_error_not_a_decoding_crash(intel):
    hl, _ = intel
    hl.fault_status = 500
    with pytest.raises(ServiceError, match="HTTP 500"):
        hashlookup.get_client().lookup("md5", UNKNOWN_MD5)


def test_slow_service_times_out(hl_fake):
    hl_fake.delay = 10  # released when the fake closes
    with intel_settings(hl_fake, modules={"hashlookup": {"http_timeout": 0.3}}):
        with pytest.raises(ServiceError, match="within 0.3s"):
            hashlookup.get_client().lookup("md5", UNKNOWN_MD5)


def test_service_down_and_credentials_stay_out_of_errors():
    with HashlookupFake() as fake:
        url = fake.url
    with intel_settings():
        client = hashlookup.get_client(url.replace("http://", "http://user:s3cret@") + "/")
        with pytest.raises(ServiceError) as err:
            client.lookup("md5", UNKNOWN_MD5)
    assert "cannot connect" in str(err.value)
    assert "s3cret" not in str(err.value) and "user" not in str(err.value)


def test_bulk_lookup_uses_bulk_endpoints_in_chunks(intel):
    hl, _ = intel
    extra = [hl.add(make_record(f"bulk-{i}")) for i in range(1200)]
    pairs = [("md5", r["MD5"].lower()) for r in extra] + [("md5", UNKNOWN_MD5)]
    pairs += [("sha1", KNOWN[0]["SHA-1"]), ("sha1", "e" * 40)]
    pairs += [("sha256", KNOWN[1]["SHA-256"]), ("sha256", "d" * 64), ("md5", "bogus")]
    pairs += [("md5", extra[0]["MD5"].lower())]  # a duplicate costs nothing
    result = hashlookup.get_client().lookup_many(pairs)
    assert result[("md5", extra[7]["MD5"].lower())]["SHA-1"] == extra[7]["SHA-1"]
    assert result[("md5", UNKNOWN_MD5)] is None
    assert result[("sha1", KNOWN[0]["SHA-1"])]["FileName"] == "known-0.dll"
    assert result[("sha1", "e" * 40)] is None
    assert result[("sha256", KNOWN[1]["SHA-256"])]["FileName"] == "known-1.dll"
    assert result[("sha256", "d" * 64)] is None
    assert isinstance(result[("md5", "bogus")], InvalidValue)
    paths = sorted(r.path for r in hl.requests)
    assert paths.count("/bulk/md5") == 3  # 1201 md5 in chunks of 500
    assert paths.count("/bulk/sha1") == 1
    assert len([p for p in paths if p.startswith("/lookup/sha256/")]) == 2
    assert len(paths) == 6
    md5_sent = [h for r in hl.requests if r.path == "/bulk/md5" for h in r.json()["hashes"]]
    assert len(md5_sent) == 1201 and max(len(r.json()["hashes"]) for r in hl.requests if r.path == "/bulk/md5") == 500


def test_bulk_failure_fails_the_batch(intel):
    hl, _ = intel
    hl.fault_status = 502
    with pytest.raises(ServiceError, match="HTTP 502"):
        hashlookup.get_client().lookup_many([("md5", UNKNOWN_MD5), ("sha1", "e" * 40)])


# --- BGP Ranking / IP ASN History ---------------------------------------------------------------

def test_ranking_asks_for_yesterday_computed_per_query(intel):
    _, bgp = intel
    ranking = bgpranking.get_client().ranking("AS64500")
    assert (ranking.asn, ranking.position, ranking.rank) == (64500, 3, 0.0081)
    assert (ranking.name, ranking.country) == ("EVIL-HOSTING", "RU")
    sent = bgp.bodies("/json/asn")
    assert sent == [{"asn": "64500", "address_family": "v4", "date": utc_yesterday()}]
    assert ranking.date == utc_yesterday()


def test_description_with_commas_keeps_the_name_whole(intel):
    ranking = bgpranking.get_client().ranking(64504)
    assert (ranking.name, ranking.country) == ("ACME, Inc.", "DE")


def test_unranked_and_unknown_asn(intel):
    client = bgpranking.get_client()
    assert client.ranking("64503").position is None
    with pytest.raises(NotFound, match="AS65000"):
        client.ranking("65000")


@pytest.mark.parametrize("value", ["ASX", "", "AS", "-5", "AS99999999999", None, True])
def test_invalid_asn(intel, value):
    _, bgp = intel
    with pytest.raises(InvalidValue):
        bgpranking.get_client().ranking(value)
    assert bgp.requests == []


def test_root_path_prefix_is_kept(bgp_fake):
    bgp_fake.mount = "/mirror/bgp"
    with intel_settings(services={"bgpranking": bgp_fake.url + "/mirror/bgp/"}):
        assert bgpranking.get_client().ranking("64501").position == 49
    assert [r.path for r in bgp_fake.requests] == ["/mirror/bgp/json/asn"]


def test_origin_latest_snapshot_and_no_history(intel):
    _, bgp = intel
    client = bgpranking.get_client()
    origin = client.origin("192.0.2.77")
    assert (origin.asn, origin.prefix) == (64500, "192.0.2.0/24")
    assert client.origin("2001:db8::1").asn == 64504
    with pytest.raises(NotFound, match="10.1.1.1"):
        client.origin("10.1.1.1")
    with pytest.raises(InvalidValue):
        client.origin("not-an-ip")
    assert [r.json()["ip"] for r in bgp.requests] == ["192.0.2.77", "2001:db8::1", "10.1.1.1"]


def test_ip_asn_history_500_is_a_service_error(intel):
    _, bgp = intel
    bgp.fault_status = 500
    bgp.fault_prefix = "/ip"
    with pytest.raises(ServiceError, match="IP ASN History.*HTTP 500"):
        bgpranking.get_client().origin("192.0.2.1")


def test_bgp_ranking_error_answer_is_a_service_error(intel):
    _, bgp = intel
    bgp.error = "Redis is down"
    with pytest.raises(ServiceError, match="refused the query for AS64500: Redis is down"):
        bgpranking.get_client().ranking("64500")


def test_concurrent_lookups_are_bounded(bgp_fake):
    bgp_fake.delay = 0.05
    with intel_settings(bgp_fake=bgp_fake, modules={"bgpranking": {"parallel_requests": 3}}):
        ips = [f"192.0.2.{i}" for i in range(12)]
        result = bgpranking.get_client().origins(ips)
    assert all(r.asn == 64500 for r in result.values())
    assert 2 <= bgp_fake.max_in_flight <= 3


def test_batch_stops_on_service_error(bgp_fake):
    bgp_fake.fault_status = 503
    with intel_settings(bgp_fake=bgp_fake, modules={"bgpranking": {"parallel_requests": 4, "retries": 0}}):
        with pytest.raises(ServiceError, match="HTTP 503"):
            bgpranking.get_client().rankings([(64500 + i, "v4") for i in range(40)])
    assert len(bgp_fake.requests) < 40  # pending lookups were cancelled


@pytest.mark.parametrize("module,key,value", [("hashlookup", "http_timeout", "soon"), ("hashlookup", "bulk_size", 0),
                                              ("bgpranking", "parallel_requests", 2.5), ("bgpranking", "retries", True)])
def test_bad_settings_are_named(module, key, value):
    from misp_modules.settings import SettingsError

    with intel_settings(modules={module: {key: value}}):
        with pytest.raises(SettingsError, match=rf"\[modules\.{module}\] {key}: expected"):
            (hashlookup if module == "hashlookup" else bgpranking).get_client()
