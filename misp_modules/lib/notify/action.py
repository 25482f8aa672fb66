"""MISP's request to a MISP-facing action module, as its handler reads it.

MISP calls these modules as workflow action nodes (docs/misp-modules-protocol.md §6): params arrive
as the strings the user typed (``[]`` when there are none) and only a non-empty ``error`` in the
answer fails the node. The module's declaration (``misp_modules.lib.declaration.declare_action``)
parses the request into an :class:`ActionRequest` and turns what its handler raises into that
``error``.

Templates are rendered here, once, with :mod:`.summary`'s context. That is why none of these
modules declares a param ``jinja_supported``: MISP would render it first through the
``jinja_template_rendering`` expansion module (and crash when the Enrichment service is off),
and the module would then render MISP's output a second time, interpreting any ``{{`` that
came from event content (upstream's double rendering).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from misp_modules.contract.request import ParamError
from misp_modules.lib.notify import summary
from misp_modules.semantics.php import a_json_type
from misp_modules.templating import TemplateRenderError, render, render_async

DRY_RUN_VALUES = {"": False, "false": False, "0": False, "true": True, "1": True}
_AUTOESCAPE_OPEN = "{% autoescape true %}"  # same line as the template's first line: numbers stay right
_AUTOESCAPE_CLOSE = "{% endautoescape %}"


@dataclass
class ActionRequest:
    """A MISP-facing action request with its params checked to be strings."""

    module: str
    params: dict[str, str]
    raw: Mapping[str, Any]
    large: frozenset[str] = field(default_factory=frozenset)
    secret_params: frozenset[str] = field(default_factory=frozenset)

    @property
    def data(self) -> Any:
        return self.raw.get("data")

    def get(self, name: str) -> str:
        """A param's value; whitespace trimmed except for textarea (template) params."""
        value = self.params.get(name, "")
        return value if name in self.large else value.strip()

    @property
    def dry_run(self) -> bool:
        """Upstream 3.1's convention: a ``dry_run`` param (``true``/``false``/``1``/``0``, empty is
        false) previews the work without doing it; the runner's ``--dry-run`` (the request's
        top-level ``dry_run``) does the same."""
        value = self.get("dry_run").lower()
        if value not in DRY_RUN_VALUES:
            raise ParamError(f"param `dry_run`: expected true, false, 1 or 0, got {self.get('dry_run')!r}")
        return DRY_RUN_VALUES[value] or self.raw.get("dry_run") is True

    def require(self, name: str, what: str) -> str:
        value = self.get(name)
        if not value:
            raise ParamError(f"param `{name}` is empty: set {what}")
        return value

    def url(self, name: str, what: str) -> str:
        """A required http(s) URL param, checked before any request is built."""
        return check_url(name, self.require(name, what))

    def choice(self, name: str, allowed: Iterable[str], default: str) -> str:
        """A param that MISP can only show as free text but that takes one of a few values."""
        allowed = list(allowed)
        value = self.get(name).lower() or default
        if value not in allowed:
            raise ParamError(f"param `{name}`: unsupported value {self.get(name)!r} "
                             f"(expected one of: {', '.join(allowed)})")
        return value

    def context(self) -> dict[str, Any]:
        return summary.template_context(self.raw, link_base=summary.link_base(self.module))

    def render(self, name: str, default: str, *, html: bool = False,
               context: Mapping[str, Any] | None = None) -> str:
        """Render param ``name`` (or ``default`` when it is empty) as a sandboxed template.
        ``html``: autoescape, so event content is escaped and the template's markup is not."""
        try:
            return render(self._template(name, default, html), self.context() if context is None else context)
        except TemplateRenderError as exc:
            raise ParamError(f"param `{name}`: {exc}") from None

    async def render_async(self, name: str, default: str, *, html: bool = False,
                           context: Mapping[str, Any] | None = None) -> str:
        """:meth:`render` for ``async def`` senders: the context and the template are built in a
        template thread, never on the event loop (where a heavy template would stall the server)."""
        try:
            return await render_async(self._template(name, default, html),
                                      self.context if context is None else context)
        except TemplateRenderError as exc:
            raise ParamError(f"param `{name}`: {exc}") from None

    def _template(self, name: str, default: str, html: bool) -> str:
        template = self.params.get(name, "") or default
        return _AUTOESCAPE_OPEN + template + _AUTOESCAPE_CLOSE if html else template

    def secrets(self) -> list[str]:
        """Values of the credential params (tokens, webhook URLs), to mask in any message."""
        return [self.params[n] for n in self.secret_params if self.params.get(n)]


def check_url(name: str, url: str) -> str:
    """``url`` when it is an http(s) URL with a host (and a valid port, IPv6 brackets closed);
    else a :class:`ParamError` naming the param. The URL itself is not quoted: it may hold a
    credential (webhook id, ``sig=``, ``user:password@``)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:
        raise ParamError(f"param `{name}` is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ParamError(f"param `{name}` must be an http:// or https:// URL with a host")
    return url


def parse_action(module: str, spec: Mapping[str, Mapping[str, Any]], request: Mapping[str, Any],
                 secret_params: Iterable[str] = ()) -> ActionRequest:
    """Check the request MISP sent: ``params`` an object of strings (``[]`` when empty)."""
    if not isinstance(request, Mapping):
        raise ParamError("the request must be a JSON object")
    given = request.get("params")
    if given in (None, []):
        given = {}
    if not isinstance(given, Mapping):
        raise ParamError("`params` must be an object mapping param names to strings")
    params: dict[str, str] = {}
    for name in spec:
        value = given.get(name)
        if value is None:
            value = ""
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        elif not isinstance(value, str):
            raise ParamError(f"param `{name}` must be a string, not {a_json_type(value)}")
        params[name] = value
    large = frozenset(n for n, p in spec.items() if p.get("type") == "large_string")
    return ActionRequest(module, params, request, large, frozenset(secret_params))
