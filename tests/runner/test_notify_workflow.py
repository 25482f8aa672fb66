"""Seed workflow (b) run by the real runner CLI against the real module server, delivering for
real: MISP's ``send-mail`` to the local SMTP server on tlp:red, otherwise the ``mattermost``
misp-module, MISP's ``ms-teams-webhook`` and ``telegram-send-alert`` to their local fakes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from tests.support.cli import misp_workflow
from tests.support.data import WORKFLOWS
from tests.support.fakes.mattermost import CHANNEL, MattermostFake
from tests.support.fakes.mattermost import TOKEN as MM_TOKEN
from tests.support.fakes.smtp import SmtpFake
from tests.support.fakes.telegram import TOKEN as TG_TOKEN
from tests.support.fakes.telegram import TelegramFake
from tests.support.fakes.webhook import WebhookFake
from tests.support.harness import ModuleServer
from tests.support.notify import event

SEED_B = WORKFLOWS / "seed-b-leak-guard-notify.json"
TG_CHAT = "-1001234567890"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with MattermostFake() as mm, WebhookFake() as teams, TelegramFake() as tg, SmtpFake() as smtp:
        tg.chats.add(TG_CHAT)
        config = {
            "services": {"telegram": tg.base_url},
            "modules": {
                "send_mail": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                              "sender": "misp@example.org",
                              "users": [{"id": 1, "email": "admin@example.org", "org_id": 1, "site_admin": True},
                                        {"id": 2, "email": "user@example.org", "org_id": 1}]},
                "misp_webhook": {"rest_client_enable_arbitrary_urls": True},
            },
        }
        workflow = json.loads(SEED_B.read_text())
        replacements = {"chat.example.org": mm.url, "REPLACE-MATTERMOST-TOKEN": MM_TOKEN, "REPLACE-CHANNEL-ID": CHANNEL,
                        "https://example.webhook.office.com/webhookb2/REPLACE": teams.url + "/teams",
                        "REPLACE-TELEGRAM-TOKEN": TG_TOKEN}
        text = json.dumps(workflow)
        for old, new in replacements.items():
            assert old in text
            text = text.replace(old, new)
        path = tmp_path_factory.mktemp("seed") / "seed-b.json"
        path.write_text(text)
        config["server"] = {"outbound_allow": [f"127.0.0.1:{mm.port}", f"127.0.0.1:{teams.port}"]}
        with ModuleServer(config=config) as server:
            yield {"server": server, "workflow": path, "mm": mm, "teams": teams, "tg": tg, "smtp": smtp}


def run(env, tmp_path, data):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(data))
    done = misp_workflow("run", env["workflow"], "--data", path, "--modules-url", env["server"].url, "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_tlp_red_mails_the_admins_then_blocks(env, tmp_path):
    data = event()
    data["Event"]["Tag"].append({"name": "tlp:red"})
    code, doc = run(env, tmp_path, data)
    assert code == 1 and doc["outcome"] == "blocked"
    ((sender, rcpts, message),) = env["smtp"].messages
    assert rcpts == ["admin@example.org"]
    assert message["Subject"] == "Potential leak: publishing tlp:red event Ransomware - Xorist"
    assert message.get_payload(decode=True).decode().startswith(
        f"Someone tried to publish a tlp:red event: Ransomware - Xorist ({data['Event']['uuid']}), 9 attributes.")


def test_other_events_are_announced_on_three_channels(env, tmp_path):
    code, doc = run(env, tmp_path, event())
    assert code == 0 and doc["outcome"] == "success", doc
    assert all(n["status"] == "success" for n in doc["nodes"] if n["kind"] == "action"), doc["nodes"]
    uuid = event()["Event"]["uuid"]
    assert env["mm"].posts[-1]["message"] == f"Published: Ransomware - Xorist ({uuid}), 9 attributes"
    form = parse_qs(env["teams"].requests[-1].body.decode())
    assert json.loads(form["text"][0])["Event"]["uuid"] == uuid
    assert env["tg"].messages[-1]["text"] == f"Published: Ransomware - Xorist ({uuid}), 9 attributes"
