"""A run's detail as the history stores it: one compressed blob, read back node by node.

The blob holds the trigger's raw data (the bytes the task carried), the runner's ``--json``
document, every module call of the run (request body as sent: the node's input data, its
resolved params, the node; the answer: result, errors, output, new data, changes) and the
write-back. These repeat the same event many times, so they are framed side by side and
compressed as one Zstandard frame, whose window finds the repeats: a run of a 40 KB event
with a few nodes stores in a few KB, without decoding anything at run time.

Frame: ``MWR1``, a 4-byte header length, the header (JSON: the parts' names and lengths, the
calls' timings), then the parts' bytes in order: input, document, write-back, then the calls
(records written before the write-back moved up have it last; parts are found by name). A
reader that needs only the first parts (a run's page) or one call (a node's panel) decompresses
up to them and no further (:class:`PartReader`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from runner.service.execution import Call
from runner.service.tasks import MAX_DECOMPRESSED, compress, decompress

MAGIC = b"MWR1"


@dataclass
class Detail:
    input: bytes | None                  # the trigger's raw data, JSON
    document: dict[str, Any]             # the runner's --json document ({} when it did not run)
    calls: list[dict[str, Any]] = field(default_factory=list)   # decoded lazily by nodes()
    written: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # how the run was asked for: mocks, a picked version


def data_unchanged(document: Mapping) -> bool:
    """No node of the run (main walk or branch) changed the roaming data: the final data is the
    trigger's normalised input, which the record does not store twice."""
    walks = [document.get("nodes") or []] + [b.get("nodes") or [] for b in document.get("branches") or []]
    return not any(n.get("data_changed") for nodes in walks for n in nodes)


def slim(document: Mapping) -> dict:
    """The document as stored: ``data`` left out (``data_is_input``) when no node changed it;
    its encoding was a third of a small run's record."""
    if document and "data" in document and data_unchanged(document):
        return {**document, "data": None, "data_is_input": True}
    return dict(document or {})


def pack(input_raw: bytes | None, document: Mapping | None, calls: Iterable[Call], written: list[dict],
         notes: list[str], meta: Mapping[str, Any] | None = None) -> bytes:
    parts: list[tuple[str, bytes]] = []
    document = slim(document or {})
    if input_raw is not None:
        parts.append(("input", input_raw))
    parts.append(("document", _dumps(document or {})))
    parts.append(("written", orjson.dumps(written)))  # before the calls: a run's page reads up to here
    call_meta = []
    for i, call in enumerate(calls):
        parts.append((f"call:{i}:request", call.payload))
        parts.append((f"call:{i}:answer", call.answer))
        call_meta.append({"thread": call.thread, "ms": round(call.ms, 3), "error": call.error})
    head: dict[str, Any] = {"parts": [[name, len(body)] for name, body in parts], "calls": call_meta,
                            "notes": notes}
    if meta:
        head["meta"] = dict(meta)
    header = _dumps(head)
    return compress(b"".join([MAGIC, struct.pack(">I", len(header)), header, *(body for _, body in parts)]))


