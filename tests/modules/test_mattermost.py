"""Mattermost module end to end: real requests to the local Mattermost fake."""

from __future__ import annotations

import pytest

from misp_modules.contract.request import ParamError
from misp_modules.lib.notify import mattermost as mm
from misp_modules.modules.action_mod import mattermost
from tests.support.fakes.mattermost import CHANNEL, HOOK, TOKEN, MattermostFake
from tests.support.notify import event, misp_request, settings


@pytest.fixture
def fake():
    with MattermostFake() as service, settings({"mattermost": {"request_timeout": 2, "max_retry_wait": 1}}):
        yield service


def send(fake, data=None, **params):
    base = {"mattermost_hostname": fake.url, "bot_access_token": TOKEN, "channel_id": CHANNEL}
    base.update(params)
    return mattermost.dict_handler(misp_request("mattermost", base, data if data is not None else event()))


@pytest.mark.parametrize("typed, url", [
    ("chat.example.org", "https://chat.example.org"),
    ("chat.example.org:8065", "https://chat.example.org:8065"),
    ("http://10.0.0.5:8065/", "http://10.0.0.5:8065"),
    ("http://chat.example.org", "http://chat.example.org"),
    ("https://example.org/mattermost/api/v4", "https://example.org/mattermost"),
    ("HTTPS://Example.org:443/team/", "https://example.org/team"),
    ("  [::1]:8065 ", "https://[::1]:8065"),
])
def test_server_url_from_any_hostname_form(typed, url):
    assert mm.server_url(typed) == url


@pytest.mark.parametrize("typed", ["", "ftp://host", "https://host:99999", "https://"])
def test_server_url_rejects_what_is_not_an_address(typed):
    with pytest.raises(ParamError, match="mattermost_hostname"):
        mm.server_url(typed)


def test_default_message_summarises_the_event(fake):
    assert send(fake) == {"data": True}
    (post,) = fake.posts
    assert post["channel_id"] == CHANNEL
    text = post["message"]
    assert "MISP event" in text and "Ransomware - Xorist" in text
    assert "Threat level:** Low" in text and "tlp:white" in text and "9 attributes" in text


def test_token_is_verified_once_and_reused(fake):
    send(fake)
    send(fake)
    paths = [r.path for r in fake.requests]
    assert paths.count("/api/v4/users/me") == 1
    assert paths.count("/api/v4/posts") == 2


def test_template_sees_event_matching_data_and_filtered_items(fake):
    data = event()
    attrs = data["Event"]["Attribute"][:2]
    body = misp_request("mattermost", {"mattermost_hostname": fake.url, "bot_access_token": TOKEN,
                                       "channel_id": CHANNEL,
                                       "message_template": "{{ Event.info }}|{{ matchingData['Data Extraction Path']|join(',') }}"
                                                           "|{{ filteredItems|length }}|{{ summary.matched_total }}",
                                       "data_extraction_path": "Event.Tag.{n}.name"},
                        data, filtered=attrs, matching={"Data Extraction Path": ["tlp:white", "x"]})
    assert mattermost.dict_handler(body) == {"data": True}
    assert fake.posts[-1]["message"] == "Ransomware - Xorist|tlp:white,x|2|2"


def test_event_content_is_rendered_once(fake):
    data = {"Event": {"id": "1", "info": "{{ 7*7 }} {% raw %}"}}
    assert send(fake, data, message_template="{{ Event.info }}") == {"data": True}
    assert fake.posts[-1]["message"] == "{{ 7*7 }} {% raw %}"


def test_template_error_names_the_line(fake):
    answer = send(fake, message_template="line one\n{{ Event.info }\n")
    assert "message_template" in answer["error"] and "line 2" in answer["error"]
    assert fake.posts == []


