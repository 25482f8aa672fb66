"""Microsoft Teams webhooks, as external-services.md §2.5 describes.

``/workflows/<id>/triggers/manual/paths/invoke?sig=<SIG>``: a Workflows (Power Automate)
webhook: JSON only (400 otherwise), bad signature 401, answers 202 with an empty body and
records whether the envelope is a valid Adaptive Card message in ``card_problems`` (the real
service fails asynchronously). ``/webhookb2/<id>``: a legacy connector: needs ``text`` or
``summary``, answers 200 ``1``. ``rate_limit``: that many 429s first; ``status``: force one.
"""

from __future__ import annotations

from tests.support.fakes.base import FakeService, Request, Response

SIG = "Xq3Vb8s0kPz1lT5wYh7Ju2Rm9Nc4Fg6Dd0Ee1aBcD"


class TeamsFake(FakeService):
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.card_problems: list[list[str]] = []
        self.rate_limit = 0
        self.status: int | None = None
        super().__init__()

    @property
    def workflow_url(self) -> str:
        return (f"{self.url}/workflows/abc123/triggers/manual/paths/invoke?api-version=2016-06-01"
                f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}")

    @property
    def connector_url(self) -> str:
        return f"{self.url}/webhookb2/group@tenant/IncomingWebhook/{SIG}/owner"

    def handle(self, request: Request) -> Response:
        if self.status:
            return Response.text("Service unavailable", status=self.status)
        if self.rate_limit:
            self.rate_limit -= 1
            return Response(429, b"", {"Retry-After": "0"})
        if request.path.startswith("/workflows/"):
            return self.workflow(request)
        if request.path.startswith("/webhookb2/"):
            return self.connector(request)
        return Response.text("Not found", status=404)

    def workflow(self, request: Request) -> Response:
        if request.query.get("sig") != [SIG]:
            return Response.json({"error": {"code": "DirectApiAuthorizationRequired",
                                            "message": "The request must be authenticated."}}, status=401)
        if not (request.header("Content-Type") or "").startswith("application/json"):
            return Response.json({"error": {"code": "InvalidRequestContent",
                                            "message": "The request content is not valid JSON."}}, status=400)
        try:
            body = request.json()
        except ValueError:
            return Response.json({"error": {"code": "InvalidRequestContent", "message": "Bad JSON."}}, status=400)
        self.received.append(body)
        self.card_problems.append(envelope_problems(body))
        return Response(202, b"")

    def connector(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return Response.text("Bad payload received by generic incoming webhook.", status=400)
        if not body.get("text") and not body.get("summary"):
            return Response.text("Summary or Text is required.", status=400)
        self.received.append(body)
        return Response.text("1")


def envelope_problems(body: dict) -> list[str]:
    """Why the Workflows template "Post to a channel when a webhook request is received" would fail."""
    problems = []
    if body.get("type") != "message":
        problems.append("type is not 'message'")
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        problems.append("'attachments' is of type 'Null'")
        return problems
    for attachment in attachments:
        if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
            problems.append("contentType is not an adaptive card")
        content = attachment.get("content") or {}
        if content.get("type") != "AdaptiveCard":
            problems.append("Property 'type' must be 'AdaptiveCard'")
        if not isinstance(content.get("body"), list):
            problems.append("card has no body")
    return problems
