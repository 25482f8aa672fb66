"""MISP's stored event, as the run changes it (spec §6.4).

Nodes see the roaming data; MISP's database changes only through what actions do (tags,
flags, publication, ...), which modules report as ``changes`` (docs/contract.md §4). The runner
keeps this second view: the trigger's event with every change applied in order
(``misp_modules.lib.changes.apply_changes``). ``reload-full-event`` reads it back
(``stored_event`` in the request), as MISP re-reads its database.

``apply_changes`` is pure (the input event is never modified), so a run without changes costs
nothing. Concurrent branches share the view (one MISP database); a lock keeps their changes
whole.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping



class StoredEvent:
    def __init__(self, raw: Any) -> None:
        self._event = raw
        self.changes: list[dict] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()

    @property
    def event(self) -> Any:
        return self._event

    def snapshot(self) -> Any:
        return self._event

    def apply(self, changes: Iterable[Mapping], node_id: str) -> list[dict]:
        """Record ``changes`` (each tagged with the node) and apply them to the view."""
        from misp_modules.lib.changes import apply_changes

        tagged = [{**c, "node": node_id} for c in changes if isinstance(c, Mapping)]
        if not tagged:
            return []
        with self._lock:
            self.changes.extend(tagged)
            try:
                self._event = apply_changes(self._event, [{k: v for k, v in c.items() if k != "node"}
                                                          for c in tagged])
            except Exception as exc:  # noqa: BLE001 - a bad change must not lose the run's report
                self.problems.append(f"node {node_id}: could not apply changes to the stored event: {exc}")
        return tagged
