"""Reading the intel modules' numeric settings with errors that name the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from misp_modules.lib.intel.errors import IntelError
from misp_modules.settings import get_settings


def number(module: str, key: str, default: float, kind: Callable[[Any], Any] = float, minimum: float = 0) -> Any:
    """``[modules.<module>] <key>`` as ``kind`` (default when unset), at least ``minimum``."""
    raw = get_settings().module_setting(module, key, default)
    try:
        value = kind(raw)
        if isinstance(raw, bool) or value < minimum or (kind is int and float(raw) != value):
            raise ValueError
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise IntelError(f"setting [modules.{module}] {key}: expected {what} >= {minimum:g}, got {raw!r}") from None
    return value
