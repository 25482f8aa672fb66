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
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from misp_modules.lib.redact import redact, request_secrets
from misp_modules.server import answers, http_trace, process_pool
from misp_modules.server.loader import BUILTIN, UPSTREAM, LoadedModule, Registry
from misp_modules.server.logs import ERROR_LIMIT, field, shown
from misp_modules.settings import Settings

log = logging.getLogger("misp-modules")

_JSON_OPTIONS = answers.OPTIONS
PROCESS, THREAD = "process", "thread"  # where a module's handler runs (docs/server.md, "Isolation")
CANCEL_GRACE = 1.0  # s a cancelled task may take to end before its slot is given back anyway


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


@dataclass
class Outcome:
    """What ``/query`` answers (always HTTP 200) and what the access log says about it."""

    body: bytes
    error: str | None = None  # set when the server (not the module) produced an error
    module_ms: float | None = None  # the handler's own time (Server-Timing); None: never started
    outcome: str = "exceptions"  # for /statistics: successes, module_errors, exceptions or timeouts


class Call:
    """One query's handler call. The loop decides how it ends for the query: :meth:`conclude`
    runs the query's ``on_end`` once, with True when the call ended or False at the deadline.
    Whoever runs it, a module thread or a task, fills in when the handler started, how long it
    ran (the figure ``Server-Timing`` reports: no queueing, no decoding, no serialising), and
    its serialised result or its exception."""

    __slots__ = ("module", "request", "raw", "on_end", "concluded", "timer", "begun", "task",
                 "started", "took", "body", "error", "module_error", "released")

    def __init__(self, module: LoadedModule, request: dict, raw: bytes | None,
                 on_end: Callable[[Call, bool], None]) -> None:
        self.module = module
        self.request = request
        self.raw = raw
        self.on_end = on_end
        self.concluded = False  # the query got its answer (or gave up)
        self.timer: asyncio.TimerHandle | None = None  # the query's deadline
        self.begun = False  # got a slot in its lane
        self.task: asyncio.Task | None = None  # async handlers
        self.started: float | None = None
        self.took: float | None = None
        self.body: bytes | None = None
        self.error: BaseException | None = None
        self.module_error = False  # the module answered with `error`/`errors` (statistics)
        self.released = False  # its slot was given back before it ended (a task ignoring cancellation)

    def conclude(self, ended: bool) -> bool:
        """Answer the query (``ended``: the call ended; else its deadline passed), unless it
        already was; False then (the call ended after the query stopped waiting)."""
        if not self.abandon():
            return False
        try:
            self.on_end(self, ended)
        except Exception:  # noqa: BLE001 - never let one query's answer break the others'
            log.exception("Answering a query for module %s failed", self.module.name)
        return True

    def abandon(self) -> bool:
        """The query stops waiting (answered, or cancelled); False if it already had."""
        if self.concluded:
            return False
        self.concluded = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None  # no reference cycle left for the garbage collector
        return True

    def expire(self) -> None:
        self.conclude(False)

    def run(self) -> None:
        """Run a synchronous handler (in a module thread)."""
        module = self.module
        traced = http_trace.enter(module.name, request_secrets(self.request, module.secret_params)) if http_trace.enabled else None
        try:
            self.started = time.perf_counter()
            try:
                if not module.takes_dict:
                    result = module.handler(self._raw())
                elif module.fallback_handler is None:
                    result = module.handler(self.request)
                else:
                    try:
                        result = module.handler(self.request)
                    except AttributeError:  # upstream's server then calls handler(q): so do we
                        result = module.fallback_handler(self._raw())
            finally:
                self.took = time.perf_counter() - self.started
            self.module_error = answers.is_module_error(result)
            self.body = answers.encode(result, module.name)
        except BaseException as exc:  # noqa: BLE001 - even SystemExit: a module never stops the server
            self.error = exc
        finally:
            if traced is not None:
                http_trace.leave(traced)

    async def run_async(self) -> None:
        """Run an ``async def`` handler (a task on the loop; cancelled on timeout)."""
        module = self.module
        if http_trace.enabled:  # this task's own context: no need to reset it
            http_trace.enter(module.name, request_secrets(self.request, module.secret_params))
        self.started = time.perf_counter()
        try:
            if module.takes_dict:
                result = await module.handler(self.request)
            else:
                result = await module.handler(self._raw())
        finally:
            self.took = time.perf_counter() - self.started
        self.module_error = answers.is_module_error(result)
        self.body = answers.encode(result, module.name)

    def _raw(self) -> bytes:
        return self.raw if self.raw is not None else orjson.dumps(self.request, option=_JSON_OPTIONS)

    raw_body = _raw  # what a worker process receives

    def module_ms(self) -> float | None:
        """The handler's time so far (all of it once it returned); None if it never started."""
        if self.started is None:
            return None
        took = self.took
        return 1000.0 * (took if took is not None else time.perf_counter() - self.started)


