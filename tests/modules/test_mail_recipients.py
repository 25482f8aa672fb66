"""Review finding: ``send_mail`` sent malformed recipients to whatever the SMTP library read
out of them: "a@exa mple.org" went to ``a@exa`` (another mailbox), "@@@" to the empty
address. Now a recipient that is not ``a@b`` / ``Name <a@b>`` is a param error naming it, and
nothing is sent (not even to the well-formed recipients of the same list)."""

from __future__ import annotations

import pytest

from tests.support.fakes.smtp import SmtpFake
from tests.support.harness import ModuleServer
from tests.support.notify import event, misp_request


@pytest.fixture(scope="module")
def mail_server():
    with SmtpFake() as smtp:
        config = {"modules": {"send_mail": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                                            "sender": "misp@example.org", "request_timeout": 3}}}
        with ModuleServer(config=config) as server:
            yield server, smtp


def send(server, recipients: str):
    return server.query(misp_request("send_mail", {"recipients": recipients}, event()))


@pytest.mark.parametrize("recipients, named", [
    ("ir@example.org, a@exa mple.org", "'a@exa mple.org'"),
    ("@@@", "'@@@'"),
    ("ir@example.org soc@example.org", "'ir@example.org soc@example.org'"),
    ("ir@example.org\r\nBcc: evil@example.org", "'Bcc: evil@example.org'"),
    ("<ir@example.org", "'<ir@example.org'"),
])
def test_malformed_recipients_are_a_param_error_and_nothing_is_sent(mail_server, recipients, named):
    server, smtp = mail_server
    before = len(smtp.messages)
    status, answer = send(server, recipients)
    assert status == 200
    assert answer["error"] == f"param `recipients`: not an e-mail address: {named}"
    assert len(smtp.messages) == before


def test_well_formed_recipients_still_get_their_mail(mail_server):
    server, smtp = mail_server
    before = len(smtp.messages)
    assert send(server, ' ir@example.org ; "SOC desk" <soc@example.org>\nü@exämple.org')[1] == {"data": True}
    assert sorted(m[1][0] for m in smtp.messages[before:]) == ["ir@example.org", "soc@example.org", "ü@exämple.org"]
