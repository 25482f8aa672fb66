"""Secrets never reach logs (any level) or error answers."""

from __future__ import annotations

import json

import pytest

from misp_modules.lib.redact import MASK, is_secret_key, redact, secret_values
from tests.support.data import SERVER_MODULES

TELEGRAM_TOKEN = "123456789:AAH-secretTelegramToken_xyz"
PLAIN_TOKEN = "plain-secret-value-42"
API_KEY = "apikey-SECRET-0000"


@pytest.mark.parametrize("text, secret", [
    ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ("{'Authorization': 'Token 0123456789abcdef'}", "0123456789abcdef"),
    ("POST https://api.telegram.org/bot123456:ABC-def_1/sendMessage", "123456:ABC-def_1"),
    ("http://127.0.0.1:8081/bot99:zz/getMe", "99:zz"),
    ("https://prod-1.westeurope.logic.azure.com:443/workflows/1/triggers/manual/paths/invoke?"
     "api-version=2016-06-01&sp=%2Ftriggers&sv=1.0&sig=SiGnAtUrE123", "SiGnAtUrE123"),
    ("https://acme.webhook.office.com/webhookb2/g1@t1/IncomingWebhook/id1/id2", "g1@t1/IncomingWebhook/id1/id2"),
    ('{"bot_access_token": "mm-token", "channel_id": "c"}', "mm-token"),
    ('{"authkey": "k\\"ey"}', 'k\\"ey'),
    ("password=hunter2&user=bob", "hunter2"),
    ("url?apikey=zzz&x=1", "zzz"),
    ("POST https://chat.example.org/hooks/xf9a8b7c6d5e4f3g2h1i0jklmn failed", "xf9a8b7c6d5e4f3g2h1i0jklmn"),
    ('{"incoming_webhook_url": "http://127.0.0.1:8065/hooks/abc-123_def"}', "abc-123_def"),
    ("https://hooks.slack.com/services/T0AAA1111/B0BBB2222/XXXXxxxxXXXXxxxx", "XXXXxxxxXXXXxxxx"),
    ("https://discord.com/api/webhooks/123456789/tok-EN_value", "tok-EN_value"),
])
def test_text_shapes(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned and MASK in cleaned


def test_harmless_text_is_unchanged():
    text = "Module 'hashlookup' failed: Non existing hash (md5 8ed4b4ed952526d89899e723f3488de4); keyword=tlp"
    assert redact(text) == text


@pytest.mark.parametrize("key, secret", [
    ("token", True), ("bot_token", True), ("bot_access_token", True), ("apikey", True), ("api_key", True),
    ("custom_API_key", True), ("authkey", True), ("password", True), ("client_secret", True), ("sig", True),
    ("Authorization", True), ("mispKey", True), ("channel_id", False), ("keyword", False), ("monkey", False),
    ("message_template", False), ("module-type", False), ("custom_API", False), ("value", False),
])
def test_secret_key_names(key, secret):
    assert is_secret_key(key) is secret


def test_structures_are_copied_with_secrets_masked():
    request = {"module": "m", "params": {"bot_token": TELEGRAM_TOKEN, "chat_id": "5",
                                         "note": f"see https://api.telegram.org/bot{TELEGRAM_TOKEN}/x"},
               "config": {"apikey": API_KEY, "empty_token": ""}, "data": [{"key": "v"}]}
    cleaned = redact(request)
    assert cleaned["params"] == {"bot_token": MASK, "chat_id": "5", "note": f"see https://api.telegram.org/bot{MASK}/x"}
    assert cleaned["config"] == {"apikey": MASK, "empty_token": ""}
    assert cleaned["data"] == [{"key": MASK}]
    assert request["params"]["bot_token"] == TELEGRAM_TOKEN  # the original is untouched
    assert set(secret_values(request)) == {TELEGRAM_TOKEN, API_KEY, "v"}


def test_literal_secrets_are_masked_anywhere():
    assert redact(f"rejected {PLAIN_TOKEN}.", secrets=[PLAIN_TOKEN]) == f"rejected {MASK}."


def test_server_logs_and_errors_never_show_secrets(make_server):
    server = make_server(custom_dir=SERVER_MODULES, extra_args=["-d"])
    for token in (TELEGRAM_TOKEN, PLAIN_TOKEN):
        status, answer = server.query({"module": "boom", "params": {"bot_token": token, "chat_id": "42"},
                                       "config": {"apikey": API_KEY},
                                       "headers": "Authorization: Bearer hdr-secret-1"})
        assert status == 200 and answer["error"].startswith("Module 'boom' failed: ConnectionError")
        assert token not in answer["error"] and MASK in answer["error"]
    server.query({"module": "notifier", "params": {"webhook_url": "https://x.example/hook?sig=SIG-SECRET"}})
    server.wait_for_log(r"Something went wrong when processing query request \(module boom\)", count=2)
    logs = server.logs()
    assert "MISP QueryModule boom request" in logs  # -d logs bodies...
    assert '"chat_id":"42"' in logs
    for secret in (TELEGRAM_TOKEN, PLAIN_TOKEN, API_KEY, "hdr-secret-1", "SIG-SECRET", "AAH-secret"):
        assert secret not in logs  # ...redacted, tracebacks included
    assert "Traceback (most recent call last)" in logs


HOOK_ID = "mmhookid0secret0value0abcd"
WEBHOOK_MODULE = """
import logging

moduleinfo = {"version": "0.1", "author": "Tests", "description": "Posts to a webhook",
              "module-type": ["action"], "name": "Hook poster"}
log = logging.getLogger("misp_modules.tests.hook_poster")


def dict_handler(request):
    url = request["params"]["incoming_webhook_url"]
    log.warning("posting to %s", url)
    raise ConnectionError(f"POST {url} failed: 404 Not Found")


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
"""


def test_incoming_webhook_urls_never_show_their_id(make_server, tmp_path):
    """Mattermost's /hooks/<id> (and Slack's /services/...) carry the credential in the path,
    under a param name that says nothing secret: masked in answers and in every log line."""
    (tmp_path / "action_mod").mkdir()
    (tmp_path / "action_mod" / "hook_poster.py").write_text(WEBHOOK_MODULE)
    server = make_server(custom_dir=str(tmp_path), extra_args=["-d"])
    slack = "https://hooks.slack.com/services/T0AAA1111/B0BBB2222/SlackSecret0123456789"
    for url in (f"https://chat.example.org/hooks/{HOOK_ID}", slack):
        payload = {"module": "hook_poster", "params": {"incoming_webhook_url": url}}
        status, _headers, body = server.request("POST", f"/query?hook={url}", json.dumps(payload).encode())
        answer = json.loads(body)
        assert status == 200 and answer["error"].startswith("Module 'hook_poster' failed: ConnectionError: POST ")
        assert HOOK_ID not in answer["error"] and "SlackSecret" not in answer["error"] and MASK in answer["error"]
    server.wait_for_log(r"200 POST /query\?hook=\S+ \(127\.0\.0\.1\) [\d.]+ms module=hook_poster", count=2)
    logs = server.logs()
    assert "MISP QueryModule hook_poster request" in logs and "posting to https://chat.example.org/hooks/***" in logs
    assert "Traceback (most recent call last)" in logs
    assert HOOK_ID not in logs and "SlackSecret" not in logs
