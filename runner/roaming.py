"""The roaming data of one walk (docs/misp-behaviour.md §6.1): one object, replaced (never edited) by modules.

``get_data`` is MISP's ``getData()``: the data itself when no generic filter is active, else a
filtered copy (``misp_modules.semantics.roaming``). The runner never mutates the data in place,
so a snapshot for a concurrent branch can share it safely.
"""

from __future__ import annotations

from typing import Any


class RoamingData:
    __slots__ = ("data", "_view", "_view_of", "_json", "_json_of")

    def __init__(self, data: Any) -> None:
        self.data = data
        self._view: Any = None
        self._view_of: Any = None
        self._json: list = []
        self._json_of: Any = None

    def get_data(self) -> Any:
        data = self.data
        if not isinstance(data, dict) or not data.get("enabledFilters"):
            return data
        if self._view_of is not data:  # filters are applied once per data version
            from misp_modules.semantics import roaming

            self._view = roaming.get_data(data)
            self._view_of = data
        return self._view

    def view_json(self) -> tuple[Any, list]:
        """``get_data()`` and its JSON encoding (chunks, ``runner.jsonio.dumps_shared``: each
        attribute encoded once), encoded once per data version: consecutive nodes that do not
        change the data share one encoding."""
        view = self.get_data()
        if self._json_of is not view:
            from runner.jsonio import dumps_shared

            self._json = dumps_shared(view)
            self._json_of = view
        return view, self._json

    def set_data(self, data: Any) -> None:
        self.data = data
