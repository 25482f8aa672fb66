"""A module's result as the JSON bytes upstream's server would send for it.

Upstream encodes every answer with ``orjson.dumps(result, default=pymisp.pymisp_json_default)``:
MISP objects become their ``jsonable()`` form, dates their ISO text, enums their value, UUIDs
their text, and anything else pymisp's encoder does not know (a ``set``, ``bytes``, the
``BytesIO`` that ``email_import`` leaves in its attachments) becomes ``null``, which MISP ignores.
Modules written for upstream rely on that, so the answer here is the same bytes, with one
difference that only turns upstream's failures into answers: dict keys that are not strings
(PHP-style maps) are sent as strings, where upstream's encoder raises.

A ``null`` in place of a value is still worth knowing about: the first encoding refuses such
values, and only then is the result encoded again upstream's way, and the places where a value
became ``null`` are logged on one warning line naming the module and each key path. A result
without such values is encoded once, as before.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

log = logging.getLogger("misp-modules")

OPTIONS = orjson.OPT_NON_STR_KEYS  # PHP-style maps may come back with int keys
MAX_PATHS_LOGGED = 5
_NATIVE = (str, int, float, type(None), datetime.datetime, datetime.date, datetime.time, uuid.UUID, enum.Enum)


class NotSerialisable(Exception):
    """A result upstream could not encode either (an integer beyond 64 bits, a cycle...)."""


class _BecomesNull(Exception):
    pass


def _pymisp_default() -> Any:
    """pymisp's encoder, imported on first need (it costs ~0.15 s of startup and most results
    are plain dicts)."""
    from pymisp import pymisp_json_default

    return pymisp_json_default


def _refuse_null(obj: Any) -> Any:
    value = _pymisp_default()(obj)
    if value is None and not isinstance(obj, enum.Enum):  # an enum whose value is None is no loss
        raise _BecomesNull
    return value


def encode(result: Any, module: str) -> bytes:
    """``result`` as upstream's JSON bytes; raises :class:`NotSerialisable` where upstream fails."""
    try:
        return orjson.dumps(result, default=_refuse_null, option=OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        if not isinstance(exc.__cause__, _BecomesNull):
            raise NotSerialisable(str(exc)) from None
    try:
        body = orjson.dumps(result, default=_pymisp_default(), option=OPTIONS)
    except TypeError as exc:
        raise NotSerialisable(str(exc)) from None
    paths = list(null_paths(result))
    shown = ", ".join(paths[:MAX_PATHS_LOGGED]) + (f" and {len(paths) - MAX_PATHS_LOGGED} more"
                                                    if len(paths) > MAX_PATHS_LOGGED else "")
    log.warning("Module %s answered values JSON cannot carry, sent as null as upstream does: %s", module, shown)
    return body


def null_paths(value: Any, path: str = "") -> Iterator[str]:
    """Where (``results[0].data``) and what (``(BytesIO)``) the encoding turns into ``null``:
    the same walk as orjson's, with pymisp's encoder for what orjson does not know."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from null_paths(item, _child(path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from null_paths(item, f"{path}[{index}]")
    elif isinstance(value, _NATIVE):
        return
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from null_paths(getattr(value, f.name), _child(path, f.name))
    else:
        converted = _pymisp_default()(value)
        if converted is None:
            yield f"{path or '(the whole result)'} ({type(value).__name__})"
        else:
            yield from null_paths(converted, path)


def _child(path: str, key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def is_module_error(result: Any) -> bool:
    """Upstream's statistics count an answer with a truthy ``error`` or ``errors`` as a module error."""
    return isinstance(result, dict) and bool(result.get("error") or result.get("errors"))


__all__ = ["encode", "null_paths", "is_module_error", "NotSerialisable"]
