"""Any HTTP endpoint (external-services.md §6): records method, path, query, headers and raw body;
answers ``status``/``body`` (200 by default), ``rate_limit`` 429s first, ``delay`` to be slow,
``redirects`` (path → URL) a 307 there (the method and body are kept, as a client must).

:class:`TlsWebhookFake` serves HTTPS with a certificate from a test CA (``trustme``).
"""

from __future__ import annotations

import ssl

from tests.support.fakes.base import FakeService, Request, Response


class WebhookFake(FakeService):
    def __init__(self) -> None:
        self.status = 200
        self.body = "ok"
        self.rate_limit = 0
        self.retry_after = "0"
        self.delay = 0.0
        self.redirects: dict[str, str] = {}
        super().__init__()

    def handle(self, request: Request) -> Response:
        if self.rate_limit:
            self.rate_limit -= 1
            return Response(429, b"slow down", {"Retry-After": self.retry_after})
        if request.path in self.redirects:
            return Response(307, b"", {"Location": self.redirects[request.path]})
        return Response(self.status, self.body, {"Content-Type": "text/plain"}, delay=self.delay)


class TlsWebhookFake(WebhookFake):
    def __init__(self, ca) -> None:
        super().__init__()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        # Wrapped before any client connects; the serving thread accepts from the wrapped socket.
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"