def test_long_message_is_split_into_posts(fake):
    text = "\n".join(f"line {i:05d} " + "x" * 90 for i in range(400))  # ~40 000 characters
    assert send(fake, message_template=text) == {"data": True}
    assert len(fake.posts) == 3
    assert all(len(p["message"]) <= 16383 for p in fake.posts)
    assert "".join(p["message"] for p in fake.posts) == text


def test_bad_token_is_a_clear_error_without_the_token(fake):
    answer = send(fake, bot_access_token="wrong-token-123456")
    assert "rejected the bot access token" in answer["error"] and "401" in answer["error"]
    assert "wrong-token-123456" not in answer["error"]


def test_not_a_member_of_the_channel(fake):
    answer = send(fake, channel_id="7yb3ndu1k3r5tmi9nh4nbf3r3a")
    assert "may not post in channel 7yb3ndu1k3r5tmi9nh4nbf3r3a" in answer["error"] and "403" in answer["error"]


def test_unknown_channel(fake):
    answer = send(fake, channel_id="zzzzzzzzzzzzzzzzzzzzzzzzzz")
    assert "channel zzzzzzzzzzzzzzzzzzzzzzzzzz not found" in answer["error"]


def test_rate_limit_is_retried_within_bounds(fake):
    fake.rate_limit = 2
    assert send(fake) == {"data": True}
    assert len(fake.posts) == 1


def test_rate_limit_gives_up_after_the_retries(fake):
    fake.rate_limit = 5
    answer = send(fake)
    assert "rate limited" in answer["error"] and "after 2 retries" in answer["error"]
    assert fake.posts == []


def test_rate_limit_longer_than_the_budget_fails_at_once(fake):
    fake.rate_limit = 1
    fake.retry_after = "30"
    answer = send(fake)
    assert "retry after 30 s" in answer["error"]
    assert [r.path for r in fake.requests].count("/api/v4/posts") == 1


def test_server_error(fake):
    fake.status_override = 503
    answer = send(fake)
    assert "server error" in answer["error"] and "503" in answer["error"]


def test_connection_refused():
    with MattermostFake() as gone:
        url = gone.url
    with settings():
        answer = mattermost.dict_handler(misp_request("mattermost", {"mattermost_hostname": url,
                                                                     "bot_access_token": TOKEN, "channel_id": CHANNEL},
                                                      event()))
    assert answer["error"].endswith("connection refused")


def test_timeout_is_explicit():
    with MattermostFake() as slow, settings({"mattermost": {"request_timeout": 0.3}}):
        slow.delay = 10
        answer = mattermost.dict_handler(misp_request("mattermost", {"mattermost_hostname": slow.url,
                                                                     "bot_access_token": "tok-timeout-1",
                                                                     "channel_id": CHANNEL}, event()))
    assert "no answer from" in answer["error"] and "within 0.3 s" in answer["error"]


def test_incoming_webhook(fake):
    hook = f"{fake.url}/hooks/{HOOK}"
    answer = mattermost.dict_handler(misp_request("mattermost", {"incoming_webhook_url": hook,
                                                                 "message_template": "**{{ Event.info }}**"}, event()))
    assert answer == {"data": True}
    assert fake.hook_posts == [{"text": "**Ransomware - Xorist**"}]


def test_unknown_incoming_webhook_does_not_leak_its_id(fake):
    answer = mattermost.dict_handler(misp_request("mattermost", {"incoming_webhook_url": f"{fake.url}/hooks/secrethookid42"},
                                                  event()))
    assert "incoming webhook not found" in answer["error"]
    assert "secrethookid42" not in answer["error"]


def test_missing_params_are_named(fake):
    answer = mattermost.dict_handler(misp_request("mattermost", {"mattermost_hostname": fake.url}, event()))
    assert answer == {"error": "param `bot_access_token` is empty: set a bot access token, or an incoming webhook URL"}
    answer = mattermost.dict_handler({"module": "mattermost", "data": {}, "params": {"channel_id": ["x"]}})
    assert "param `channel_id` must be a string" in answer["error"]
