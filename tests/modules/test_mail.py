"""E-mail modules over real SMTP (aiosmtpd on 127.0.0.1): ``send_mail`` and MISP's
``send-mail`` / ``send-log-mail`` nodes, recipients from settings or from MISP via PyMISP."""

from __future__ import annotations

import smtplib
import ssl

import pytest
import trustme

from misp_modules.lib.http import OutboundError
from misp_modules.lib.misp import _clients
from misp_modules.lib.notify import recipients
from misp_modules.modules.action_mod import misp_send_log_mail, misp_send_mail, send_mail
from misp_modules.settings import MispConnection
from tests.support.fakes.misp import API_KEY, MispFake
from tests.support.fakes.smtp import SmtpFake
from tests.support.notify import event, misp_request, settings

USERS = [
    {"id": 1, "email": "admin@example.org", "org_id": 1, "site_admin": True},
    {"id": 2, "email": "orgadmin@example.org", "org_id": 2, "org_admin": True},
    {"id": 3, "email": "analyst@example.org", "org_id": 2},
    {"id": 4, "email": "gone@example.org", "org_id": 2, "site_admin": True, "disabled": True},
]


def smtp_settings(server, **extra):
    return {"send_mail": {"smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_security": "none",
                          "sender": "misp@example.org", "request_timeout": 5, "users": USERS, **extra}}


@pytest.fixture
def smtp():
    with SmtpFake() as server, settings(smtp_settings(server)):
        yield server


def rcpts(server):
    return sorted(r for _, tos, _ in server.messages for r in tos)


def test_send_mail_default_subject_and_body(smtp):
    answer = send_mail.dict_handler(misp_request("send_mail", {"recipients": "soc@example.org, ir@example.org"}, event()))
    assert answer == {"data": True}
    assert rcpts(smtp) == ["ir@example.org", "soc@example.org"]
    sender, _, message = smtp.messages[0]
    assert sender == "misp@example.org" and message["To"] in ("soc@example.org", "ir@example.org")
    assert message["Subject"].startswith("[MISP] MISP event") and "Ransomware - Xorist" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert "Threat level: Low" in body and "tlp:white" in body


def test_send_mail_templates_and_all_admins_from_settings(smtp):
    params = {"recipients": "All admins; extra@example.org", "mail_template_subject": "Leak? {{ Event.info }}",
              "mail_template_body": "{% for t in summary.tags %}{{ t }}\n{% endfor %}"}
    assert send_mail.dict_handler(misp_request("send_mail", params, event())) == {"data": True}
    assert rcpts(smtp) == ["admin@example.org", "extra@example.org"]
    message = smtp.messages[0][2]
    assert message["Subject"] == "Leak? Ransomware - Xorist"
    assert message.get_payload(decode=True).decode().splitlines()[0] == "tlp:white"


def test_send_mail_errors(smtp):
    assert "param `recipients` is empty" in send_mail.dict_handler(misp_request("send_mail", {}, {}))["error"]
    answer = send_mail.dict_handler(misp_request("send_mail", {"recipients": "a@example.org",
                                                               "mail_template_body": "{% if %}"}, {}))
    assert "mail_template_body" in answer["error"] and "line 1" in answer["error"]
    smtp.refuse.add("bad@example.org")
    answer = send_mail.dict_handler(misp_request("send_mail", {"recipients": "bad@example.org, ok@example.org"}, {}))
    assert answer["error"].endswith("refused the recipients bad@example.org")
    assert rcpts(smtp) == ["ok@example.org"]


def test_smtp_login_and_wrong_password():
    with SmtpFake(auth={"misp": "s3cret-pass"}) as server:
        with settings(smtp_settings(server, smtp_username="misp", smtp_password="s3cret-pass")):
            assert send_mail.dict_handler(misp_request("send_mail", {"recipients": "a@example.org"}, {})) == {"data": True}
        with settings(smtp_settings(server, smtp_username="misp", smtp_password="wrong-pass-123")):
            answer = send_mail.dict_handler(misp_request("send_mail", {"recipients": "a@example.org"}, {}))
    assert "refused the login of 'misp'" in answer["error"] and "wrong-pass-123" not in answer["error"]
    assert len(server.messages) == 1


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_implicit_tls_with_a_ca_bundle(ca, tmp_path, security):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with SmtpFake(tls_context=context, implicit_tls=security == "tls") as server:
        with settings(smtp_settings(server, smtp_security=security)):
            answer = send_mail.dict_handler(misp_request("send_mail", {"recipients": "a@example.org"}, {}))
            assert "TLS certificate verification failed" in answer["error"]
        with settings(smtp_settings(server, smtp_security=security, ca_bundle=str(bundle))):
            assert send_mail.dict_handler(misp_request("send_mail", {"recipients": "a@example.org"}, {})) == {"data": True}
    assert len(server.messages) == 1