class ModuleThreads:
    """A synchronous module's own threads, at most one per query in flight (the lane's limit).

    Cheaper than a ``ThreadPoolExecutor``: no ``concurrent.futures.Future`` per call (a
    ``Condition`` and callbacks), calls in a C ``SimpleQueue``, and finished calls handed back to
    the loop in batches, one loop wake-up for all that finished in the meantime. A thread is
    started whenever the calls not yet handed back outnumber the threads, so a call never waits
    behind a hung one; under load a thread takes the next queued call without sleeping.
    """

    def __init__(self, name: str, settle: Callable[[Call], None]) -> None:
        self.name = name
        self._settle = settle
        self._jobs: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self._done: collections.deque[Call] = collections.deque()
        self._wakeup_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.outstanding = 0  # submitted, not yet handed back (loop side)
        self.threads = 0

    def submit(self, call: Call) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self.outstanding += 1
        self._jobs.put(call)
        if self.outstanding > self.threads:
            self.threads += 1
            threading.Thread(target=self._work, name=f"module-{self.name}-{self.threads}", daemon=True).start()

    def _work(self) -> None:
        get, done = self._jobs.get, self._done
        while True:
            call = get()
            if call is None:
                return
            call.run()
            done.append(call)
            if not self._wakeup_pending:
                self._wakeup_pending = True
                try:
                    self._loop.call_soon_threadsafe(self._deliver)  # type: ignore[union-attr]
                except RuntimeError:  # the loop is gone: the server shut down while this module hung
                    return

    def _deliver(self) -> None:
        """On the loop: settle every finished call (the flag is cleared first, so a call that
        finishes while we drain either is drained here or schedules a new wake-up)."""
        self._wakeup_pending = False
        done = self._done
        while done:
            self.outstanding -= 1
            self._settle(done.popleft())

    def shutdown(self) -> None:
        for _ in range(self.threads):
            self._jobs.put(None)


