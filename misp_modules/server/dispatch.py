"""Run one module query: per-module concurrency, timeout, and the error contract.

Every module gets its own *lane*: at most ``concurrency`` queries in flight (sync handlers in
the lane's own threads, async handlers as tasks on the event loop) and its own queue. A hung
hashlookup therefore fills only the hashlookup lane; a Telegram alert or ``/modules`` never
waits behind it (upstream shares one pool of 10 threads between all modules).

The timeout is a deadline for the whole query, queueing included, because the caller (MISP's
curl, 5 or 10 s) gives up after a total time too. On timeout an async handler is cancelled; a
sync handler cannot be interrupted, so its thread keeps its slot until it really returns. That
is deliberate: releasing the slot would let a hung dependency pile up threads without bound.

:func:`query_module` is the in-process entry point for modules that call other modules (the
``attach-enrichment`` node): same lane, same timeout, same error contract as ``POST /query``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from misp_modules.lib.redact import redact, secret_values
from misp_modules.server.loader import LoadedModule, Registry
from misp_modules.settings import Settings

log = logging.getLogger("misp-modules")

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS  # PHP-style maps may come back with int keys


class _NotSerialisable(Exception):
    pass


def _json_default(obj: Any) -> Any:
    """pymisp's encoder (MISPEvent, datetime, UUID...), imported on first need (it costs
    ~0.15 s of startup and most results are plain dicts). pymisp's encoder returns ``None``
    for anything else, so upstream silently answers ``null`` for e.g. a set; here that is an
    error naming the type."""
    from pymisp import pymisp_json_default

    value = pymisp_json_default(obj)
    if value is None:
        raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")
    return value


def serialise(result: Any) -> bytes:
    """A module result as JSON bytes, the way upstream serialises it."""
    try:
        return orjson.dumps(result, default=_json_default, option=_JSON_OPTIONS)
    except TypeError as exc:
        raise _NotSerialisable(str(exc)) from None


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


@dataclass
class Outcome:
    """What ``/query`` answers (always HTTP 200) and what the access log says about it."""

    body: bytes
    error: str | None = None  # set when the server (not the module) produced an error


class Lane:
    """One module's bounded concurrency: ``limit`` slots, a FIFO of waiters, its own threads."""

    def __init__(self, module: LoadedModule, timeout: float, limit: int) -> None:
        self.module = module
        self.timeout = timeout
        self.limit = limit
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:  # threads only for modules that are actually used
            self._executor = ThreadPoolExecutor(self.limit, thread_name_prefix=f"module-{self.module.name}")
        return self._executor

    async def acquire(self, deadline: float) -> bool:
        """Take a slot before ``deadline`` (loop time); False when none freed up in time."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return True
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(max(0.0, deadline - loop.time()), _expire, waiter)
        try:
            granted = await waiter  # True from release(), None from the timer
        except BaseException:  # cancelled while queued: never leak a slot granted meanwhile
            self._give_up(waiter)
            raise
        finally:
            timer.cancel()
        if granted:
            return True
        self._give_up(waiter)
        return False

    def _give_up(self, waiter: asyncio.Future) -> None:
        if waiter.done() and not waiter.cancelled() and waiter.result():
            self.release()  # granted as we gave up: pass the slot on
            return
        if not waiter.done():
            waiter.cancel()
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    def release(self) -> None:
        """Hand the slot to the oldest waiter still waiting, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self.in_flight -= 1

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


