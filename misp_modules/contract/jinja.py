"""The one way a ``jinja_supported`` param is rendered (docs/misp-behaviour.md §8, §15.3).

MISP renders such a param through the Enrichment service's ``jinja_template_rendering``
module (``{"module": ..., "text": "<JSON of {template, data}>"}``, the text read from
``results[0].values[0]``, an ``error`` read as ``""``). That module and the runner's local
fallback (where MISP's run dies: the server does not offer the module or cannot be reached)
both render here, so a template renders the same text either way: Jinja's default environment
as MISP's renderer has it (one trailing newline of the template dropped), in the bounded
sandbox (``misp_modules.templating``), the data's top-level keys as variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from misp_modules.contract.wire import dumps
from misp_modules.templating import TemplateRenderError
from misp_modules.templating import render as render_sandboxed

MODULE = "jinja_template_rendering"
_TRAILING_NEWLINE = re.compile(r"(\r\n|\r|\n)\Z")


def render(template: str, data: Any) -> str:
    """``template`` rendered over ``data`` as MISP's renderer renders it; raises
    ``TemplateRenderError`` naming the line and the reason. Data that is not a map renders
    nothing (upstream's renderer raises TypeError there, read as ``""``); ``[]`` is PHP's empty
    roaming data."""
    if data == []:
        data = {}
    if not isinstance(data, Mapping):
        return ""
    # Jinja's default keep_trailing_newline=False drops one trailing newline of the source; the
    # shared sandbox keeps it (notification messages want theirs), so it is dropped here.
    return render_sandboxed(_TRAILING_NEWLINE.sub("", template, count=1), data)


def render_or_empty(template: str, data: Any) -> str:
    """MISP's param value: the rendered text, or ``""`` when the template fails."""
    try:
        return render(template, data)
    except TemplateRenderError:
        return ""


def request(template: str, data: Any) -> dict[str, Any]:
    """The ``/query`` body MISP sends to have ``template`` rendered over ``data``."""
    return {"module": MODULE, "text": dumps({"template": template, "data": data}).decode()}


def rendered(answer: Any) -> str:
    """The param value MISP reads from the module's answer: ``results[0].values[0]``, ``""``
    for an error or anything else."""
    if not isinstance(answer, dict) or answer.get("error"):
        return ""
    try:
        value = answer["results"][0]["values"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    return value if isinstance(value, str) else ""
