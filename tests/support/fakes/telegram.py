"""Telegram Bot API, as external-services.md §3.4 describes: ``/bot<token>/<method>``.

``token``: the valid token (well-formed others get 401, malformed 404); ``chats``: known chat
ids; ``blocked``: chats where the bot may not post (403). ``sendMessage`` checks the text
(empty, over 4096 characters after entity parsing, HTML that Telegram cannot parse) and
records accepted messages in ``messages``. ``flood``: that many 429s with ``retry_after``; ``delay`` hangs every answer.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs

from tests.support.fakes.base import FakeService, Request, Response

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = "4242"
_TOKEN_FORM = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
           "blockquote", "tg-emoji"}


def error(code: int, description: str, **parameters) -> Response:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response.json(body, status=code)


class _Checker(HTMLParser):
    """Telegram's HTML: only its tags, balanced; text length counted after entity parsing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problem: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED:
            self.problem = self.problem or f"Unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f"Unmatched end tag \"{tag}\""
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_html(text: str) -> tuple[str | None, str]:
    """(problem or None, the plain text Telegram would show)."""
    if re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text):
        return "Can't find end of the entity", ""
    if re.search(r"<(?![a-zA-Z/])", text):
        return "Unexpected end tag or unsupported start tag", ""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    if checker.problem:
        return checker.problem, ""
    if checker.stack:
        return f"Can't find end tag corresponding to start tag \"{checker.stack[-1]}\"", ""
    return None, "".join(checker.text)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramFake(FakeService):
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.chats = {CHAT, "@misp_alerts"}
        self.blocked = {"777"}
        self.flood = 0
        self.retry_after = 1  # Telegram never asks for 0 s (PTB ignores a 0)
        self.messages: list[dict] = []
        self.delay = 0.0  # seconds before answering anything (a hung API)
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    def handle(self, request: Request) -> Response:
        if self.delay:
            return Response(504, b"", delay=self.delay)
        match = re.match(r"^/bot([^/]*)/(\w+)$", request.path)
        if not match:
            return error(404, "Not Found")
        token, method = match.group(1), match.group(2).lower()
        if not _TOKEN_FORM.match(token):
            return error(404, "Not Found")
        if token != self.token:
            return error(401, "Unauthorized")
        params = {k: v[0] for k, v in request.query.items()}
        content_type = request.header("Content-Type") or ""
        if content_type.startswith("application/json"):
            params.update(request.json())
        elif content_type.startswith("application/x-www-form-urlencoded"):
            params.update({k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()})
        if method == "getme":
            return Response.json({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "misp",
                                                         "username": "misp_bot"}})
        if method == "sendmessage":
            return self.send_message(params)
        return error(404, "Not Found")

    def send_message(self, params: dict) -> Response:
        if self.flood:
            self.flood -= 1
            return error(429, f"Too Many Requests: retry after {self.retry_after}", retry_after=self.retry_after)
        chat = str(params.get("chat_id", ""))
        if chat in self.blocked:
            return error(403, "Forbidden: bot was blocked by the user")
        if chat not in self.chats:
            return error(400, "Bad Request: chat not found")
        text = params.get("text") or ""
        shown = text
        if params.get("parse_mode") == "HTML":
            problem, shown = parse_html(text)
            if problem:
                return error(400, f"Bad Request: can't parse entities: {problem}")
        if not shown.strip():
            return error(400, "Bad Request: message text is empty")
        if utf16_length(shown) > 4096:
            return error(400, "Bad Request: message is too long")
        message = {"message_id": len(self.messages) + 1, "date": int(time.time()),
                   "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else -1001, "type": "private"},
                   "text": shown}
        self.messages.append({**message, "sent": text, "parse_mode": params.get("parse_mode")})
        return Response.json({"ok": True, "result": message})


