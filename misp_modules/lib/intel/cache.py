"""A small thread-safe TTL cache for lookup answers.

Threat-intel answers change slowly (hashlookup's NSRL data, a daily BGP ranking) while the same
values come back in every event of a campaign, so caching them spares the services and makes
repeated workflow runs fast. Only answers are cached (found or "unknown"), never failures.
The TTL is read at lookup time so a settings change applies without a restart.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MISS = object()


class TTLCache:
    """Entries expire ``ttl`` seconds after they were stored; the oldest go first when full."""

    def __init__(self, maxsize: int = 200_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._maxsize = maxsize
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, ttl: float) -> Any:
        """The cached value, or :data:`MISS` when absent, expired or ``ttl <= 0``."""
        if ttl <= 0:
            return MISS
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return MISS
            stored, value = entry
            if self._clock() - stored > ttl:
                del self._data[key]
                return MISS
            return value

    def put(self, key: Hashable, value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._data[key] = (self._clock(), value)
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
