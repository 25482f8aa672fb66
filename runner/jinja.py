"""Rendering ``jinja_supported`` params the way MISP does (docs/misp-behaviour.md §8).

MISP renders through the module server's ``jinja_template_rendering`` expansion module; so does
the runner when the server offers it. When it does not, or cannot be reached (where MISP
crashes, §15.3), the runner renders locally, through the very function the server's module
renders with (``misp_modules.contract.jinja``), and the run says so in a note: MISP's run would
have died there, so a workflow that renders here may fail in MISP. Either way a failing
template renders as ``""``.
"""

from __future__ import annotations

import logging
from typing import Any

from misp_modules.contract import jinja
from misp_modules.contract.client import ModuleCallError, ModuleClient

log = logging.getLogger(__name__)


LOCAL_NOTE = ("templates rendered locally: {why}; MISP renders through the Enrichment service's "
              "jinja_template_rendering and its run dies without it (misp-behaviour.md §15.3)")


class Renderer:
    """``env``: the ``_env`` MISP's newer base class adds to the data a template renders over
    (``{"baseurl": MISP.baseurl}``, misp-behaviour.md §16.15); None: MISP v2.5.1's, which adds none."""

    def __init__(self, client: ModuleClient | None, use_server: bool, env: dict[str, Any] | None = None) -> None:
        self.client = client
        self.env = env
        self.use_server = use_server and client is not None
        self.local_renders = 0              # templates rendered here instead of by the server
        self.local_reason: str | None = None

    def __call__(self, template: str, data: Any) -> str:
        if self.env is not None and isinstance(data, dict):  # PHP: $rDataWithEnv['_env'] = [...] on the array
            data = {**data, "_env": self.env}
        if self.use_server:
            try:
                return self._remote(template, data)
            except ModuleCallError as exc:
                log.warning("jinja_template_rendering unavailable (%s); rendering locally", exc)
                self.local_reason = f"the module server's {jinja.MODULE} could not be asked ({exc})"
        elif self.local_reason is None:
            self.local_reason = f"the module server does not offer {jinja.MODULE}"
        self.local_renders += 1
        return jinja.render_or_empty(template, data)

    def note_since(self, count: int) -> str | None:
        """The run's note when templates were rendered locally since ``local_renders`` was ``count``."""
        if self.local_renders == count:
            return None
        return LOCAL_NOTE.format(why=self.local_reason or "the module server could not render them")

    def _remote(self, template: str, data: Any) -> str:
        answer, _ = self.client.query(jinja.request(template, data))
        return jinja.rendered(answer)
