"""Review findings: URL and header params that the HTTP stack cannot use.

* An unclosed IPv6 bracket (``http://[::1``) in ``url`` (http_webhook), ``webhook_url``
  (ms_teams) or ``mattermost_hostname`` reached MISP as "Module 'x' failed: ValueError:
  Invalid IPv6 URL"; a port out of range or a URL without scheme as "cannot reach ...
  (InvalidURL/MissingSchema)", as if the service were down. Now a param error naming the
  param (never quoting a webhook URL: it is a credential).
* A header value beyond latin-1 (``X-Note: €``) made http.client raise UnicodeEncodeError
  ("Module 'http_webhook' failed: ..."); it is now sent as UTF-8 bytes, as MISP's curl does.
"""

from __future__ import annotations

import pytest

from tests.support.fakes.base import FakeService, Request, Response
from tests.support.harness import ModuleServer
from tests.support.notify import event, misp_request


class Accepting(FakeService):
    def handle(self, request: Request) -> Response:
        return Response.json({})


@pytest.fixture(scope="module")
def hook():
    with Accepting() as fake, ModuleServer(config={"server": {"outbound_allow": [f"127.0.0.1:{fake.port}"]},
                                                   "modules": {m: {"request_timeout": 2}
                                                               for m in ("http_webhook", "mattermost", "ms_teams")}}) as srv:
        yield srv, fake


@pytest.mark.parametrize("module, params, error", [
    ("http_webhook", {"url": "http://[::1/hook?token=abcdef123456"}, "param `url` is not a valid URL (Invalid IPv6 URL)"),
    ("http_webhook", {"url": "http://127.0.0.1:99999/hook"}, "param `url` is not a valid URL (Port out of range 0-65535)"),
    ("ms_teams", {"webhook_url": "http://[::1/workflows?sig=abcdef123456"},
     "param `webhook_url` is not a valid URL (Invalid IPv6 URL)"),
    ("ms_teams", {"webhook_url": "prod-00.westeurope.logic.azure.com/workflows?sig=abcdef123456"},
     "param `webhook_url` must be an http:// or https:// URL with a host"),
    ("mattermost", {"incoming_webhook_url": "chat.example.org/hooks/abcdefghijklmnopqrstuvwxyz"},
     "param `incoming_webhook_url` must be an http:// or https:// URL with a host"),
    ("mattermost", {"mattermost_hostname": "http://[::1", "bot_access_token": "t" * 26, "channel_id": "c" * 26},
     "param `mattermost_hostname`: 'http://[::1' is not a server address (Invalid IPv6 URL)"),
])
def test_unusable_urls_are_param_errors(hook, module, params, error):
    srv, fake = hook
    before = len(fake.requests)
    status, answer = srv.query(misp_request(module, params, event()))
    assert (status, answer) == (200, {"error": error})
    assert len(fake.requests) == before


def test_header_values_beyond_latin1_are_sent_as_utf8(hook):
    srv, fake = hook
    before = len(fake.requests)
    params = {"url": f"{fake.url.rstrip('/')}/hook", "headers": "X-Note: café €\nX-Plain: ok"}
    assert srv.query(misp_request("http_webhook", params, event())) == (200, {"data": True})
    (sent,) = fake.requests[before:]
    # http.server decodes header bytes as latin-1: the UTF-8 bytes arrive unchanged
    assert sent.header("X-Note").encode("latin-1").decode("utf-8") == "café €"
    assert sent.header("X-Plain") == "ok"
