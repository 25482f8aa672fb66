"""An SMTP server on 127.0.0.1:0 (``aiosmtpd``) that keeps what it receives.

``SmtpFake(auth={"user": "password"})`` requires AUTH (over plain SMTP too, for tests);
``tls_context`` turns on STARTTLS, or implicit TLS with ``implicit_tls=True``;
``refuse`` lists recipients answered 550. ``messages``: ``(envelope sender, recipients,
email.message.Message)``.
"""

from __future__ import annotations

import email
import socket
import ssl
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Handler:
    def __init__(self, fake: SmtpFake) -> None:
        self.fake = fake

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.fake.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.fake.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                   email.message_from_bytes(envelope.original_content)))
        return "250 Message accepted for delivery"


class SmtpFake:
    def __init__(self, *, auth: dict[str, str] | None = None, tls_context: ssl.SSLContext | None = None,
                 implicit_tls: bool = False) -> None:
        self.messages: list = []
        self.refuse: set[str] = set()
        self.auth = auth
        with socket.socket() as probe:  # aiosmtpd needs a port number up front
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        kwargs = {}
        if auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False, auth_required=True)
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
        if tls_context is not None and not implicit_tls:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     ssl_context=tls_context if implicit_tls else None, **kwargs)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and self.auth.get(auth_data.login.decode()) == auth_data.password.decode():
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def close(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
