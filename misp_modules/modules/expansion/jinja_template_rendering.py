"""Render a Jinja2 template against MISP data: what MISP core calls for every workflow param
declared ``jinja_supported`` (docs/misp-behaviour.md §8, docs/misp-modules-protocol.md §6.4).

MISP sends ``{"module": "jinja_template_rendering", "text": "<JSON of {template, data}>"}`` to
the Enrichment service and uses ``results[0].values[0]``; an ``error`` answer makes the param
``""``. Without this module a deployment's workflows crash inside MISP (PHP TypeError), so it
is always served, with upstream's name, request and answer.

Rendering is upstream's, in the one place the runner's local fallback renders too
(``misp_modules.contract.jinja``): a Jinja2 sandbox, the data's top-level keys as variables,
undefined variables rendering as nothing, a trailing newline of the template dropped. Upstream
turns a ``TypeError`` into ``""`` and any other failure into its generic error; here every
failure is an ``error`` naming the problem (template line, invalid JSON...), which MISP treats
the same way (``""``).
"""

from __future__ import annotations

import json
from typing import Any

from misp_modules.contract import jinja
from misp_modules.semantics.php import a_json_type
from misp_modules.templating import TemplateRenderError

misperrors = {"error": "Error"}
mispattributes = {"input": ["text"], "output": ["text"]}
moduleinfo = {
    "version": "0.2",
    "author": "Sami Mokaddem (upstream), misp-modules-ng",
    "description": "Render the template with the data passed",
    "module-type": ["expansion"],
    "name": "Ninja Template Rendering",
    "logo": "",
    "requirements": ["jinja2"],
    "features": "MISP core calls it to render workflow parameters that support Jinja2: the `text` field "
                "holds a JSON string with `template` and `data`; the data's top-level keys are the "
                "template's variables. Rendering happens in a Jinja2 sandbox.",
    "references": ["https://jinja.palletsprojects.com/en/stable/sandbox/"],
    "input": "A JSON string {\"template\": ..., \"data\": ...} in `text`.",
    "output": "The rendered text, as a `text` result.",
}
timeout = 10  # MISP's Plugin.Enrichment_timeout: it stops waiting after 10 s anyway
# renders user templates: in worker processes, where a heavy template (its garbage collections
# included) never shares the GIL with the event loop (docs/server.md, "Isolation")
isolation = "process"

DEFAULT_TEMPLATE = "- Default template -"  # upstream's, when `text` has no template


def dict_handler(request: dict[str, Any]) -> dict[str, Any]:
    text = request.get("text")
    if not text:
        return {"error": "jinja_template_rendering needs `text`: a JSON string with `template` and `data`"}
    if not isinstance(text, str):
        return {"error": f"`text` must be a JSON string, not {a_json_type(text)}"}
    try:
        payload = json.loads(text)
    except ValueError as exc:
        return {"error": f"`text` is not valid JSON: {exc}"}
    if not isinstance(payload, dict):
        return {"error": "`text` must hold a JSON object with `template` and `data`"}
    template = payload.get("template", DEFAULT_TEMPLATE)
    if not isinstance(template, str):
        return {"error": f"`template` must be a string, not {a_json_type(template)}"}
    try:
        return _rendered(jinja.render(template, payload.get("data", {})))
    except TemplateRenderError as exc:
        return {"error": f"Template rendering failed: {exc}"}


def _rendered(value: str) -> dict[str, Any]:
    return {"results": [{"types": mispattributes["output"], "values": [value]}]}


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    return moduleinfo  # no `config`: upstream's entry has none, and MISP accepts that