class Lane:
    """One module's bounded concurrency: ``limit`` calls running, the others queued in order.
    Calls run in the module's worker processes (``pool``), as tasks on the loop (``async def``
    handlers) or in the module's threads."""

    def __init__(self, module: LoadedModule, timeout: float, limit: int, isolation: str = THREAD,
                 pool_factory: Callable[[Lane], process_pool.WorkerPool] | None = None) -> None:
        self.module = module
        self.timeout = timeout
        self.limit = limit
        self.isolation = isolation
        self.in_flight = 0
        self._queued: collections.deque[Call] = collections.deque()
        self.threads = ModuleThreads(module.name, self.settle)
        self.pool = pool_factory(self) if isolation == PROCESS and pool_factory is not None else None

    def start(self, call: Call) -> None:
        """Run ``call`` now if a slot is free, else when one frees up (first come, first served)."""
        if self.in_flight < self.limit and not self._queued:
            self._begin(call)
        else:
            self._queued.append(call)

    def withdraw(self, call: Call) -> None:
        """A queued call's query gave up (deadline, cancellation): it will not run."""
        try:
            self._queued.remove(call)
        except ValueError:
            pass

    def _begin(self, call: Call) -> None:
        self.in_flight += 1
        call.begun = True
        if self.pool is not None:
            self.pool.submit(call)
        elif self.module.is_async:
            task = call.task = asyncio.get_running_loop().create_task(call.run_async())
            task.add_done_callback(functools.partial(self._settle_task, call))
        else:
            self.threads.submit(call)

    def _settle_task(self, call: Call, task: asyncio.Task) -> None:
        call.task = None
        if task.cancelled():
            call.error = asyncio.CancelledError()
        elif task.exception() is not None:
            call.error = task.exception()
        self.settle(call)

    def settle(self, call: Call) -> None:
        """The call really ended (a timed-out sync call in a thread keeps its slot until then):
        start the next queued call, and hand this one to its query if that still waits (else log
        what became of it)."""
        if not call.released:
            self._release()
        if not call.conclude(True):
            _report_late(self.module.name, call)

    def _release(self) -> None:
        self.in_flight -= 1
        while self._queued and self.in_flight < self.limit:
            queued = self._queued.popleft()
            if not queued.concluded:  # else its query just gave up
                self._begin(queued)

    def abort(self, call: Call) -> None:
        """``call``'s query passed its deadline while the call ran: a worker process is killed
        (the slot is free at once), a task is cancelled (and its slot given back after
        ``CANCEL_GRACE`` even if it ignores the cancellation); a thread cannot be stopped."""
        if self.pool is not None:
            if self.pool.abort(call):
                call.released = True
                self._release()
        elif call.task is not None:
            call.task.cancel()
            asyncio.get_running_loop().call_later(CANCEL_GRACE, self._overdue, call)

    def _overdue(self, call: Call) -> None:
        if call.task is not None and not call.released:
            log.warning("Module %s: a timed-out query ignores its cancellation; its slot is given back "
                        "(the task still runs)", self.module.name)
            call.released = True
            self._release()

    def shutdown(self) -> None:
        self.threads.shutdown()
        if self.pool is not None:
            self.pool.shutdown()


