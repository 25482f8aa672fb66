"""The protocol's JSON encoding: what the runner sends a module server and writes in its reports."""

from __future__ import annotations

from typing import Any

import orjson

_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """JSON bytes. Non-string keys (PHP integer keys) become strings, as PHP's json_encode does.

    Decoded JSON only has string keys, so the (slower) non-string-key mode is the fallback."""
    if indent:
        return orjson.dumps(value, option=_NON_STR_KEYS | orjson.OPT_INDENT_2, default=_fallback)
    try:
        return orjson.dumps(value, default=_fallback)
    except TypeError:
        return orjson.dumps(value, option=_NON_STR_KEYS, default=_fallback)


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
