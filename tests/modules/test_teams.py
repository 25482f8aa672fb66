"""Teams module: Adaptive Card to a Workflows webhook (requests), MessageCard via pymsteams."""

from __future__ import annotations

import pytest

from misp_modules.modules.action_mod import ms_teams
from tests.support.fakes.teams import SIG, TeamsFake
from tests.support.notify import event, misp_request, settings


@pytest.fixture
def fake():
    with TeamsFake() as service, settings({"ms_teams": {"request_timeout": 2}}):
        yield service


def send(url, data=None, **params):
    return ms_teams.dict_handler(misp_request("ms_teams", {"webhook_url": url, **params},
                                              data if data is not None else event()))


def test_adaptive_card_to_workflows_202_is_success(fake):
    assert send(fake.workflow_url) == {"data": True}
    assert fake.card_problems == [[]]
    (body,) = fake.received
    card = body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"].endswith("Ransomware - Xorist")
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Threat level"] == "Low" and "tlp:white" in facts["Tags"]


def test_card_lists_matching_attributes_and_template_text(fake):
    data = event()
    attrs = data["Event"]["Attribute"][:3]
    body = misp_request("ms_teams", {"webhook_url": fake.workflow_url, "message_template": "Seen by {{ Event.Orgc.name }}"},
                        data, filtered=attrs)
    assert ms_teams.dict_handler(body) == {"data": True}
    texts = [b.get("text", "") for b in fake.received[0]["attachments"][0]["content"]["body"]]
    assert "Matching attributes (3):" in texts
    assert any(attrs[0]["value"] in t for t in texts)
    assert texts[-1] == f"Seen by {data['Event']['Orgc']['name']}"


def test_link_to_misp_when_its_url_is_known(fake):
    with settings({"ms_teams": {"misp_url": "https://misp.example.org/"}}):
        assert send(fake.workflow_url, {"Event": {"id": "42", "info": "x"}}) == {"data": True}
    actions = fake.received[0]["attachments"][0]["content"]["actions"]
    assert actions == [{"type": "Action.OpenUrl", "title": "Open in MISP", "url": "https://misp.example.org/events/view/42"}]


def test_legacy_message_card_through_pymsteams(fake):
    assert send(fake.connector_url, card_format="messagecard") == {"data": True}
    (card,) = fake.received
    assert card["title"].endswith("Ransomware - Xorist") and card["themeColor"] == "107C10"
    assert {"name": "Threat level", "value": "Low"} in card["sections"][0]["facts"]


def test_bad_signature_is_clear_and_hides_the_url(fake):
    answer = send(fake.workflow_url.replace(SIG, "forgedsignature0000"))
    assert "webhook URL was rejected" in answer["error"] and "401" in answer["error"]
    assert "forgedsignature0000" not in answer["error"] and "abc123" not in answer["error"]


def test_rate_limit_retried(fake):
    fake.rate_limit = 1
    assert send(fake.workflow_url) == {"data": True}
    fake.rate_limit = 1
    assert send(fake.connector_url, card_format="messagecard") == {"data": True}
    assert len(fake.received) == 2


def test_server_error_and_unknown_format(fake):
    fake.status = 502
    answer = send(fake.workflow_url)
    assert "server error" in answer["error"] and "502" in answer["error"] and SIG not in answer["error"]
    answer = send(fake.connector_url, card_format="messagecard")
    assert "502" in answer["error"] and SIG not in answer["error"]
    assert "unsupported value 'html'" in send(fake.workflow_url, card_format="html")["error"]


def test_connection_refused_hides_the_url():
    with TeamsFake() as gone:
        url = gone.workflow_url
    with settings():
        answer = send(url)
    assert answer["error"].endswith("connection refused") and SIG not in answer["error"]