def _dumps(value: Any) -> bytes:
    """JSON; PHP-style integer keys only when there are some (orjson's non-string-key mode
    costs three times as much, and decoded JSON has string keys only)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def unpack(blob: bytes) -> Detail:
    raw = decompress(blob)
    if raw[:4] != MAGIC:
        raise ValueError("not a run detail record")
    (size,) = struct.unpack(">I", raw[4:8])
    header = orjson.loads(raw[8:8 + size])
    offset = 8 + size
    parts: dict[str, bytes] = {}
    for name, length in header["parts"]:
        parts[name] = raw[offset:offset + length]
        offset += length
    calls = []
    for i, meta in enumerate(header.get("calls") or []):
        calls.append({**meta, "request": parts.get(f"call:{i}:request", b""),
                      "answer": parts.get(f"call:{i}:answer", b"")})
    return Detail(parts.get("input"), orjson.loads(parts.get("document") or b"{}"), calls,
                  orjson.loads(parts.get("written") or b"[]"), header.get("notes") or [], header.get("meta") or {})


class PartReader:
    """A detail record read as a stream: the header at once, then the parts in order, each
    decompressed only when reached (nothing is decompressed past the last part asked for)."""

    CHUNK = 1 << 20

    def __init__(self, blob: bytes) -> None:
        import zstandard

        self._stream = zstandard.ZstdDecompressor().stream_reader(blob)
        self._read_total = 0
        if self._exact(4) != MAGIC:
            raise ValueError("not a run detail record")
        (size,) = struct.unpack(">I", self._exact(4))
        self.header: dict[str, Any] = orjson.loads(self._exact(size))
        self.meta: dict[str, Any] = self.header.get("meta") or {}
        self.notes: list[str] = self.header.get("notes") or []
        self.calls: list[dict[str, Any]] = self.header.get("calls") or []
        self._parts = [(str(n), int(length)) for n, length in self.header.get("parts") or []]
        self._next = 0

    def _exact(self, size: int) -> bytes:
        self._read_total += size
        if self._read_total > MAX_DECOMPRESSED:
            raise ValueError("run detail record larger than the decompression limit")
        chunks, left = [], size
        while left > 0:
            chunk = self._stream.read(min(left, self.CHUNK))
            if not chunk:
                raise ValueError("run detail record cut short")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _skip(self, size: int) -> None:
        while size > 0:
            size -= len(self._exact(min(size, self.CHUNK)))

    def names(self) -> list[str]:
        return [name for name, _ in self._parts]

    def parts(self, wanted: Callable[[str], bool] | None = None) -> Iterator[tuple[str, bytes]]:
        """``(name, bytes)`` of the parts ``wanted`` accepts (all by default), in record order;
        the others are skipped. Stop iterating to stop decompressing."""
        while self._next < len(self._parts):
            name, length = self._parts[self._next]
            self._next += 1
            if wanted is None or wanted(name):
                yield name, self._exact(length)
            else:
                self._skip(length)

    def take(self, names: Iterable[str]) -> dict[str, bytes]:
        """The named parts (those the record has), reading no further than the last of them."""
        left = set(names) & set(self.names())
        found: dict[str, bytes] = {}
        if not left:
            return found
        for name, body in self.parts(lambda n: n in left):
            found[name] = body
            left.discard(name)
            if not left:
                break
        return found

    def close(self) -> None:
        self._stream.close()


def nodes(detail: Detail, *, with_data: bool = True) -> list[dict[str, Any]]:
    """Every node execution with what it was given and what it gave: the document's node entries
    (status, output, errors, timings) joined, in order per node id, with the module calls
    (``input`` roaming data, ``params``, ``answer``, ``data_patch``: RFC 6902 operations from
    its input to the data it returned)."""
    import jsonpatch

    calls_by_node: dict[str, list[dict]] = {}
    for call in detail.calls:
        try:
            request = orjson.loads(call["request"])
        except orjson.JSONDecodeError:
            continue
        node = request.get("node") if isinstance(request, dict) else None
        if not isinstance(node, dict):
            continue
        calls_by_node.setdefault(str(node.get("id")), []).append({**call, "decoded": request})
    out = []
    doc = detail.document or {}
    walks = [("main", doc.get("nodes") or [])]
    walks += [(f"branch {b.get('job_id')}", b.get("nodes") or []) for b in doc.get("branches") or []]
    for walk, entries in walks:
        for entry in entries:
            item = {"walk": walk, **entry}
            queue = calls_by_node.get(str(entry.get("node"))) or []
            call = queue.pop(0) if queue else None
            if call is not None:
                request = call["decoded"]
                item["params"] = request.get("params")
                item["call_ms"] = call["ms"]
                if call.get("error"):
                    item["call_error"] = call["error"]
                answer = orjson.loads(call["answer"]) if call["answer"] else None
                item["answer"] = {k: v for k, v in (answer or {}).items() if k != "data"} if isinstance(answer, dict) else answer
                if with_data:
                    item["input"] = request.get("data")
                    returned = answer.get("data") if isinstance(answer, dict) else None
                    if isinstance(returned, dict) and isinstance(request.get("data"), dict):
                        item["data_patch"] = jsonpatch.make_patch(request["data"], returned).patch
            out.append(item)
    return out