class Dispatcher:
    """Routes queries to lanes; owns nothing else (the registry is built by the loader)."""

    def __init__(self, registry: Registry, settings: Settings,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop  # the server's event loop, for calls from module threads
        self.registry = registry
        self.settings = settings
        self.lanes: dict[str, Lane] = {}
        for name, module in registry.modules.items():
            timeout = settings.module_setting(name, "timeout", None) or module.declared_timeout \
                or settings.default_timeout
            limit = settings.module_setting(name, "concurrency", None) or module.declared_concurrency \
                or settings.default_concurrency
            self.lanes[name] = Lane(module, float(timeout), int(limit))

    def unknown_module(self, name: str) -> str:
        failure = self.registry.failures.get(name)
        if failure is not None:
            return f"Module {name!r} is not available: it failed to load at startup ({failure.reason})"
        return f"Unknown module {name!r} (GET /modules lists the loaded modules)"

    async def run(self, name: str, request: dict, raw: bytes | None = None,
                  timeout: float | None = None) -> Outcome:
        """Run module ``name`` on ``request`` (``raw``: the body as received, for ``handler(q)``)."""
        lane = self.lanes.get(name)
        if lane is None:
            message = self.unknown_module(name)
            return Outcome(error_body(message), message)
        module = lane.module
        timeout = lane.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not await lane.acquire(deadline):
            message = (f"Timeout: module {name!r} is busy ({lane.in_flight} queries in progress, "
                       f"limit {lane.limit}) and had no free slot within {timeout:g} s")
            log.warning("Timeout on %s (no free slot)", name)
            return Outcome(error_body(message), message)
        # The lane slot is released when the work really ends (_settle), not at the deadline.
        waiter = loop.create_future()
        if module.is_async:
            work: Any = loop.create_task(_call_async(module, request, raw))
            work.add_done_callback(lambda done: _settle(lane, waiter, done, request))
        else:
            work = lane.executor.submit(_call_sync, module, request, raw)
            work.add_done_callback(lambda done: _settle_from_thread(loop, lane, waiter, done, request))
        timer = loop.call_later(max(0.0, deadline - loop.time()), _expire, waiter)
        try:
            task = await waiter
        finally:
            timer.cancel()
        if task is None:
            if module.is_async:
                work.cancel()
            log.warning("Timeout on %s", name)
            message = f"Timeout: module {name!r} did not answer within {timeout:g} s"
            return Outcome(error_body(message), message)
        try:
            return Outcome(task.result())
        except _NotSerialisable as exc:
            message = f"Module {name!r} returned a result that cannot be serialised to JSON: {exc}"
            log.error("Module %s returned a non-serialisable result: %s", name, exc)
            return Outcome(error_body(message), message)
        except Exception as exc:  # noqa: BLE001 - the module's failure becomes the client's error
            secrets = secret_values(request)
            detail = redact(f"{type(exc).__name__}: {exc}", secrets)
            log.error("Something went wrong when processing query request (module %s)", name,
                      exc_info=exc, extra={"secrets": secrets})
            message = f"Module {name!r} failed: {detail}"
            return Outcome(error_body(message), message)


def _call_sync(module: LoadedModule, request: dict, raw: bytes | None) -> bytes:
    if module.takes_dict:
        result = module.handler(request)
    else:
        result = module.handler(raw if raw is not None else orjson.dumps(request, option=_JSON_OPTIONS))
    return serialise(result)


async def _call_async(module: LoadedModule, request: dict, raw: bytes | None) -> bytes:
    if module.takes_dict:
        result = await module.handler(request)
    else:
        result = await module.handler(raw if raw is not None else orjson.dumps(request, option=_JSON_OPTIONS))
    return serialise(result)


def _settle(lane: Lane, waiter: asyncio.Future, done: Any, request: dict) -> None:
    """The module's work ended: free its slot, and hand the result to the query if it is still
    waiting (else the query timed out: log what became of the work)."""
    lane.release()
    if not waiter.done():
        waiter.set_result(done)
    else:
        _report_late(lane.module.name, done, request)


def _settle_from_thread(loop: asyncio.AbstractEventLoop, lane: Lane, waiter: asyncio.Future,
                        done: Any, request: dict) -> None:
    try:
        loop.call_soon_threadsafe(_settle, lane, waiter, done, request)
    except RuntimeError:  # the loop is gone: the server shut down while this module hung
        pass


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _report_late(name: str, done: Any, request: dict) -> None:
    """A query that timed out finished later: log how (this also retrieves its exception, so
    asyncio does not complain that it was never retrieved)."""
    if done.cancelled():
        log.info("Module %s: timed-out query cancelled", name)
        return
    exc = done.exception()
    if exc is None:
        log.info("Module %s: timed-out query finished late; its result was discarded", name)
    else:
        secrets = secret_values(request)
        log.error("Module %s: timed-out query failed late", name, exc_info=exc, extra={"secrets": secrets})


_dispatcher: Dispatcher | None = None


def install(dispatcher: Dispatcher | None) -> None:
    """Make ``dispatcher`` the one :func:`query_module` uses (the server does this at startup)."""
    global _dispatcher
    _dispatcher = dispatcher


def current() -> Dispatcher | None:
    return _dispatcher


async def query_module(name: str, request: dict, timeout: float | None = None) -> dict:
    """Query a loaded module from inside the server, exactly as ``POST /query`` would.

    Returns the decoded response (``{"error": ...}`` for an unknown module, a timeout, a module
    failure). ``request`` is the body ``/query`` would receive; ``module`` is set to ``name``.
    Call it from an ``async def dict_handler``: it needs the server's event loop.
    """
    if _dispatcher is None:
        return {"error": "query_module: no module server is running in this process"}
    started = time.perf_counter()
    outcome = await _dispatcher.run(name, {**request, "module": name}, None, timeout)
    log.debug("In-process query to %s done in %.2fms", name, (time.perf_counter() - started) * 1000)
    return orjson.loads(outcome.body)


def query_module_blocking(name: str, request: dict, timeout: float | None = None) -> dict:
    """:func:`query_module` for a synchronous handler, which runs in one of the server's module
    threads: the query runs on the server's loop while this thread waits for its answer."""
    dispatcher = _dispatcher
    if dispatcher is None or dispatcher.loop is None:
        return {"error": "query_module: no module server is running in this process"}
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is dispatcher.loop:
        raise RuntimeError("query_module_blocking() called on the event loop: use `await query_module()`")
    future = asyncio.run_coroutine_threadsafe(query_module(name, request, timeout), dispatcher.loop)
    return future.result()
