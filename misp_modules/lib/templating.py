"""Sandboxed Jinja2 rendering shared by every module that renders user templates.

Templates come from workflow parameters typed by MISP users and are rendered against event
content, so they always run in Jinja2's sandbox. One environment, compiled templates cached:
notification modules render the same template for every event.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


class TemplateRenderError(ValueError):
    """A template failed to compile or render; the message says where (line) and why."""


@lru_cache(maxsize=512)
def _compile(template: str):
    return _env.from_string(template)


def render(template: str, context: Mapping[str, Any] | None = None) -> str:
    """Render ``template`` with the top-level keys of ``context`` as variables.

    Raises :class:`TemplateRenderError` naming the line for syntax errors and the reason for
    runtime errors (sandbox violations, undefined attribute calls, ...).
    """
    try:
        compiled = _compile(template)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    try:
        return compiled.render(dict(context or {}))
    except TemplateError as exc:
        raise TemplateRenderError(f"template error: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any error inside user code is a template error
        line = _runtime_line(exc)
        where = f" on line {line}" if line else ""
        raise TemplateRenderError(f"template error{where}: {type(exc).__name__}: {exc}") from None


def render_or_empty(template: str, context: Mapping[str, Any] | None = None) -> str:
    """MISP's rule for jinja-supported params: a template that fails renders as ``""``."""
    try:
        return render(template, context)
    except TemplateRenderError:
        return ""


def _runtime_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
