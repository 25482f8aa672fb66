"""MISP's workflow debug mode, sending side (docs/misp-behaviour.md §5.14).

When debug mode is on, MISP POSTs each step to ``<debug_url>/<trigger_id><path>`` (5 s
timeout): ``/init?type=<for_path>`` after normalisation, ``/exec/<module>?result=<status>``
after every node (logic included), ``/end?outcome=<outcome>`` at the end of a top-level run.
The body is JSON sent as ``application/x-www-form-urlencoded`` (MISP's client sets no JSON
content type), so receivers parse the raw body.

A POST that fails (the URL cannot be reached, times out) makes MISP's run die there
(misp-behaviour.md §15.6): :class:`DebugPostError` stops the run at the same point with a
clear error naming the URL and what to do, never a silent no-op. ``message=`` in
``result=error`` posts is percent-encoded where HTTP requires it (MISP sends it raw, which a
space makes an invalid request line).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from misp_modules.contract.wire import dumps
from runner.errors import RunAborted

DEFAULT_DEBUG_URL = "http://127.0.0.1:27051"
TIMEOUT = 5.0

_EMPTY_SOURCE = {"node_id": "", "module_id": "", "filters": "", "parameters": ""}


class DebugPostError(RunAborted):
    """A debug POST failed: MISP's run dies here."""


class DebugPoster:
    def __init__(self, base_url: str, trigger_id: str, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.trigger_id = trigger_id
        self.timeout = timeout
        self.failures = 0
        self._session = requests.Session()

    def init(self, for_path: str, original: Any, normalized: Any) -> None:
        self._post(f"/init?type={for_path}", {"original": original, "normalized": normalized})

    def exec(self, module_id: str, status: str, data: Any, node: Mapping | None = None,
             errors: list[str] | None = None, message: str | None = None) -> None:
        path = f"/exec/{module_id}?result={status}"
        if message is not None:
            path += "&message=" + quote(message, safe="!$'()*+,;=:@/?`[]{}<>\"|^~#")
        self._post(path, data, node, errors)

    def end(self, outcome: str, walk_result: Any) -> None:
        self._post(f"/end?outcome={outcome}", walk_result)

    def _post(self, path: str, data: Any, node: Mapping | None = None, errors: list[str] | None = None) -> None:
        source = dict(_EMPTY_SOURCE)
        if node is not None:
            ndata = node.get("data") if isinstance(node.get("data"), Mapping) else {}
            source = {"node_id": node.get("id", ""), "module_id": ndata.get("id", ""),
                      "filters": ndata.get("saved_filters", ""), "parameters": ndata.get("indexed_params", "")}
        body: dict[str, Any] = {
            "source": source,
            "timestamp": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "data": data,
        }
        if errors:
            body["errors"] = errors
        url = f"{self.base_url}/{self.trigger_id}{path}"
        try:
            self._session.post(url, data=dumps(body), timeout=self.timeout,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        except Exception as exc:  # noqa: BLE001 - requests' errors: all mean MISP's run dies
            self.failures += 1
            reason = _reason(exc, self.timeout)
            raise DebugPostError(
                f"debug mode: the POST to {url.split('?')[0]} failed ({reason}); MISP's run dies when it cannot "
                f"reach its debug URL (misp-behaviour.md §15.6): start `misp-workflow debug-listener`, give "
                f"--debug-url a listener, or turn the workflow's debug mode off") from None


def _reason(exc: Exception, timeout: float) -> str:
    """The root cause of a ``requests`` error, in a few words."""
    cause: BaseException = exc
    while cause.__context__ is not None and cause.__context__ is not cause:
        cause = cause.__context__
    text = str(cause) or type(cause).__name__
    if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    if isinstance(cause, TimeoutError) or "timed out" in text.lower():
        return f"no answer within {timeout:g} s"
    return text if len(text) <= 160 else text[:160] + "…"
