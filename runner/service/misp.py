"""The service's PyMISP clients (``[misp]`` of automation.toml), one per thread.

PyMISP talks through one ``requests`` session, which is not meant to be shared by threads;
each worker thread gets its own client. Failures are sorted into the two kinds the worker
acts on: :class:`MispTransient` (MISP unreachable, timed out, HTTP 5xx: retry later) and
:class:`MispRefused` (MISP answered no: not retried). Messages never hold the key.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from runner.service.config import MispConfig

_TRANSIENT = re.compile(r"ConnectionError|ConnectTimeout|ReadTimeout|Timeout|Max retries exceeded|"
                        r"RemoteDisconnected|Connection aborted|Connection refused|HTTP 5\d\d|\b50[234]\b",
                        re.IGNORECASE)


class MispTransient(RuntimeError):
    """MISP could not be reached or failed on its side: try again later."""


class MispRefused(RuntimeError):
    """MISP answered, and the answer is no (unknown event, permission, invalid change)."""


class MispNotConfigured(RuntimeError):
    """The service has no ``[misp]`` connection."""


def is_transient(message: str) -> bool:
    return bool(_TRANSIENT.search(message))


class MispClients:
    def __init__(self, config: MispConfig) -> None:
        self.config = config
        self._local = threading.local()
        logging.getLogger("pymisp").setLevel(logging.CRITICAL)  # it logs every error it then returns

    @property
    def configured(self) -> bool:
        return self.config.configured

    def _mask(self, text: str) -> str:
        return text.replace(self.config.key, "***") if self.config.key else text

    def get(self) -> Any:
        """This thread's PyMISP client."""
        if not self.config.configured:
            raise MispNotConfigured("no MISP connection: set [misp] url and key (or MISP_URL / MISP_KEY)")
        client = getattr(self._local, "client", None)
        if client is None:
            from pymisp import PyMISP

            try:
                client = PyMISP(self.config.url, self.config.key, ssl=self.config.verify_tls,
                                timeout=self.config.timeout)
            except Exception as exc:  # noqa: BLE001 - PyMISPError, requests errors
                message = self._mask(f"cannot use MISP at {self.config.url}: {type(exc).__name__}: {exc}")
                raise (MispTransient if is_transient(message) or "getVersion" in message else MispRefused)(
                    message) from None
            self._local.client = client
        return client

    def drop(self) -> None:
        """Forget this thread's client (after a connection failure: a fresh session next time)."""
        self._local.client = None

    def call(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        """``fn(client, ...)`` with PyMISP's error answers and exceptions sorted out."""
        client = self.get()
        try:
            answer = fn(client, *args, **kw)
        except Exception as exc:  # noqa: BLE001
            self.drop()
            message = self._mask(f"{what}: {type(exc).__name__}: {exc}")
            raise (MispTransient if is_transient(message) else MispRefused)(message) from None
        if isinstance(answer, dict) and answer.get("errors"):
            said = answer["errors"]
            status = said[0] if isinstance(said, (list, tuple)) and said and isinstance(said[0], int) else None
            message = self._mask(f"{what}: MISP said: {said}")[:500]
            raise (MispTransient if status is not None and status >= 500 else MispRefused)(message)
        return answer

    def fetch_event(self, ref: str) -> dict:
        """The event ``ref`` (id or uuid) as MISP's REST API returns it."""
        answer = self.call(f"fetching event {ref}", lambda c: c.get_event(ref, pythonify=False))
        if not isinstance(answer, dict) or "Event" not in answer:
            raise MispRefused(f"MISP has no event {ref}")
        return answer

    def event_timestamp(self, ref: str) -> float | None:
        """The event's current ``timestamp`` (a metadata search: no attributes transferred)."""
        answer = self.call(f"reading the timestamp of event {ref}",
                           lambda c: c.search(controller="events", uuid=ref, metadata=True, pythonify=False))
        for item in answer if isinstance(answer, list) else []:
            event = item.get("Event") if isinstance(item, dict) else None
            if isinstance(event, dict) and event.get("timestamp") not in (None, ""):
                return float(event["timestamp"])
        return None

    def search_events(self, search: dict) -> list[dict]:
        answer = self.call("searching events", lambda c: c.search(controller="events", pythonify=False, **search))
        return [item for item in answer if isinstance(item, dict) and "Event" in item] if isinstance(answer, list) else []
