"""What every page handler shares: the service, the session signer, the templates, and caches
of what does not change (a workflow version's drawing, a run's call index).

Every value a template writes goes through :meth:`UiContext.mask` (Jinja's ``finalize``): the
service's own secrets (``[misp] key``, ``[feed] password``, ``[api] tokens``) never reach a page,
whatever a run's data or message holds.
"""

from __future__ import annotations

import datetime
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import orjson
from markupsafe import Markup

from misp_modules.lib.redact import MASK
from runner.service.ui.auth import LoginLimiter, Signer

if TYPE_CHECKING:  # pragma: no cover
    from runner.service.app import Service

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class Lru:
    """A small thread-safe LRU cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def when(value: Any) -> str:
    """A unix time as ``YYYY-MM-DD HH:MM:SS`` UTC (``—`` when absent)."""
    if value in (None, ""):
        return "—"
    return datetime.datetime.fromtimestamp(float(value), datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def pretty(value: Any, limit: int = 200_000) -> str:
    """Indented JSON, cut at ``limit`` characters (the page says where to get the rest)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = repr(value)
    if len(text) > limit:
        text = text[:limit] + f"\n… cut at {limit:,} of {len(text):,} characters: download the JSON for the rest"
    return text


class UiContext:
    def __init__(self, service: Service, *, events_dir: str | None = None) -> None:
        self.service = service
        self.signer = Signer(service.config.api.tokens)
        self.limiter = LoginLimiter()
        self.events_dir = Path(events_dir) if events_dir else None
        self.secrets = sorted({s for s in (service.config.misp.key, service.config.feed.password,
                                           *service.config.api.tokens) if s and len(s) >= 4}, key=len, reverse=True)
        self.graphs = Lru(64)
        self.calls = Lru(16)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                      finalize=self._finalize, trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(when=when, pretty=pretty, short_version=lambda v: (v or "—")[:8])

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def _finalize(self, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, Markup):
            return Markup(self.mask(str(value))) if self.secrets else value
        return self.mask(str(value)) if self.secrets else value

    def render(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(**values)

    # -- sample events (the folder `misp-workflow ui --events` or [ui] events names) ---------------
    def event_files(self) -> list[str]:
        if self.events_dir is None or not self.events_dir.is_dir():
            return []
        return sorted(p.name for p in self.events_dir.glob("*.json"))

    def event_file(self, name: str) -> bytes:
        """An event file's bytes; :class:`LookupError` for a name the folder does not have."""
        if name not in self.event_files():
            raise LookupError(f"no event file {name!r} in the events folder")
        return (self.events_dir / name).read_bytes()  # type: ignore[operator]


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
