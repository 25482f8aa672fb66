"""Python's cyclic garbage collector paused while workflows run.

A run is mostly JSON: the trigger's event, the roaming data each node returns (decoded by
orjson: tens of thousands of dicts and lists per node on a large event), the stored view. None
of it is in a reference cycle; reference counting frees all of it. The cyclic collector still
counts every allocation and, each time the heap has grown by a quarter, traverses everything
alive. On a 1,000-attribute event that was a third of the time of a node returning new data
(``attribute_ids_flag_operation``: 50 ms with the collector, 31 ms without; bench/runner).

So the collector is off while at least one run is in progress (runs may overlap: threads, the
concurrent branches) and back on, if it was on, when the last one ends; whatever cycles a run
made (an exception's traceback) are collected after it as usual.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_resume = False


@contextmanager
def paused() -> Iterator[None]:
    global _active, _resume
    with _lock:
        if _active == 0:
            _resume = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _resume:
                gc.enable()