class Dispatcher:
    """Routes queries to lanes; owns nothing else (the registry is built by the loader)."""

    def __init__(self, registry: Registry, settings: Settings,
                 loop: asyncio.AbstractEventLoop | None = None,
                 spawner: process_pool.Spawner | None = None) -> None:
        self.loop = loop  # the server's event loop, for calls from module threads
        self.registry = registry
        self.settings = settings
        self.spawner = spawner
        self.lanes: dict[str, Lane] = {}
        for name, module in registry.modules.items():
            tree_default = settings.upstream.default_timeout if module.origin == UPSTREAM else settings.default_timeout
            timeout = settings.module_setting(name, "timeout", None) or module.declared_timeout or tree_default
            isolation = isolation_of(module, settings)
            default_limit = settings.default_process_concurrency if isolation == PROCESS else settings.default_concurrency
            limit = settings.module_setting(name, "concurrency", None) or module.declared_concurrency or default_limit
            memory = settings.module_setting(name, "memory_limit", None) or settings.worker_memory_limit
            self.lanes[name] = Lane(module, float(timeout), int(limit), isolation, functools.partial(
                self._pool, int(memory) << 20))
        self._monitor: asyncio.TimerHandle | None = None
        if spawner is not None and any(lane.pool for lane in self.lanes.values()):
            self._monitor = spawner.loop.call_later(process_pool.MONITOR_INTERVAL, self._check_pools)

    def _pool(self, memory_limit: int, lane: Lane) -> process_pool.WorkerPool:
        return process_pool.WorkerPool(lane.module.name, self.spawner, lane.limit, memory_limit,
                                       self.settings.worker_idle_timeout, lane.settle)

    def _check_pools(self) -> None:
        now = time.monotonic()
        for lane in self.lanes.values():
            if lane.pool is not None and lane.pool.workers:
                lane.pool.check(now)
        self._monitor = self.spawner.loop.call_later(process_pool.MONITOR_INTERVAL, self._check_pools)  # type: ignore[union-attr]

    def shutdown(self) -> None:
        """Stop every lane (threads, worker processes) and the fork server."""
        if self._monitor is not None:
            self._monitor.cancel()
        for lane in self.lanes.values():
            lane.shutdown()
        if self.spawner is not None:
            self.spawner.close()

    def unknown_module(self, name: str) -> str:
        failure = self.registry.failures.get(name)
        if failure is not None:
            return f"Module {name!r} is not available: it failed to load at startup ({failure.reason})"
        return f"Unknown module {shown(name)} (GET /modules lists the loaded modules)"

    def secret_params(self, name: str) -> tuple[str, ...]:
        """The params module ``name`` declares secret (none for an unknown module)."""
        lane = self.lanes.get(name)
        return lane.module.secret_params if lane is not None else ()

    def submit(self, name: str, request: dict, raw: bytes | None, timeout: float | None,
               reply: Callable[[Outcome], None]) -> Call | None:
        """Start module ``name`` on ``request`` (``raw``: the body as received, for
        ``handler(q)``); ``reply`` gets the outcome on the loop, once. The ``/query`` path: no
        task or future per query. Returns the call (None for an unknown module)."""
        lane = self.lanes.get(name)
        if lane is None:
            message = self.unknown_module(name)
            reply(Outcome(error_body(message), message))
            return None
        timeout = lane.timeout if timeout is None else timeout
        # No closure over `call` (a reference cycle per query would feed the garbage collector).
        call = Call(lane.module, request, raw, functools.partial(self._conclude, lane, timeout, reply))
        call.timer = asyncio.get_running_loop().call_later(timeout, call.expire)  # queueing included
        lane.start(call)
        return call

    async def run(self, name: str, request: dict, raw: bytes | None = None,
                  timeout: float | None = None) -> Outcome:
        """:meth:`submit` as a coroutine (for :func:`query_module`)."""
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        call = self.submit(name, request, raw, timeout, lambda outcome: answer.done() or answer.set_result(outcome))
        try:
            return await answer
        except BaseException:  # cancelled (a module's query_module() call timing out)
            if call is not None and call.abandon() and not call.begun:
                self.lanes[name].withdraw(call)
            raise

    def _conclude(self, lane: Lane, timeout: float, reply: Callable[[Outcome], None], call: Call,
                  ended: bool) -> None:
        reply(self._outcome(lane, call, ended, timeout))

    def _outcome(self, lane: Lane, call: Call, ended: bool, timeout: float) -> Outcome:
        name = lane.module.name
        if not ended:
            if not call.begun:
                lane.withdraw(call)
                message = (f"Timeout: module {name!r} is busy ({lane.in_flight} queries in progress, "
                           f"limit {lane.limit}) and had no free slot within {timeout:g} s")
                log.warning("Timeout on %s (no free slot)", name)
                return Outcome(error_body(message), message, None, "timeouts")
            lane.abort(call)
            log.warning("Timeout on %s", name)
            message = f"Timeout: module {name!r} did not answer within {timeout:g} s"
            return Outcome(error_body(message), message, call.module_ms(), "timeouts")
        if call.body is not None:
            return Outcome(call.body, None, call.module_ms(), "module_errors" if call.module_error else "successes")
        exc = call.error
        if isinstance(exc, answers.NotSerialisable):
            message = f"Module {name!r} returned a result that cannot be serialised to JSON: {exc}"
            log.error("Module %s returned a non-serialisable result: %s", name, exc)
            return Outcome(error_body(message), message, call.module_ms())
        if isinstance(exc, process_pool.WorkerFailed):
            message = f"Module {name!r} failed: {field(str(exc), ERROR_LIMIT)}"
            if not exc.logged:
                log.error("Module %s: %s", name, exc)
            return Outcome(error_body(message), message, call.module_ms())
        secrets = request_secrets(call.request, lane.module.secret_params)
        detail = field(redact(f"{type(exc).__name__}: {exc}", secrets), ERROR_LIMIT)
        log.error("Something went wrong when processing query request (module %s)", name,
                  exc_info=exc, extra={"secrets": secrets})
        message = f"Module {name!r} failed: {detail}"
        return Outcome(error_body(message), message, call.module_ms())


