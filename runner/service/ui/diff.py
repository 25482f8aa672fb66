"""The roaming data before and after a node, as a diff a person reads.

The operations are RFC 6902's (``jsonpatch.make_patch``, as ``GET /api/runs/<id>`` gives them
in ``data_patch``); each becomes a row with the path, the value before and the value after,
both as short JSON, so a filter that dropped 900 attributes reads as 900 removals of named
attributes, not as two 1 MB documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PREVIEW = 600


@dataclass
class Row:
    op: str          # add | remove | replace | move | copy
    path: str
    before: str | None
    after: str | None


def short(value: Any, limit: int = PREVIEW) -> str:
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _resolve(document: Any, pointer: str) -> Any:
    value = document
    if pointer in ("", "/"):
        return value
    for raw in pointer.lstrip("/").split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def rows(before: Any, after: Any, limit: int = 500) -> tuple[list[Row], int]:
    """The diff of ``before`` → ``after`` (at most ``limit`` rows) and how many operations there
    are in all."""
    import jsonpatch

    ops = jsonpatch.make_patch(before, after).patch if isinstance(before, (dict, list)) and \
        isinstance(after, (dict, list)) else [{"op": "replace", "path": "", "value": after}]
    out = []
    for op in ops[:limit]:
        kind, path = op["op"], op.get("path", "")
        old = short(_resolve(before, path)) if kind in ("remove", "replace") else None
        new = short(op.get("value")) if kind in ("add", "replace", "copy") else None
        if kind == "move":
            old, new = f"from {op.get('from')}", short(_resolve(after, path))
        out.append(Row(kind, path or "(the whole data)", old, new))
    return out, len(ops)
