"""Review findings: external services answering what their client does not expect.

Through the real server, with local fakes (tests/fakes/base.py) answering garbage:

* Telegram answering JSON that is not the Bot API's object (a list, a string, null, a
  ``result`` of the wrong shape) made python-telegram-bot raise a bare ``TypeError``, which
  reached MISP as "Module 'telegram' failed: TypeError: list indices must be integers...";
  a 500 with an HTML page was reported as "cannot reach" although the server answered.
* A service echoing a *piece* of a credential in its error body ("invalid token <t>" for an
  ``Authorization: Bearer <t>`` header, the hook id of a webhook URL, a ``sig=`` or
  ``?token=`` value, a URL's password) got it into the error and the server log: only the
  whole URL / header value was masked. :func:`misp_modules.lib.redact.secret_parts` now masks
  the pieces too, for every caller of ``redact(..., secrets)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.fakes.base import FakeService, Request, Response
from tests.support.harness import ModuleServer
from tests.support.notify import event, misp_request

SECRET = "s3cr3tT0kenValue42"  # 18 characters: a path segment long enough to be a credential
BOT_TOKEN = "123456:AAbbCCddEEff"


class Answering(FakeService):
    """Answers every request with ``respond(request)``."""

    def __init__(self, respond: Callable[[Request], Response]) -> None:
        super().__init__()
        self.respond = respond

    def handle(self, request: Request) -> Response:
        return self.respond(request)


def serve(url: str) -> ModuleServer:
    notify = {"request_timeout": 3, "max_retries": 0}
    return ModuleServer(config={"server": {"outbound_allow": ["127.0.0.1"]}, "services": {"telegram": url + "/bot"},
                                "modules": {m: notify for m in ("telegram", "mattermost", "ms_teams", "http_webhook")}})


def telegram_request() -> dict:
    return misp_request("telegram", {"bot_token": BOT_TOKEN, "chat_id": "@alerts"}, event())


@pytest.mark.parametrize("answer", [
    Response.json([1, 2]),
    Response.json("sent"),
    Response.json(None),
    Response.json({"ok": True, "result": "sent"}),
    Response.json({"ok": True, "result": [1]}),
])
def test_telegram_answer_of_the_wrong_shape_is_a_clear_error(answer):
    with Answering(lambda r: answer) as fake, serve(fake.url.rstrip("/")) as srv:
        status, result = srv.query(telegram_request())
        assert status == 200
        assert "did not answer like the Telegram Bot API" in result["error"]
        assert "failed:" not in result["error"] and BOT_TOKEN not in result["error"]
        assert fake.requests and fake.requests[0].path.endswith("/sendMessage")


def test_telegram_non_json_answers_say_what_happened():
    with Answering(lambda r: Response.text("<html>maintenance</html>", 200, "text/html")) as fake, \
            serve(fake.url.rstrip("/")) as srv:
        assert srv.query(telegram_request())[1]["error"].endswith("did not answer like the Telegram Bot API "
                                                                 "(its answer is not JSON)")
    with Answering(lambda r: Response.text("<html>" + "x" * 5000 + "</html>", 500, "text/html")) as fake, \
            serve(fake.url.rstrip("/")) as srv:
        error = srv.query(telegram_request())[1]["error"]
        assert "answered with an error (Internal Server Error" in error and "cannot reach" not in error
        assert len(error) < 500  # the HTML page is not pasted whole into MISP's log


def echo_secret(request: Request) -> Response:
    """A service that names the credential it rejects, as many APIs do."""
    return Response.json({"message": f"invalid credential {SECRET}"}, status=500)


@pytest.mark.parametrize("module, params", [
    ("mattermost", lambda url: {"mattermost_hostname": url, "incoming_webhook_url": f"{url}/hooks/{SECRET}"}),
    ("ms_teams", lambda url: {"webhook_url": f"{url}/workflows/1/triggers/manual/paths/invoke?sv=1.0&sig={SECRET}"}),
    ("http_webhook", lambda url: {"url": f"{url}/hook", "headers": f"Authorization: Bearer {SECRET}"}),
    ("http_webhook", lambda url: {"url": f"{url}/hook?api_token={SECRET}"}),
    ("http_webhook", lambda url: {"url": url.replace("http://", f"http://misp:{SECRET}@") + "/hook"}),
    ("http_webhook", lambda url: {"url": f"{url}/hook/{SECRET}"}),
])
def test_a_piece_of_a_credential_echoed_by_the_service_is_masked(module, params):
    with Answering(echo_secret) as fake, serve(fake.url.rstrip("/")) as srv:
        status, result = srv.query(misp_request(module, params(fake.url.rstrip("/")), event()))
        assert status == 200
        assert "invalid credential ***" in result["error"]
        assert SECRET not in json.dumps(result)
        srv.wait_for_log(r"not sent")
        assert SECRET not in srv.logs()
        assert len(fake.requests) == 1  # it was sent with the credential: only the echo is masked