def _report_late(name: str, call: Call) -> None:
    """A query that timed out finished later: log how."""
    exc = call.error
    if isinstance(exc, asyncio.CancelledError):
        log.info("Module %s: timed-out query cancelled", name)
    elif exc is None:
        log.info("Module %s: timed-out query finished late; its result was discarded", name)
    else:
        secrets = request_secrets(call.request, call.module.secret_params)
        log.error("Module %s: timed-out query failed late", name, exc_info=exc, extra={"secrets": secrets})


def isolation_of(module: LoadedModule, settings: Settings) -> str:
    """Where ``module`` runs: ``[modules.<name>] isolation``, else the module's own ``isolation``,
    else ``process`` for code this project did not write (upstream's tree, ``-c``) and
    ``thread`` for the built-ins (docs/server.md, "Isolation")."""
    chosen = settings.module_setting(module.name, "isolation", None) or module.declared_isolation
    if chosen:
        return chosen
    return THREAD if module.origin == BUILTIN else PROCESS


_dispatcher: Dispatcher | None = None
_worker_of: str | None = None  # in a module worker process: its module


def mark_worker_process(module: str) -> None:
    """This process is a worker of ``module`` (:mod:`.forkserver`): no dispatcher here."""
    global _worker_of, _dispatcher
    _worker_of = module
    _dispatcher = None


def _no_dispatcher() -> dict:
    if _worker_of is not None:
        return {"error": f"query_module: module {_worker_of!r} runs in a worker process, which cannot query "
                         f"other modules; give it isolation = \"thread\" ([modules.{_worker_of}] isolation)"}
    return {"error": "query_module: no module server is running in this process"}


def install(dispatcher: Dispatcher | None) -> None:
    """Make ``dispatcher`` the one :func:`query_module` uses (the server does this at startup)."""
    global _dispatcher
    _dispatcher = dispatcher


def hung_threads() -> list[str]:
    """The modules whose queries still run in this process's threads (which cannot be stopped)."""
    lanes = _dispatcher.lanes.values() if _dispatcher is not None else ()
    return [lane.module.name for lane in lanes if lane.in_flight and lane.pool is None]


def module_entry(name: str) -> dict | None:
    """The ``/modules`` entry of module ``name`` as this server loaded it, for modules that query
    other modules (None: no such module, or no server in this process)."""
    module = _dispatcher.registry.modules.get(name) if _dispatcher is not None else None
    return None if module is None else module.entry


async def query_module(name: str, request: dict, timeout: float | None = None) -> dict:
    """Query a loaded module from inside the server, exactly as ``POST /query`` would.

    Returns the decoded response (``{"error": ...}`` for an unknown module, a timeout, a module
    failure). ``request`` is the body ``/query`` would receive; ``module`` is set to ``name``.
    Call it from an ``async def dict_handler``: it needs the server's event loop.
    """
    if _dispatcher is None:
        return _no_dispatcher()
    started = time.perf_counter()
    outcome = await _dispatcher.run(name, {**request, "module": name}, None, timeout)
    log.debug("In-process query to %s done in %.2fms", name, (time.perf_counter() - started) * 1000)
    return orjson.loads(outcome.body)


def query_module_blocking(name: str, request: dict, timeout: float | None = None) -> dict:
    """:func:`query_module` for a synchronous handler, which runs in one of the server's module
    threads: the query runs on the server's loop while this thread waits for its answer."""
    dispatcher = _dispatcher
    if dispatcher is None or dispatcher.loop is None:
        return _no_dispatcher()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is dispatcher.loop:
        raise RuntimeError("query_module_blocking() called on the event loop: use `await query_module()`")
    future = asyncio.run_coroutine_threadsafe(query_module(name, request, timeout), dispatcher.loop)
    return future.result()
