"""The protocol's JSON encoding: what the runner sends a module server and writes in its reports,
and the one switch of the cyclic collector while such JSON is in flight (:func:`collector_paused`)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """JSON bytes. Non-string keys (PHP integer keys) become strings, as PHP's json_encode does.

    Decoded JSON only has string keys, so the (slower) non-string-key mode is the fallback."""
    if indent:
        return orjson.dumps(value, option=_NON_STR_KEYS | orjson.OPT_INDENT_2, default=_fallback)
    try:
        return orjson.dumps(value, default=_fallback)
    except TypeError:
        return orjson.dumps(value, option=_NON_STR_KEYS, default=_fallback)


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- the cyclic collector, paused while wire JSON is in flight -----------------------------------
# Wire data is JSON: a trigger's event, the roaming data each node returns (tens of thousands of
# dicts and lists per node on a large event), a runner request the server decodes. None of it is
# in a reference cycle; reference counting frees all of it. The cyclic collector still counts
# every allocation and, each time the heap has grown by a quarter, traverses everything alive:
# on a 1,000-attribute event a third of the time of a node returning new data (bench/runner),
# ~40 % of the server's decode of a large request. So a program pauses it while such work runs.
# Pauses nest and overlap (threads, concurrent branches, requests): the collector is off while at
# least one is in progress and back on, if it was on when the first began, when the last ends;
# whatever cycles the work made (an exception's traceback) are collected after it as usual.
# This is the only place that switches the collector: a library caller (``Runner.run``) never
# does unless its program opted in (``RunOptions.pause_collector``, set by ``misp-workflow``).

_collector_lock = threading.Lock()
_collector_pauses = 0
_collector_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the ``with`` block (reference-counted)."""
    global _collector_pauses, _collector_resume
    with _collector_lock:
        if _collector_pauses == 0:
            _collector_resume = gc.isenabled()
            gc.disable()
        _collector_pauses += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses -= 1
            if _collector_pauses == 0 and _collector_resume:
                gc.enable()
