"""Outbound requests of MISP-facing modules whose URL comes from a node (``http_webhook``,
``mattermost``, ``ms_teams``) reach only what the deployment allows: loopback, private,
link-local and other non-public addresses are refused after resolution, in every spelling,
redirects included; credentials never follow a redirect to another origin; the runner-only MISP
nodes keep MISP's own ``rest_client_enable_arbitrary_urls`` rule instead."""

from __future__ import annotations

import ipaddress

import pytest

from misp_modules.lib.http.egress import EgressRules, parse_entry, refusal_reason
from misp_modules.modules.action_mod import http_webhook, mattermost, misp_webhook, ms_teams
from misp_modules.settings import SettingsError, load_settings
from tests.support.fakes.webhook import WebhookFake
from tests.support.notify import event, misp_request, settings


def webhook(url: str, **params) -> dict:
    return http_webhook.dict_handler(misp_request("http_webhook", {"url": url, **params}, event()))


@pytest.fixture
def target():
    with WebhookFake() as fake:
        yield fake


@pytest.mark.parametrize("spelling", ["127.0.0.1", "localhost", "2130706433", "0177.0.0.1", "127.1", "0x7f.0.0.1",
                                      "[::ffff:127.0.0.1]", "[::1]"])
def test_loopback_in_any_spelling_is_refused_and_nothing_is_sent(target, spelling):
    with settings(outbound_allow=()):
        answer = webhook(f"http://{spelling}:{target.port}/hook")
    assert "not allowed here" in answer["error"] and "outbound_allow" in answer["error"], answer
    assert target.requests == []


def test_the_module_servers_own_query_endpoint_is_not_a_target(module_server):
    with settings(outbound_allow=()):
        answer = webhook(f"{module_server.url}/query", payload='{"module": "stop_execution"}')
    assert "loopback address" in answer["error"]


def test_an_allow_listed_target_is_reached_and_only_on_its_port(target):
    with WebhookFake() as other, settings(outbound_allow=(f"127.0.0.1:{target.port}",)):
        assert webhook(f"{target.url}/hook") == {"data": True}
        assert "not allowed here" in webhook(f"{other.url}/hook")["error"]
    assert len(target.requests) == 1 and other.requests == []


def test_a_redirect_to_a_refused_address_is_refused(target):
    with WebhookFake() as inner, settings(outbound_allow=(f"127.0.0.1:{target.port}",)):
        target.redirects["/hook"] = f"{inner.url}/admin"
        answer = webhook(f"{target.url}/hook")
    assert "not allowed here" in answer["error"]
    assert inner.requests == [] and len(target.requests) == 1


def test_credentials_stay_with_their_origin(target):
    headers = "X-Api-Key: k-123456789\nAuthorization: Bearer t-123456789\nX-Plain: visible"
    with WebhookFake() as other, settings(outbound_allow=("127.0.0.1",)):
        target.redirects["/hook"] = f"{other.url}/next"  # another port: another origin
        assert webhook(f"{target.url}/hook", headers=headers) == {"data": True}
    first, second = target.requests[0], other.requests[0]
    assert first.header("X-Api-Key") == "k-123456789" and first.header("Authorization") == "Bearer t-123456789"
    assert second.header("X-Api-Key") is None and second.header("Authorization") is None
    assert second.header("X-Plain") is None  # every custom header of a webhook is treated as a credential
    assert second.body == first.body  # a 307 keeps the request itself


def test_a_same_origin_redirect_keeps_the_credentials(target):
    with settings(outbound_allow=("127.0.0.1",)):
        target.redirects["/hook"] = f"{target.url}/moved"
        assert webhook(f"{target.url}/hook", headers="X-Api-Key: k-123456789") == {"data": True}
    assert [r.path for r in target.requests] == ["/hook", "/moved"]
    assert target.requests[1].header("X-Api-Key") == "k-123456789"


def test_a_redirect_to_another_scheme_is_refused(target):
    with settings(outbound_allow=("127.0.0.1",)):
        target.redirects["/hook"] = "file:///etc/passwd"
        answer = webhook(f"{target.url}/hook")
    assert "not http(s)" in answer["error"]


@pytest.mark.parametrize("module,params", [
    (mattermost, {"mattermost_hostname": "http://127.0.0.1:9", "bot_access_token": "t" * 26, "channel_id": "c"}),
    (ms_teams, {"webhook_url": "http://127.0.0.1:9/webhookb2/x"}),
])
def test_every_url_taking_module_is_gated(module, params):
    name = module.__name__.rsplit(".", 1)[1]
    with settings(outbound_allow=()):
        answer = module.dict_handler(misp_request(name, params, event()))
    assert "not allowed here" in answer["error"] and f"[modules.{name}] outbound_allow" in answer["error"]


def test_runner_only_misp_webhook_keeps_misps_rule(target):
    """MISP's own node calls any URL once ``rest_client_enable_arbitrary_urls`` is on."""
    with settings({"misp_webhook": {"rest_client_enable_arbitrary_urls": True}}, outbound_allow=()):
        answer = misp_webhook.dict_handler({"module": "misp_webhook", "data": {"Event": {}},
                                            "params": {"url": f"{target.url}/hook"}})
    assert answer["result"] is True, answer
    assert len(target.requests) == 1


@pytest.mark.parametrize("address,reason", [
    ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("172.16.5.5", "private"), ("169.254.169.254", "link-local"),
    ("100.64.0.1", "reserved"), ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"), ("127.0.0.2", "loopback"),
    ("::1", "loopback"), ("fe80::1", "link-local"), ("fc00::1", "private"), ("::ffff:10.0.0.1", "private"),
    ("192.0.2.10", "private"), ("8.8.8.8", None), ("2001:4860:4860::8888", None),
])
def test_what_counts_as_not_public(address, reason):
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_allow_list_entries():
    rules = EgressRules.from_entries(["10.0.0.0/8", "chat.internal.example:8065", "[::1]:8080", "192.0.2.5"], "x")
    ip = ipaddress.ip_address
    assert rules.pick("anything", 443, [ip("10.9.9.9")]) == ip("10.9.9.9")
    assert rules.pick("Chat.Internal.Example.", 8065, [ip("192.168.1.1")]) == ip("192.168.1.1")
    assert rules.pick("h", 8080, [ip("::1")]) == ip("::1")
    assert rules.pick("h", 80, [ip("127.0.0.1"), ip("192.0.2.5")]) == ip("192.0.2.5")  # the first allowed one
    for host, port, address in [("chat.internal.example", 443, "192.168.1.1"), ("h", 8081, "::1"), ("h", 80, "172.16.0.1")]:
        with pytest.raises(Exception, match="not allowed here"):
            rules.pick(host, port, [ip(address)])
    for bad in ["", "10.0.0.0/33x", "[::1", "host:port", "a b", "host:70000"]:
        with pytest.raises(ValueError):
            parse_entry(bad)


def test_a_bad_allow_list_stops_startup_with_the_key_named(tmp_path):
    config = tmp_path / "server.toml"
    config.write_text('[server]\noutbound_allow = ["10.0.0.0/8", "a b"]\n')
    with pytest.raises(SettingsError, match=r"\[server\] outbound_allow: must be a list .*'a b'"):
        load_settings(str(config), {})
    assert load_settings(None, {"MISP_MODULES__SERVER__OUTBOUND_ALLOW": "10.0.0.0/8"}).outbound_allow == ("10.0.0.0/8",)
