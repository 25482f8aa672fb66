"""MISP's webhook node (runner-only ``misp_webhook``, ``misp_ms_teams_webhook``) and the
MISP-facing ``http_webhook``: requests built like MISP's, against the local webhook fake."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import trustme

from misp_modules.lib.notify import webhook
from misp_modules.modules.action_mod import http_webhook, misp_ms_teams_webhook, misp_webhook
from tests.support.fakes.webhook import TlsWebhookFake, WebhookFake
from tests.support.nodes import call_node
from tests.support.notify import event, misp_request, settings

ENABLED = {"misp_webhook": {"rest_client_enable_arbitrary_urls": True, "request_timeout": 2}}


@pytest.fixture
def fake():
    with WebhookFake() as service, settings(ENABLED):
        yield service


def node(module, data, **params):
    return call_node(module, data, params)


def test_headers_parsing_like_misp():
    assert webhook.parse_headers("A: 1\nno colon\n  B :  x:y \n:empty\n") == {"A": "1", "B": "x:y"}


def test_http_build_query_like_php():
    assert webhook.http_build_query({"a": [1, {"b": True}], "c": None, "d": "x y"}) == "a%5B0%5D=1&a%5B1%5D%5Bb%5D=1&d=x+y"


def test_misp_webhook_posts_the_roaming_data_as_json(fake):
    data = {"Event": {"id": "1", "info": "é/ü", "Attribute": {"0": {"value": "a"}, "2": {"value": "c"}}}}
    assert node(misp_webhook, data, url=fake.url + "/in") == {"result": True, "errors": []}
    (req,) = fake.requests
    assert req.method == "POST" and req.path == "/in"
    assert req.body.decode() == '{"Event":{"id":"1","info":"é/ü","Attribute":{"0":{"value":"a"},"2":{"value":"c"}}}}'
    assert req.header("Content-Type") == "application/json" and req.header("Accept") == "application/json"
    assert req.header("User-Agent").startswith("MISP")


def test_misp_webhook_payload_string_json_form_headers_and_methods(fake):
    node(misp_webhook, {}, url=fake.url, payload='{"a": [1, 2]}', headers="X-Key: v1\nContent-Type: text/x")
    node(misp_webhook, {}, url=fake.url, payload="not json")
    node(misp_webhook, {}, url=fake.url, payload="k=v&w=1", content_type="form", request_method="put")
    node(misp_webhook, {"a": 1}, url=fake.url, request_method="get")
    first, second, third, fourth = fake.requests
    assert first.body == b'{"a":[1,2]}' and first.header("X-Key") == "v1" and first.header("Content-Type") == "text/x"
    assert second.body == b'"not json"'
    assert third.method == "PUT" and third.body == b"k=v&w=1"
    assert third.header("Content-Type") == "application/x-www-form-urlencoded"
    assert fourth.method == "GET" and fourth.body == b""


@pytest.mark.parametrize("status, expected", [
    (201, {"result": True, "errors": []}),
    (401, {"result": False, "errors": ["Authentication failed."], "error": "Authentication failed."}),
    (403, {"result": False, "errors": ["Authentication failed."], "error": "Authentication failed."}),
])
def test_misp_result_mapping(fake, status, expected):
    fake.status = status
    assert node(misp_webhook, {}, url=fake.url) == expected


def test_misp_other_status_returns_the_body(fake):
    fake.status, fake.body = 500, "boom"
    answer = node(misp_webhook, {}, url=fake.url)
    assert answer["errors"] == ["Something went wrong with the request or the remote side is having issues. "
                                "Body returned: boom"]


def test_an_echoed_secret_is_masked_in_the_quoted_body(fake):
    """A service that echoes the request back must not put the call's secrets into MISP's log."""
    url = f"{fake.url}/hooks/s3cr3tPathSegment0123456789?sig=SigValue0123456789abcdef"
    fake.status = 500
    fake.body = f"no such hook {url} (X-Api-Key: Key0123456789abcdef) " + "x" * 5000
    answer = node(misp_webhook, {}, url=url, headers="X-Api-Key: Key0123456789abcdef")
    text = answer["errors"][0]
    assert text.startswith("Something went wrong with the request or the remote side is having issues. "
                           "Body returned: no such hook")
    for secret in ("s3cr3tPathSegment0123456789", "SigValue0123456789abcdef", "Key0123456789abcdef"):
        assert secret not in text
    assert len(text) < 1200  # bounded: MISP quotes the whole body
    teams = node(misp_ms_teams_webhook, {}, url=url, content="x")
    assert "SigValue0123456789abcdef" not in json.dumps(teams)


def test_misp_gates_and_missing_url(fake):
    assert node(misp_webhook, {}, url="")["errors"] == ["URL not provided."]
    with settings({}):
        assert node(misp_webhook, {}, url=fake.url)["errors"] == ["`Security.rest_client_enable_arbitrary_urls` is turned off"]
        assert node(misp_ms_teams_webhook, {}, url=fake.url)["errors"] == [
            "`Security.rest_client_enable_arbitrary_urls` is turned off"]
    assert fake.requests == []


def test_misp_transport_error_wording():
    with WebhookFake() as gone:
        url = gone.url + "/secret-path"
    with settings(ENABLED):
        answer = node(misp_webhook, {}, url=url)
    assert answer["errors"] == ["Something went wrong while sending the request. Error returned: connection refused"]


def test_misp_ms_teams_webhook_sends_text_form(fake):
    data = {"Event": {"id": "1", "info": "x"}}
    assert node(misp_ms_teams_webhook, data, url=fake.url, data_extraction_path="Event.id")["result"] is True
    (req,) = fake.requests
    assert req.header("Content-Type") == "application/x-www-form-urlencoded"
    assert json.loads(parse_qs(req.body.decode())["text"][0]) == data


def test_http_webhook_renders_url_payload_and_headers(fake):
    params = {"url": fake.url + "/e/{{ Event.id }}", "payload": '{"info": "{{ Event.info }}"}',
              "headers": "X-Event: {{ Event.uuid }}"}
    data = {"Event": {"id": "7", "info": "hello", "uuid": "u-1"}}
    assert http_webhook.dict_handler(misp_request("http_webhook", params, data)) == {"data": True}
    (req,) = fake.requests
    assert req.path == "/e/7" and req.json() == {"info": "hello"} and req.header("X-Event") == "u-1"


def test_http_webhook_empty_payload_is_the_roaming_data(fake):
    data = event()
    assert http_webhook.dict_handler(misp_request("http_webhook", {"url": fake.url}, data)) == {"data": True}
    assert fake.requests[0].json() == data


def test_http_webhook_errors(fake):
    fake.status, fake.body = 403, "nope"
    answer = http_webhook.dict_handler(misp_request("http_webhook", {"url": fake.url + "/?token=abcdef123"}, {}))
    assert "permission denied" in answer["error"] and "abcdef123" not in answer["error"]
    assert "unsupported value 'patch'" in http_webhook.dict_handler(
        misp_request("http_webhook", {"url": fake.url, "request_method": "patch"}, {}))["error"]
    assert "param `url` is empty" in http_webhook.dict_handler(misp_request("http_webhook", {}, {}))["error"]


def test_http_webhook_retries_429(fake):
    fake.rate_limit = 2
    assert http_webhook.dict_handler(misp_request("http_webhook", {"url": fake.url}, {})) == {"data": True}
    assert len(fake.requests) == 3


def test_http_webhook_timeout():
    with WebhookFake() as slow, settings({"http_webhook": {"request_timeout": 0.3}}):
        slow.delay = 10
        answer = http_webhook.dict_handler(misp_request("http_webhook", {"url": slow.url}, {}))
    assert "no answer from" in answer["error"] and "0.3 s" in answer["error"]


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def test_tls_is_verified_by_default(ca):
    with TlsWebhookFake(ca) as tls, settings({}):
        answer = http_webhook.dict_handler(misp_request("http_webhook", {"url": tls.url}, {}))
        assert "TLS certificate verification failed" in answer["error"]
        assert tls.requests == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # allow_self_signed is the point
def test_ca_bundle_and_self_signed_allow(ca, tmp_path):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with TlsWebhookFake(ca) as tls:
        with settings({"http_webhook": {"ca_bundle": str(bundle)}}):
            assert http_webhook.dict_handler(misp_request("http_webhook", {"url": tls.url}, {})) == {"data": True}
        with settings({}):
            assert http_webhook.dict_handler(
                misp_request("http_webhook", {"url": tls.url, "self_signed": "allow"}, {})) == {"data": True}
        with settings(ENABLED):
            assert node(misp_webhook, {}, url=tls.url, self_signed="allow")["result"] is True
            assert node(misp_webhook, {}, url=tls.url)["result"] is False
    assert len(tls.requests) == 3
