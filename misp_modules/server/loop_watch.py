"""Detect and report what stalls the event loop: the loop-lag watchdog.

``async def`` handlers of ``isolation = "thread"`` modules run on the event loop, and one that
calls a blocking function (``time.sleep``, a synchronous HTTP client, a long computation) stops
every other request, ``/modules`` included, for as long as it blocks. Nothing can take the loop
back from it; what the server can do is say who did it, so the operator moves the module to a
worker process (``[modules.<name>] isolation = "process"``) or its author fixes it.

The loop stamps the time every ``INTERVAL``; a watchdog thread compares. When the loop has not
turned for more than ``[server] loop_lag_warning`` seconds, the watchdog looks at the loop
thread's stack (``sys._current_frames``), finds the innermost frame in a loaded module's file,
and logs one warning naming the module and the line; when the loop turns again, one line says
for how long it was stalled.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Mapping

log = logging.getLogger("misp-modules")

INTERVAL = 0.05  # s between two stamps of the loop (and two looks of the watchdog)


class LoopWatch:
    """Started on the loop's thread; :meth:`stop` before the loop ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float, module_files: Mapping[str, str]) -> None:
        self.loop = loop
        self.threshold = threshold
        self.module_files = dict(module_files)  # absolute file path -> module name
        self.loop_thread = threading.get_ident()
        self.beat = time.monotonic()
        self.stalls = 0  # stalls reported so far (tests and /metrics could read it)
        self._stopped = threading.Event()
        self._timer = loop.call_later(INTERVAL, self._stamp)
        self._thread = threading.Thread(target=self._watch, name="loop-watch", daemon=True)
        self._thread.start()

    def _stamp(self) -> None:
        self.beat = time.monotonic()
        self._timer = self.loop.call_later(INTERVAL, self._stamp)

    def _watch(self) -> None:
        stalled_since: float | None = None
        culprit = ""
        while not self._stopped.wait(INTERVAL):
            beat = self.beat
            lag = time.monotonic() - beat - INTERVAL
            if stalled_since is None and lag > self.threshold:
                stalled_since = beat
                culprit = self.culprit()
                self.stalls += 1
                log.warning("The event loop has not turned for %.0f ms: %s. Every request waits meanwhile; "
                            "a blocking async handler belongs in a worker process ([modules.<name>] isolation = "
                            "\"process\")", 1000 * (lag + INTERVAL), culprit)
            elif stalled_since is not None and beat > stalled_since:
                log.warning("The event loop was stalled for %.0f ms (%s)", 1000 * (beat - stalled_since), culprit)
                stalled_since = None

    def culprit(self) -> str:
        """What the loop thread is running: the innermost frame in a module's file, if any."""
        frame = sys._current_frames().get(self.loop_thread)
        innermost = frame
        while frame is not None:
            name = self.module_files.get(frame.f_code.co_filename)
            if name is not None:
                return f"module {name!r} blocks it ({frame.f_code.co_filename}:{frame.f_lineno} in " \
                       f"{frame.f_code.co_name})"
            frame = frame.f_back
        if innermost is None:
            return "not in a module's code"
        code = innermost.f_code
        return f"not in a module's code ({code.co_filename}:{innermost.f_lineno} in {code.co_name})"

    def stop(self) -> None:
        self._stopped.set()
        self._timer.cancel()
