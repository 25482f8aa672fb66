"""E-mail over SMTP (``smtplib``): one message per recipient, on one connection.

Settings live in ``[modules.<module>]``, falling back to ``[modules.send_mail]`` so the three
e-mail modules share one SMTP configuration: ``smtp_host`` (localhost), ``smtp_port`` (25, 587
with STARTTLS, 465 with TLS), ``smtp_security`` (``none`` for localhost, else ``starttls``;
or ``tls``), ``smtp_username``, ``smtp_password``, ``sender`` (required), ``request_timeout``
(10 s), ``ca_bundle``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from misp_modules.lib.http import OutboundError, failure, transport_reason
from misp_modules.settings import get_settings

SECURITY = ("none", "starttls", "tls")


def _setting(module: str, key: str, default: Any = None) -> Any:
    value = get_settings().module_setting(module, key, None)
    return get_settings().module_setting("send_mail", key, default) if value is None else value


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    timeout: float = 10.0
    ca_bundle: str | None = None

    @classmethod
    def for_module(cls, module: str) -> SmtpConfig:
        host = str(_setting(module, "smtp_host", "localhost"))
        security = str(_setting(module, "smtp_security", "none" if host in ("localhost", "127.0.0.1", "::1")
                                else "starttls")).lower()
        if security not in SECURITY:
            raise OutboundError(f"setting smtp_security must be one of {', '.join(SECURITY)}, not {security!r}")
        port = _setting(module, "smtp_port", {"none": 25, "starttls": 587, "tls": 465}[security])
        timeout = _setting(module, "request_timeout", 10.0)
        if isinstance(port, bool) or not isinstance(port, int) or isinstance(timeout, bool) \
                or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise OutboundError("settings smtp_port must be an integer and request_timeout a positive number")
        sender = str(_setting(module, "sender", "") or "")
        if not sender:
            where = "[modules.send_mail]" if module == "send_mail" else f"[modules.{module}] or [modules.send_mail]"
            raise OutboundError(f"no sender address: set sender in {where}")
        return cls(host=host, port=port, security=security, username=str(_setting(module, "smtp_username", "") or ""),
                   password=str(_setting(module, "smtp_password", "") or ""), sender=sender,
                   timeout=float(timeout), ca_bundle=_setting(module, "ca_bundle", None) or None)

    @property
    def target(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_bundle)


def compose(config: SmtpConfig, recipient: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = recipient
    message["Subject"] = " ".join(subject.split())  # a header is one line
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


def send(config: SmtpConfig, recipients: Iterable[str], subject: str, body: str) -> None:
    """Send one e-mail per recipient. Raises :class:`OutboundError` naming what failed (a refused
    recipient does not stop the others, but fails the call)."""
    secrets = [config.password]
    refused: list[str] = []
    try:
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=config.tls_context())
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=config.tls_context())
            if config.username:
                smtp.login(config.username, config.password)
            for recipient in recipients:
                try:
                    smtp.send_message(compose(config, recipient, subject, body))
                except smtplib.SMTPRecipientsRefused:
                    refused.append(recipient)
    except smtplib.SMTPAuthenticationError as exc:
        raise failure(f"SMTP: {config.target} refused the login of {config.username!r} ({exc.smtp_code})", secrets) from None
    except smtplib.SMTPNotSupportedError:
        raise failure(f"SMTP: {config.target} does not offer STARTTLS (set smtp_security)", secrets) from None
    except smtplib.SMTPSenderRefused as exc:
        raise failure(f"SMTP: {config.target} refused the sender {config.sender} ({exc.smtp_code} "
                      f"{exc.smtp_error.decode(errors='replace')})", secrets) from None
    except smtplib.SMTPResponseException as exc:
        raise failure(f"SMTP: {config.target} answered {exc.smtp_code} "
                      f"{exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}",
                      secrets) from None
    except TimeoutError:
        raise failure(f"SMTP: no answer from {config.target} within {config.timeout:g} s", secrets) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise failure(f"SMTP: cannot send through {config.target}: {transport_reason(exc)}", secrets) from None
    if refused:
        raise failure(f"SMTP: {config.target} refused the recipients {', '.join(refused)}", secrets)
