"""Reading and writing JSON the fast way (orjson), with errors an analyst can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from runner.errors import InputError

_DUMP_OPTS = orjson.OPT_NON_STR_KEYS


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """JSON bytes. Non-string keys (PHP integer keys) become strings, as PHP's json_encode does.

    Decoded JSON only has string keys, so the (slower) non-string-key mode is the fallback."""
    if indent:
        return orjson.dumps(value, option=_DUMP_OPTS | orjson.OPT_INDENT_2, default=_fallback)
    try:
        return orjson.dumps(value, default=_fallback)
    except TypeError:
        return orjson.dumps(value, option=_DUMP_OPTS, default=_fallback)


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def read_json(path: str | Path, what: str) -> Any:
    """Parse the JSON file at ``path``; ``what`` ("workflow", "event", ...) names it in errors."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what} file is a directory: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise InputError(f"{what} file is empty: {path}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if getattr(exc, "lineno", None) else ""
        raise InputError(f"invalid JSON in {what} file {path}{where}: {exc.msg}") from None
