"""A local Flowintel (``POST /api/case/create_with_event``) for the real ``requests`` client.

As Flowintel's ``CreateCaseEvent`` resource answers: the ``X-API-KEY`` header must be a known
user's key, else flask's ``abort(403)`` as flask-restx renders it (a JSON ``message``); a JSON
body whose ``title`` is missing or empty, or already a case's title, is ``400 {"message":
...}``; a new case is ``201 {"message": "Case created, id: <id>", "case_id": <id>}`` (ids from 1).
Fault modes: ``fault_status`` with ``fault_body`` (every request answers that), ``raw_body``
(a 201 carrying that text instead of the JSON answer).
"""

from __future__ import annotations

from typing import Any

from tests.support.fakes.base import FakeService, Request, Response

API_KEY = "flowintel-key-5Qm2Zr8TnW4yXb7K"
FORBIDDEN = ("You don't have the permission to access the requested resource. It is either read-protected or "
             "not readable by the server.")


class FlowintelFake(FakeService):
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.cases: list[dict[str, Any]] = []
        self.fault_status: int | None = None
        self.fault_body = ""
        self.raw_body: str | None = None
        super().__init__()

    def reset(self) -> FlowintelFake:
        with self._lock:
            self.requests.clear()
        self.cases.clear()
        self.fault_status, self.fault_body, self.raw_body = None, "", None
        return self

    def handle(self, request: Request) -> Response:
        if self.fault_status is not None:
            return Response.text(self.fault_body, self.fault_status, "text/html")
        if not request.path.endswith("/api/case/create_with_event"):  # any prefix: behind a reverse proxy
            return Response.json({"message": "The requested URL was not found on the server."}, 404)
        if request.method != "POST":
            return Response.json({"message": "The method is not allowed for the requested URL."}, 405)
        if request.header("X-API-KEY") != self.api_key:
            return Response.json({"message": FORBIDDEN}, 403)
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return Response.json({"message": "Failed to decode JSON object"}, 400)
        if not isinstance(body, dict) or not body:
            return Response.json({"message": "Please give data"}, 400)
        title = body.get("title")
        if not title:
            return Response.json({"message": "Please give a title"}, 400)
        if any(case["title"] == title for case in self.cases):
            return Response.json({"message": "Title already exist"}, 400)
        case_id = len(self.cases) + 1
        self.cases.append({"id": case_id, "title": title, "description": body.get("description") or "",
                           "ticket_id": body.get("ticket_id"), "event": body.get("event")})
        if self.raw_body is not None:
            return Response.text(self.raw_body, 201, "application/json")
        return Response.json({"message": f"Case created, id: {case_id}", "case_id": case_id}, 201)
