"""A task: one requested run of one workflow, as it waits on the queue.

The trigger's data travels as the JSON bytes it arrived in (never decoded and re-encoded on
the way), compressed with Zstandard: a MISP event is mostly repeated keys and compresses
about 8:1, and the history keeps the same bytes. Everything else is a small JSON object.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import zstandard

# Zstandard level 1 compresses a 40 KB event in ~30 µs (zlib level 1 takes ~80 µs for a
# larger result); the window is large enough for a run's calls to share their repeated data.
_LEVEL = 1
MAX_DECOMPRESSED = 1 << 30
_local = threading.local()  # (de)compressors are not thread-safe: one pair per thread

SOURCES = ("feed", "api", "action", "schedule", "rerun")


def compress(raw: bytes) -> bytes:
    """``raw`` as one Zstandard frame."""
    cctx = getattr(_local, "cctx", None)
    if cctx is None:
        cctx = _local.cctx = zstandard.ZstdCompressor(level=_LEVEL)
    return cctx.compress(raw)


def decompress(blob: bytes) -> bytes:
    dctx = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    return dctx.decompress(blob, max_output_size=MAX_DECOMPRESSED)


def new_run_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Task:
    """What a worker needs to run a workflow once. ``data`` (the trigger's raw data, JSON
    bytes) or ``event_ref`` (an event id/uuid fetched from MISP when the run starts). A run on
    a picked ``version`` carries that version's file (``workflow_file``): a worker may be on a
    host without the history that keeps old versions."""

    workflow: str
    source: str
    key: str                               # runs with one key run one at a time, in order
    trigger: str | None = None             # None: the workflow's own trigger
    data: bytes | None = field(default=None, repr=False)
    event_ref: str | None = None
    feed: dict[str, Any] | None = None     # the feed message's identity (topic, uuid, timestamp, event)
    parent: str | None = None              # the run this one re-runs
    mocks: dict[str, Any] | None = None    # node id -> scripted result (docs/runner.md, "Scripted results")
    version: str | None = None             # a version picked for this run (None: the folder's file when it runs)
    workflow_file: str | None = field(default=None, repr=False)  # that version's file (JSON text), carried
    id: str = field(default_factory=new_run_id)
    enqueued_at: float = field(default_factory=time.time)
    attempts: int = 0                      # deliveries so far (set by the queue)
    error: str | None = None               # the last failure (retries, dead letters)

    def meta(self) -> bytes:
        """Everything but the data, as JSON."""
        fields = asdict(self)
        fields.pop("data")
        return orjson.dumps(fields)

    def packed_data(self) -> bytes | None:
        return compress(self.data) if self.data is not None else None

    @classmethod
    def unpack(cls, meta: bytes | str, data: bytes | None) -> Task:
        fields = orjson.loads(meta)
        known = {k: v for k, v in fields.items() if k in cls.__dataclass_fields__}
        return cls(**known, data=decompress(data) if data else None)

    def summary(self) -> dict[str, Any]:
        """The task as the API lists a queued run."""
        return {"id": self.id, "workflow": self.workflow, "trigger": self.trigger, "source": self.source,
                "key": self.key, "event_ref": self.event_ref, "enqueued_at": self.enqueued_at,
                "attempts": self.attempts, "error": self.error, "parent": self.parent, "mocks": self.mocks,
                "version": self.version}
