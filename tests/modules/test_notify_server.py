"""Every notification module through the real module server: ``/query`` with the request MISP
sends (misp-behaviour.md §11.2: params by id, ``filteredItems``, ``matchingData`` keyed by the
humanised label), the runner's request for MISP's own nodes, and ``/modules`` as MISP reads it.
Secrets never show up in answers, ``/modules`` or the server log (debug level included)."""

from __future__ import annotations

import pytest

from tests.support.fakes.mattermost import CHANNEL, MattermostFake
from tests.support.fakes.mattermost import TOKEN as MM_TOKEN
from tests.support.fakes.smtp import SmtpFake
from tests.support.fakes.teams import SIG, TeamsFake
from tests.support.fakes.telegram import CHAT, TelegramFake
from tests.support.fakes.telegram import TOKEN as TG_TOKEN
from tests.support.fakes.webhook import WebhookFake
from tests.support.harness import ModuleServer
from tests.support.notify import event, misp_request

MISP_FACING = {"mattermost", "ms_teams", "telegram", "send_mail", "http_webhook"}
RUNNER_ONLY = {"misp_webhook": "webhook", "misp_ms_teams_webhook": "ms-teams-webhook",
               "misp_telegram_send_alert": "telegram-send-alert", "misp_send_mail": "send-mail",
               "misp_send_log_mail": "send-log-mail"}


@pytest.fixture(scope="module")
def env():
    with MattermostFake() as mm, TeamsFake() as teams, TelegramFake() as tg, WebhookFake() as hook, SmtpFake() as smtp:
        config = {
            # the fakes are on loopback: allow exactly their ports, as a deployment its internal services
            "server": {"outbound_allow": [f"127.0.0.1:{f.port}" for f in (mm, teams, hook)]},
            "services": {"telegram": tg.base_url},
            "modules": {
                "send_mail": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                              "sender": "misp@example.org",
                              "users": [{"id": 1, "email": "admin@example.org", "org_id": 1, "site_admin": True}]},
                "misp_webhook": {"rest_client_enable_arbitrary_urls": True},
            },
        }
        with ModuleServer(config=config, extra_args=["-d"]) as server:
            yield {"server": server, "mm": mm, "teams": teams, "tg": tg, "hook": hook, "smtp": smtp}


def query(env, body):
    status, answer = env["server"].query(body)
    assert status == 200
    return answer


def with_extraction(module, params, data=None):
    """MISP's body for a node whose ``data_extraction_path`` is ``Event.Tag.{n}.name`` and whose
    filter matched two attributes."""
    data = data or event()
    return misp_request(module, {**params, "data_extraction_path": "Event.Tag.{n}.name"}, data,
                        filtered=data["Event"]["Attribute"][:2],
                        matching={"Data Extraction Path": [t["name"] for t in data["Event"]["Tag"]]})


def test_modules_metadata_as_misp_reads_it(env):
    entries = {m["name"]: m for m in env["server"].modules()}
    for name in MISP_FACING:
        meta = entries[name]["meta"]
        assert meta["module-type"] == ["action"] and meta["description"]
        config = meta["config"]
        assert set(config) == {"params", "blocking", "support_filters", "expect_misp_core_format"}
        for pname, spec in config["params"].items():
            assert pname == pname.lower() and spec["type"] in ("string", "large_string", "hash_path")
            assert not spec.get("jinja_supported")  # rendered by the module itself, once
    for name, misp_id in RUNNER_ONLY.items():
        meta = entries[name]["meta"]
        assert meta["module-type"] == ["workflow"] and meta["misp_workflow"]["id"] == misp_id


def test_mattermost(env):
    body = with_extraction("mattermost", {"mattermost_hostname": env["mm"].url, "bot_access_token": MM_TOKEN,
                                          "channel_id": CHANNEL, "message_template": ""})
    assert query(env, body) == {"data": True}
    text = env["mm"].posts[-1]["message"]
    assert "Matching attributes (2):" in text and "**Data Extraction Path:** tlp:white" in text


def test_teams(env):
    body = with_extraction("ms_teams", {"webhook_url": env["teams"].workflow_url})
    assert query(env, body) == {"data": True}
    assert env["teams"].card_problems[-1] == []


def test_telegram_runs_on_the_server_loop(env):
    body = with_extraction("telegram", {"bot_token": TG_TOKEN, "chat_id": CHAT})
    assert query(env, body) == {"data": True}
    assert query(env, body) == {"data": True}  # a fresh Bot per call: no client bound to a closed loop
    assert "Ransomware - Xorist" in env["tg"].messages[-1]["text"]


def test_send_mail(env):
    body = with_extraction("send_mail", {"recipients": "All admins, soc@example.org",
                                         "mail_template_subject": "{{ Event.info }}"})
    before = len(env["smtp"].messages)
    assert query(env, body) == {"data": True}
    new = env["smtp"].messages[before:]
    assert sorted(m[1][0] for m in new) == ["admin@example.org", "soc@example.org"]
    assert new[0][2]["Subject"] == "Ransomware - Xorist"


def test_http_webhook(env):
    body = misp_request("http_webhook", {"url": env["hook"].url + "/{{ Event.uuid }}"}, event())
    assert query(env, body) == {"data": True}
    assert env["hook"].requests[-1].path == "/" + event()["Event"]["uuid"]


def test_runner_requests_for_misps_own_nodes(env):
    node = {"id": "3", "saved_filters": {"selector": "", "value": "", "operator": "", "path": ""}, "indexed_params": {}}
    data = event()
    answer = query(env, {"module": "misp_webhook", "data": data, "params": {"url": env["hook"].url}, "node": node})
    assert answer["result"] is True
    answer = query(env, {"module": "misp_telegram_send_alert", "data": data, "node": node,
                         "params": {"bot_token": "1:short", "chat_id": CHAT, "message_body_template": "x"}})
    assert answer["result"] is False and answer["error"].startswith("Something went wrong with the request")
    answer = query(env, {"module": "misp_send_mail", "data": data, "node": node,
                         "params": {"recipients": ["All admins"], "mail_template_subject": "", "mail_template_body": ""}})
    assert answer == {"result": False, "errors": ["The mail template is empty."], "error": "The mail template is empty."}


def test_secrets_never_leak(env):
    answers = [
        query(env, misp_request("mattermost", {"mattermost_hostname": env["mm"].url,
                                               "bot_access_token": "badtoken-zz9", "channel_id": CHANNEL}, event())),
        query(env, misp_request("telegram", {"bot_token": "55555:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
                                             "chat_id": CHAT}, event())),
        query(env, misp_request("ms_teams", {"webhook_url": env["teams"].workflow_url.replace(SIG, "badsig-zz9")},
                                event())),
    ]
    assert all("error" in a for a in answers)
    text = repr(answers) + env["server"].logs() + repr(env["server"].modules())
    for secret in ("badtoken-zz9", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", "badsig-zz9", MM_TOKEN, TG_TOKEN, SIG):
        assert secret not in text