def test_connection_refused_and_no_sender():
    with SmtpFake() as gone:
        port = gone.port
    with settings({"send_mail": {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                                 "sender": "m@example.org"}}):
        answer = send_mail.dict_handler(misp_request("send_mail", {"recipients": "a@example.org"}, {}))
    assert answer["error"] == f"SMTP: cannot send through smtp://127.0.0.1:{port}: connection refused"
    with settings({}):
        assert "no sender address" in send_mail.dict_handler(
            misp_request("send_mail", {"recipients": "a@example.org"}, {}))["error"]


def node(module, data, **params):
    return module.dict_handler({"data": data, "params": params})


def test_misp_send_mail_node_rules(smtp):
    assert node(misp_send_mail, {}, recipients=[], mail_template_subject="s")["errors"] == ["No recipient set."]
    assert node(misp_send_mail, {}, mail_template_subject="")["errors"] == ["The mail template is empty."]
    assert node(misp_send_mail, {}, mail_template_subject="s", mail_template_body="b") == {"result": True, "errors": []}
    assert rcpts(smtp) == ["admin@example.org"]  # default ["All admins"]; disabled admins get nothing
    smtp.messages.clear()
    answer = node(misp_send_mail, {}, recipients=["All accounts"], mail_template_subject="s", mail_template_body="b")
    assert answer["result"] is True
    assert rcpts(smtp) == ["admin@example.org", "analyst@example.org", "orgadmin@example.org"]
    smtp.messages.clear()
    node(misp_send_mail, {}, recipients=["ANALYST@example.org", "stranger@example.org"], mail_template_subject="s")
    assert rcpts(smtp) == ["analyst@example.org"]  # only MISP users, as MISP


def test_misp_send_log_mail_org_admins(smtp):
    data = {"Log": {"id": "9", "title": "User (3): analyst@example.org", "user_id": "3", "model": "User"}}
    assert node(misp_send_log_mail, data, recipients=["Org admins"], mail_template_subject="s")["result"] is True
    assert rcpts(smtp) == ["orgadmin@example.org"]
    smtp.messages.clear()
    unknown = {"Log": {"user_id": "99"}}
    assert node(misp_send_log_mail, unknown, recipients=["Org admins"], mail_template_subject="s") == {
        "result": False, "errors": []}
    assert smtp.messages == []


def test_recipients_from_misp_through_pymisp(smtp):
    with MispFake() as misp:
        misp.users = [
            {"User": {"id": "1", "email": "root@misp.test", "org_id": "1", "disabled": False},
             "Role": {"perm_site_admin": True, "perm_admin": True}},
            {"User": {"id": "5", "email": "user@misp.test", "org_id": "1", "disabled": False},
             "Role": {"perm_site_admin": False, "perm_admin": False}},
        ]
        conn = MispConnection(url=misp.url, key=API_KEY, verify_tls=False, timeout=5)
        with settings(smtp_settings(smtp), misp=conn):
            try:
                assert node(misp_send_mail, {}, mail_template_subject="s")["result"] is True
                answer = send_mail.dict_handler(misp_request("send_mail", {"recipients": "All accounts"}, {}))
            finally:
                _clients.clear()
        assert answer == {"data": True}
        assert any(r.path == "/admin/users/index" for r in misp.requests)
    assert rcpts(smtp) == ["root@misp.test", "root@misp.test", "user@misp.test"]


def test_keywords_without_a_user_directory_are_explained():
    with pytest.raises(OutboundError, match="no MISP users to resolve this from"):
        recipients.resolve(["All admins"], None)
    assert recipients.resolve(["a@x.org", "A@x.org"], None) == ["a@x.org"]


def test_smtp_fake_really_requires_auth():
    with SmtpFake(auth={"u": "p"}) as server, smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPException):
            client.sendmail("a@example.org", ["b@example.org"], "Subject: x\n\ny")
