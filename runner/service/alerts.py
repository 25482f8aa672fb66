"""Failure alerts through one of the project's notification modules (``[alerts]``).

When a run lands in the dead letters, or the recursion breaker trips (and, with
``on = [..., "failure"]``, when a run fails), the service asks the module server to run the
configured notification module (``mattermost``, ``ms_teams``, ``telegram``, ``send_mail``,
``http_webhook``) as MISP would call it: ``{module, data, params}``. The data is an event
whose ``info`` is the alert's title (what the modules' default messages show first), with
the run's event id and uuid when it had one, and an ``alert`` object with the details. A
failed alert is logged, never raised: it must not fail the run it reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from misp_modules.lib.redact import redact
from runner.service.config import AlertConfig

log = logging.getLogger("misp-workflow.service")


class Alerts:
    def __init__(self, config: AlertConfig, modules_url: str, timeout: float = 30.0) -> None:
        self.config = config
        self.modules_url = modules_url.rstrip("/")
        self.timeout = timeout
        self.sent = 0
        self.failed = 0

    def wants(self, kind: str) -> bool:
        return bool(self.config.module) and kind in self.config.on

    def send(self, kind: str, title: str, details: Mapping[str, Any]) -> bool:
        if not self.wants(kind):
            return False
        import requests

        event = {"info": title, "uuid": details.get("event_uuid") or "", "id": details.get("event_id") or "",
                 "threat_level_id": "1", "Tag": [], "Attribute": [], "Object": []}
        body = {"module": self.config.module, "data": {"Event": event, "alert": {"kind": kind, **details}},
                "params": dict(self.config.params)}
        try:
            answer = requests.post(f"{self.modules_url}/query", json=body, timeout=self.timeout).json()
        except Exception as exc:  # noqa: BLE001 - an alert must never fail the run it reports
            self.failed += 1
            log.warning("alert (%s) not sent: module server: %s", kind, type(exc).__name__)
            return False
        if isinstance(answer, dict) and answer.get("error"):
            self.failed += 1
            secrets = [str(v) for v in self.config.params.values() if isinstance(v, str)]
            log.warning("alert (%s) not sent: %s", kind, redact(str(answer["error"]), secrets))
            return False
        self.sent += 1
        return True
