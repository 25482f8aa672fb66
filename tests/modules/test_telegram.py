"""Telegram module through python-telegram-bot against the local Bot API fake, and MISP's
``telegram-send-alert`` node (runner-only) over plain HTTP."""

from __future__ import annotations

import asyncio

import pytest

from misp_modules.lib.notify import telegram as tg
from misp_modules.modules.action_mod import misp_telegram_send_alert, telegram
from tests.support.fakes.telegram import CHAT, TOKEN, TelegramFake, parse_html, utf16_length
from tests.support.notify import event, misp_request, settings


@pytest.fixture
def fake():
    with TelegramFake() as service, settings({"telegram": {"request_timeout": 2, "max_retry_wait": 1},
                                              "misp_telegram_send_alert": {"request_timeout": 2}},
                                             services={"telegram": service.base_url}):
        yield service


def send(data=None, **params):
    body = misp_request("telegram", {"bot_token": TOKEN, "chat_id": CHAT, **params},
                        data if data is not None else event())
    return asyncio.run(telegram.dict_handler(body))


def test_default_message_is_valid_html_summarising_the_event(fake):
    assert send() == {"data": True}
    (message,) = fake.messages
    assert message["parse_mode"] == "HTML"
    assert message["sent"].startswith("<b>MISP event")
    assert "Ransomware - Xorist" in message["text"] and "Threat level: Low" in message["text"]


def test_event_content_is_escaped_but_template_markup_is_not(fake):
    data = {"Event": {"id": "1", "info": "<script>alert(1)</script> & <b>"}}
    assert send(data, message_template="<b>{{ Event.info }}</b>") == {"data": True}
    message = fake.messages[-1]
    assert message["sent"] == "<b>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;</b>"
    assert message["text"] == "<script>alert(1)</script> & <b>"


def test_long_message_is_split_into_valid_messages(fake):
    data = {"Event": {"id": "1", "info": "x", "Attribute": [{"type": "ip-src", "value": f"10.0.{i // 256}.{i % 256} & é😀"}
                                                            for i in range(600)]}}
    template = "<b>{{ Event.info }}</b>\n<pre>{% for a in Event.Attribute %}{{ a.value }}\n{% endfor %}</pre>"
    assert send(data, message_template=template) == {"data": True}
    assert len(fake.messages) >= 3
    for message in fake.messages:
        assert parse_html(message["sent"])[0] is None
        assert utf16_length(message["text"]) <= 4096
    assert "".join(m["text"] for m in fake.messages).count("&") == 600


def test_truncate_sends_one_message(fake):
    assert send(message_template="y" * 9000, long_messages="truncate") == {"data": True}
    (message,) = fake.messages
    assert len(message["text"]) == 4096 and message["text"].endswith("…")


def test_split_html_keeps_tags_balanced():
    pieces = tg.split_html("<b>" + "a " * 30 + "</b><i>x</i>", limit=20)
    assert all(parse_html(p)[0] is None for p in pieces)
    assert all(tg.visible_length(p) <= 20 for p in pieces)


def test_bad_token_is_clear_and_never_shown(fake):
    other = "987654321:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    answer = send(bot_token=other)
    assert "rejected the bot token" in answer["error"] and other not in answer["error"]
    assert "987654321" not in answer["error"]
    assert "rejected the bot token" in send(bot_token="malformed-token")["error"]


def test_unknown_chat_and_forbidden(fake):
    assert send(chat_id="1234")["error"] == "Telegram: chat 1234 not found (is the bot a member of the chat?)"
    assert "may not post in chat 777" in send(chat_id="777")["error"]


def test_retry_after_is_honoured_then_bounded(fake):
    fake.flood = 1
    assert send() == {"data": True}
    fake.flood, fake.retry_after = 1, 30
    answer = send()
    assert "rate limited" in answer["error"] and "retry after 30 s" in answer["error"]
    fake.flood, fake.retry_after = 5, 1
    with settings({"telegram": {"max_retries": 1, "max_retry_wait": 1}}, services={"telegram": fake.base_url}):
        assert "after 1 retry" in send()["error"]


def test_unreachable_api_and_timeout():
    with TelegramFake() as gone:
        base = gone.base_url
    with settings({"telegram": {"request_timeout": 1}}, services={"telegram": base}):
        answer = send()
    assert answer["error"].startswith("Telegram: cannot reach http://127.0.0.1:") and TOKEN not in answer["error"]
    with TelegramFake() as slow, settings({"telegram": {"request_timeout": 0.3}}, services={"telegram": slow.base_url}):
        slow.delay = 10
        assert "no answer from" in send()["error"]


def test_misp_node_sends_like_misp(fake):
    body = {"module": "misp_telegram_send_alert", "data": {}, "params": {
        "bot_token": TOKEN, "chat_id": CHAT, "message_body_template": "<b>raw</b> text"}}
    assert misp_telegram_send_alert.dict_handler(body) == {"result": True, "errors": []}
    request = fake.requests[-1]
    assert request.json() == {"chat_id": CHAT, "text": "<b>raw</b> text", "parse_mode": "HTML"}


def test_misp_node_error_strings(fake):
    def run(**params):
        base = {"bot_token": TOKEN, "chat_id": CHAT, "message_body_template": "hi"}
        return misp_telegram_send_alert.dict_handler({"data": {}, "params": {**base, **params}})

    assert run(bot_token="111:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")["errors"] == ["Authentication failed"]
    answer = run(message_body_template="a < b")
    assert answer["errors"][0].startswith("Something went wrong with the request: ")
    assert "can't parse entities" in answer["errors"][0]
    assert run(chat_id="999")["result"] is False
