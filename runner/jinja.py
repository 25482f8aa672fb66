"""Rendering ``jinja_supported`` params the way MISP does (docs/misp-behaviour.md §8).

MISP renders through the module server's ``jinja_template_rendering`` expansion module; so does
the runner when the server offers it. When it does not, or cannot be reached (where MISP
crashes, §15.3), the runner renders locally with the same sandboxed Jinja2
(``misp_modules.lib.templating``). Either way a failing template renders as ``""``.
"""

from __future__ import annotations

import logging
from typing import Any

from misp_modules.lib.templating import render_or_empty
from runner.client import ModuleCallError, ModuleClient
from runner.jsonio import dumps

MODULE = "jinja_template_rendering"
log = logging.getLogger(__name__)


class Renderer:
    def __init__(self, client: ModuleClient | None, use_server: bool) -> None:
        self.client = client
        self.use_server = use_server and client is not None

    def __call__(self, template: str, data: Any) -> str:
        if self.use_server:
            try:
                return self._remote(template, data)
            except ModuleCallError as exc:
                log.warning("jinja_template_rendering unavailable (%s); rendering locally", exc)
        return render_or_empty(template, data if isinstance(data, dict) else {})

    def _remote(self, template: str, data: Any) -> str:
        text = dumps({"template": template, "data": data}).decode()
        answer, _ = self.client.query({"module": MODULE, "text": text})
        if not isinstance(answer, dict) or answer.get("error"):
            return ""
        try:
            value = answer["results"][0]["values"][0]
        except (KeyError, IndexError, TypeError):
            return ""
        return value if isinstance(value, str) else ""
