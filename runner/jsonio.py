"""Reading JSON files with errors an analyst can act on, and encoding roaming data once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from misp_modules.contract.wire import dumps
from runner.errors import InputError


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


Chunk = bytes | memoryview


def dumps_shared(value: Any) -> list[Chunk]:
    """The JSON of roaming data as chunks, each attribute encoded once: MISP's core format lists
    every attribute twice (``Event.Attribute``/``Object[*].Attribute`` and
    ``Event._AttributeFlattened``, the same dicts here), so ``_AttributeFlattened`` is spelled
    from the other lists' encodings (zero-copy slices) instead of encoding them again. Any
    other shape is one :func:`dumps`. ``b"".join(chunks)`` is the JSON document."""
    event = value.get("Event") if isinstance(value, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("_AttributeFlattened"), list):
        return [dumps(value)]
    flat = event["_AttributeFlattened"]
    sources = [event.get("Attribute")]
    objects = event.get("Object")
    if isinstance(objects, list):
        sources += [o.get("Attribute") if isinstance(o, dict) else None for o in objects]
    if any(s is not None and not isinstance(s, list) for s in sources):
        return [dumps(value)]
    lists = [s for s in sources if s]
    if sum(len(s) for s in lists) != len(flat) or any(
            a is not b for a, b in zip(flat, (x for s in lists for x in s))):
        return [dumps(value)]  # filtered or edited: not the same attributes
    encoded = {id(s): dumps(s) for s in lists}
    chunks: list[Chunk] = [b"{"]
    for i, (key, item) in enumerate(value.items()):
        chunks.append((b"," if i else b"") + dumps(str(key)) + b":")
        if item is not event:
            chunks.append(dumps(item))
            continue
        chunks.append(b"{")
        for j, (ekey, evalue) in enumerate(event.items()):
            chunks.append((b"," if j else b"") + dumps(str(ekey)) + b":")
            if ekey == "_AttributeFlattened":
                chunks.append(b"[")
                for k, s in enumerate(lists):
                    if k:
                        chunks.append(b",")
                    chunks.append(memoryview(encoded[id(s)])[1:-1])
                chunks.append(b"]")
            elif ekey == "Attribute" and id(evalue) in encoded:
                chunks.append(encoded[id(evalue)])
            elif ekey == "Object" and isinstance(evalue, list):
                chunks += _objects(evalue, encoded)
            else:
                chunks.append(dumps(evalue))
        chunks.append(b"}")
    chunks.append(b"}")
    return chunks


def _objects(objects: list, encoded: dict[int, bytes]) -> list[Chunk]:
    """``Event.Object`` with each object's ``Attribute`` list from its one encoding."""
    chunks: list[Chunk] = [b"["]
    for i, obj in enumerate(objects):
        if i:
            chunks.append(b",")
        attributes = obj.get("Attribute") if isinstance(obj, dict) else None
        if attributes is None or id(attributes) not in encoded:
            chunks.append(dumps(obj))
            continue
        chunks.append(b"{")
        for j, (key, item) in enumerate(obj.items()):
            chunks.append((b"," if j else b"") + dumps(str(key)) + b":")
            chunks.append(encoded[id(item)] if item is attributes else dumps(item))
        chunks.append(b"}")
    chunks.append(b"]")
    return chunks
