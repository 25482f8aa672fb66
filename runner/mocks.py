"""Scripted node results: dry-run a workflow whose actions have side effects.

A mocked node is resolved, enable-checked and counted as blocking or not exactly like the real
module, but its ``exec`` is replaced by the scripted result: nothing is sent to the module
server and the roaming data is not read or changed. The format is the walk conformance
``actions`` format::

    {"<node id>": {"success": false, "errors": ["Could not attach tag"]},
     "<node id>": {"exception": "Connection refused"}}

On the command line: ``--mock 56=false``, ``--mock '56={"success": false, "errors": ["x"]}'``
or ``--mocks FILE`` holding such an object. A missing ``success`` means success.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from runner.errors import InputError
from runner.jsonio import read_json


@dataclass(frozen=True)
class Mock:
    success: bool = True
    errors: tuple[str, ...] = ()
    exception: str | None = None


@dataclass
class Mocks:
    by_node: dict[str, Mock] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # node id -> where it was scripted (messages)

    def get(self, node_id: str) -> Mock | None:
        return self.by_node.get(node_id)

    def check(self, node_ids: Iterable[str]) -> None:
        """:class:`InputError` for a scripted node the workflow does not have (it would be
        silently ignored), listing the ids it has."""
        known = [str(n) for n in node_ids]
        for node in self.by_node:
            if node not in known:
                where = self.sources.get(node, "--mock")
                raise InputError(f"{where}: no node `{node}` in the workflow (its node ids: {', '.join(known)})")

    def __bool__(self) -> bool:
        return bool(self.by_node)

    @classmethod
    def from_mapping(cls, raw: Any, source: str) -> Mocks:
        if not isinstance(raw, Mapping):
            raise InputError(f"mocks in {source} must be a JSON object mapping node ids to results")
        return cls({str(k): parse_mock(v, f"{source}, node {k}") for k, v in raw.items()},
                   {str(k): f"{source}, node {k}" for k in raw})

    @classmethod
    def load(cls, files: Iterable[str] = (), specs: Iterable[str] = ()) -> Mocks:
        mocks = cls()
        for path in files:
            loaded = cls.from_mapping(read_json(path, "mocks"), path)
            mocks.by_node.update(loaded.by_node)
            mocks.sources.update(loaded.sources)
        for spec in specs:
            node, sep, value = spec.partition("=")
            if not sep or not node.strip():
                raise InputError(f"--mock {spec!r}: expected NODE=RESULT, e.g. 56=false")
            try:
                raw = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise InputError(f"--mock {spec!r}: RESULT must be JSON (true, false or an object)") from None
            mocks.by_node[node.strip()] = parse_mock(raw, f"--mock {node.strip()}")
            mocks.sources[node.strip()] = f"--mock {node.strip()}"
        return mocks


def parse_mock(raw: Any, where: str) -> Mock:
    if isinstance(raw, bool):
        return Mock(success=raw)
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: a result is true, false or an object with `success`/`errors`/`exception`")
    if raw.get("exception") is not None:
        return Mock(success=False, exception=str(raw["exception"]))
    success = raw.get("success", True)
    if success is None:
        success = True
    if not isinstance(success, bool):
        raise InputError(f"{where}: `success` must be true or false")
    errors = raw.get("errors") or []
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        raise InputError(f"{where}: `errors` must be a list of strings")
    return Mock(success=success, errors=tuple(errors))
