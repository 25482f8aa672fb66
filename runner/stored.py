"""MISP's stored event, as the run changes it (docs/misp-behaviour.md §6.4).

Nodes see the roaming data; MISP's database changes only through what actions do (tags,
flags, publication, ...), which modules report as ``changes`` (docs/contract.md §4). The runner
keeps this second view: the trigger's event with every change applied in order
(``misp_modules.contract.changes.apply_changes``). ``reload-full-event`` reads it back
(``stored_event`` in the request), as MISP re-reads its database.

Changes are recorded as they come and folded into the event only when someone reads it (a
module that needs the stored event, or the report): applying copies the whole event, which a
run should pay once, not once per node. Concurrent branches share the view (one MISP
database); a lock keeps their changes whole and in order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any


class StoredEvent:
    def __init__(self, raw: Any) -> None:
        self._event = raw
        self._pending: list[dict] = []
        self._json: bytes = b""
        self._json_of: Any = None
        self.changes: list[dict] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()

    @property
    def event(self) -> Any:
        return self.snapshot()

    def snapshot(self) -> Any:
        """The stored event with every change recorded so far."""
        with self._lock:
            if self._pending:
                from misp_modules.contract.changes import apply_changes

                pending, self._pending = self._pending, []
                try:
                    self._event = apply_changes(self._event, pending)
                except Exception as exc:  # noqa: BLE001 - a bad change must not lose the run's report
                    nodes = sorted({str(c.get("node")) for c in self.changes[-len(pending):]})
                    self.problems.append(f"could not apply the changes of node(s) {', '.join(nodes)} "
                                         f"to the stored event: {exc}")
            return self._event

    def snapshot_json(self) -> bytes:
        """:meth:`snapshot` encoded, once per version of the stored event."""
        event = self.snapshot()
        with self._lock:
            if self._json_of is not event:
                from misp_modules.contract.wire import dumps

                self._json, self._json_of = dumps(event), event
            return self._json

    def apply(self, changes: Iterable[Mapping], node_id: str) -> list[dict]:
        """Record ``changes``, each tagged with the node that made it."""
        tagged = [{**c, "node": node_id} for c in changes if isinstance(c, Mapping)]
        if tagged:
            with self._lock:
                self.changes.extend(tagged)
                self._pending.extend({k: v for k, v in c.items() if k != "node"} for c in tagged)
        return tagged
