"""Mattermost REST API v4 and incoming webhooks, as external-services.md §1.5 describes.

``token``: the accepted bot token; ``channels``: ids the bot may post in; ``forbidden``: ids
where it is not a member (403); ``hooks``: valid incoming webhook ids. ``delay`` hangs every answer; ``rate_limit`` answers
that many 429s (``Retry-After: retry_after``) before accepting posts.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

from tests.support.fakes.base import FakeService, Request, Response

TOKEN = "xk4bot8token6mattermost2abc"
CHANNEL = "4xp9fdt7pbgium38k7x5t5hbwh"
HOOK = "9q5cgr1rrfb3bgz6q1wq1tsi6w"


def app_error(status: int, error_id: str, message: str) -> Response:
    return Response.json({"id": error_id, "message": message, "detailed_error": "", "request_id": "r1",
                          "status_code": status}, status=status)


class MattermostFake(FakeService):
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.channels = {CHANNEL}
        self.forbidden = {"7yb3ndu1k3r5tmi9nh4nbf3r3a"}
        self.hooks = {HOOK}
        self.rate_limit = 0
        self.retry_after = "0"
        self.status_override: int | None = None
        self.delay = 0.0  # seconds before answering anything (a hung server)
        self.posts: list[dict] = []
        self.hook_posts: list[dict] = []
        super().__init__()

    def handle(self, request: Request) -> Response:
        if self.delay:
            return Response(504, b"", delay=self.delay)
        if self.status_override:
            return app_error(self.status_override, "app.error", "Internal server error")
        if request.path.startswith("/hooks/"):
            return self.hook(request)
        if request.header("Authorization") != f"Bearer {self.token}":
            return app_error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")
        if request.method == "GET" and request.path == "/api/v4/users/me":
            return Response.json({"id": "bot1", "username": "misp-bot", "is_bot": True})
        if request.method == "POST" and request.path == "/api/v4/posts":
            return self.create_post(request)
        return app_error(404, "api.context.404.app_error", "Sorry, we could not find the page.")

    def create_post(self, request: Request) -> Response:
        if self.rate_limit:
            self.rate_limit -= 1
            return Response(429, b'{"message":"Too many requests"}',
                            {"Content-Type": "application/json", "Retry-After": self.retry_after})
        try:
            body = request.json()
        except ValueError:
            return app_error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.")
        channel, message = body.get("channel_id"), body.get("message")
        if not channel or not isinstance(message, str) or not message:
            return app_error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.")
        if len(message) > 16383:
            return app_error(400, "model.post.is_valid.msg.app_error", "Invalid Message.")
        if channel in self.forbidden:
            return app_error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
        if channel not in self.channels:
            return app_error(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
        post = {"id": f"post{len(self.posts) + 1}", "create_at": int(time.time() * 1000), "channel_id": channel,
                "message": message, "user_id": "bot1", "root_id": "", "type": "", "props": {}}
        self.posts.append(post)
        return Response.json(post, status=201)

    def hook(self, request: Request) -> Response:
        hook_id = request.path[len("/hooks/"):]
        if hook_id not in self.hooks:
            return app_error(404, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
        try:
            if (request.header("Content-Type") or "").startswith("application/json"):
                body = request.json()
            else:
                body = json.loads(parse_qs(request.body.decode())["payload"][0])
        except (ValueError, KeyError):
            return app_error(400, "model.incoming_hook.parse_data.app_error", "Unable to parse incoming data.")
        if not body.get("text") and not body.get("attachments"):
            return app_error(400, "web.incoming_webhook.text.app_error", "No text specified.")
        self.hook_posts.append(body)
        return Response.text("ok")
