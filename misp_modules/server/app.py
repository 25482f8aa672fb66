"""Start the server: settings, modules, sockets, worker processes, graceful shutdown.

Startup order matters for operators: everything that can be wrong with the deployment
(config file, module clashes, port in use) is reported as one clear line and a non-zero
exit *before* anything is served; a module that merely fails to import is a warning.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
import tornado.netutil
import tornado.web

import misp_modules
from misp_modules.server import (
    connections,
    dispatch,
    forkserver,
    handlers,
    http_trace,
    logs,
    loop_watch,
    metrics,
    openapi,
    process_pool,
    query_endpoint,
    statistics,
    upstream_tree,
    workers,
)
from misp_modules.server.loader import LoadError, Registry, load_modules
from misp_modules.settings import Settings, SettingsError, load_settings, set_settings

log = logging.getLogger("misp-modules")

EXIT_OK = 0
EXIT_CONFIG = 2  # invalid config file or module set
EXIT_BIND = 3  # cannot listen


@dataclass
class Options:
    port: int = 6666
    listen: str = "127.0.0.1"
    custom: str | None = None
    upstream: str | None = None
    debug: bool = False
    debug_extended: bool = False
    test: bool = False
    config: str | None = None
    workers: int = 1


class Application(tornado.web.Application):
    """Tornado's application (every endpoint but ``POST /query``) with upstream's access line."""

    def __init__(self, *args, access: logs.AccessLog, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.access = access

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        self.access.line(handler.get_status(), handler._request_summary(),
                         1000.0 * handler.request.request_time())


def build_app(registry: Registry, settings: Settings, dispatcher: dispatch.Dispatcher,
              server_url: str, stats: statistics.Statistics | None = None) -> query_endpoint.Router:
    """The HTTP server's delegate: ``POST /query`` on the lean path, the rest through Tornado's
    web application."""
    modules_body = orjson.dumps(registry.entries(), option=orjson.OPT_NON_STR_KEYS)
    version_body = orjson.dumps({"version": misp_modules.__version__})
    doc = openapi.build(registry, server_url)
    if stats is None:
        stats = statistics.Statistics({name: m.type for name, m in registry.modules.items()})
    routes = [
        (r"/modules", handlers.ListModules, {"body": modules_body, "etag": handlers.etag_of(modules_body)}),
        (r"/query", handlers.QueryOtherMethods),  # POST /query never gets here (query_endpoint)
        (r"/healthcheck", handlers.Healthcheck),
        (r"/statistics", handlers.Statistics, {"stats": stats}),
        (r"/metrics", handlers.Metrics, {"registry": metrics.registry_for(stats)}),
        (r"/version", handlers.Version, {"body": version_body}),
        (r"/openapi.json", handlers.OpenApiJson, {"body": orjson.dumps(doc)}),
        (r"/openapi", handlers.OpenApiPage, {"page": openapi.explorer_page()}),
    ]
    access = logs.AccessLog()
    app = Application(routes, default_handler_class=handlers.NotFound, compress_response=False, access=access)
    bodies = connections.BodyBudget(settings.max_bodies_in_memory)
    return query_endpoint.Router(app, query_endpoint.QueryEndpoint(dispatcher, settings.max_body_size, access, stats,
                                                                   bodies))


def run(options: Options) -> int:
    """The whole life of a server process (or of the parent of ``--workers`` processes)."""
    started = time.perf_counter()
    logs.setup(options.debug)
    try:
        settings = load_settings(options.config)
    except SettingsError as exc:
        log.error("Invalid configuration: %s", exc)
        return EXIT_CONFIG
    set_settings(settings)
    if settings.source:
        log.info("Configuration loaded from %s", settings.source)
    if options.debug_extended:
        http_trace.install()
        log.warning("Extended HTTP debugging enabled: the logs show every outbound HTTP exchange of the modules "
                    "(URLs, headers, bodies), secrets redacted")
    custom, upstream = options.custom, options.upstream
    if custom is not None and upstream is None and upstream_tree.locate(custom) is not None:
        log.info("-c %s has upstream misp-modules' layout (lib/ beside modules/): serving it as --upstream", custom)
        custom, upstream = None, custom
    try:
        registry = load_modules(custom, upstream_dir=upstream, prefer_upstream=settings.upstream.prefer)
    except LoadError as exc:
        log.error("Cannot start: %s", exc)
        return EXIT_CONFIG
    for name in settings.modules:
        if name not in registry.modules and name not in registry.failures:
            log.warning("Configuration has settings for module %r, which does not exist", name)
    # Shared by the workers forked below: each writes its own slot (statistics.py).
    stats = statistics.Statistics({name: m.type for name, m in registry.modules.items()}, options.workers)
    # Everything loaded so far lives as long as the server: out of the collector's sight, a full
    # collection under load scans only what queries create (a 30 ms pause became a few ms), and
    # forked workers keep sharing those pages instead of copying them when the collector runs.
    gc.freeze()
    try:
        if options.workers > 1:
            sockets, port = workers.reserve_port(options.port, options.listen)
        else:
            sockets = tornado.netutil.bind_sockets(options.port, options.listen, backlog=1024)
            port = sockets[0].getsockname()[1]
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            log.error("Could not listen on %s:%d: address already in use (another misp-modules "
                      "server, or another program, is bound to it)", options.listen, options.port)
        else:
            log.error("Could not listen on %s:%d: %s", options.listen, options.port, exc.strerror or exc)
        return EXIT_BIND

    def announce() -> None:
        log.info("MISP modules server started on %s:%d (%d modules, %d failed to load, %.0fms)",
                 options.listen, port, len(registry.modules), len(registry.failures),
                 (time.perf_counter() - started) * 1000)

    if options.test:
        announce()
        log.info("MISP modules started in test-mode, quitting immediately.")
        for sock in sockets:
            sock.close()
        return EXIT_OK
    server_url = f"http://{options.listen}:{port}"
    if options.workers > 1:
        def serve_worker(slot: int, ready: Callable[[], None]) -> int:
            stats.use_slot(slot)
            return _serve_process(workers.worker_sockets(port, options.listen), registry, settings,
                                  server_url, ready, stats)

        code = workers.supervise(options.workers, sockets, serve_worker,
                                 lambda: (announce(), log.info("Serving with %d worker processes", options.workers)))
        log.info("MISP modules server stopped")
        return code
    return _serve_process(sockets, registry, settings, server_url, announce, stats)


def _serve_process(sockets: list[socket.socket], registry: Registry, settings: Settings, server_url: str,
                   ready: Callable[[], None], stats: statistics.Statistics) -> int:
    fork = None
    if any(dispatch.isolation_of(m, settings) == dispatch.PROCESS for m in registry.modules.values()):
        # Forked now, while this process is single-threaded (no loop, no module thread yet).
        fork = forkserver.ForkServer.start(registry, close=sockets)
    code = _run_loop(_serve(sockets, registry, settings, server_url, ready, stats, fork))
    busy = dispatch.hung_threads()
    if busy:
        # Threads of hung sync modules cannot be interrupted; don't let them keep us alive.
        log.warning("Exiting with queries still running in module(s) %s", ", ".join(busy))
        logging.shutdown()
        os._exit(code)
    return code


def _parent_gone(loop: asyncio.AbstractEventLoop, fd: int, stop: asyncio.Event) -> None:
    loop.remove_reader(fd)
    log.warning("The parent process is gone: stopping this worker")
    stop.set()


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when installed (about 15% more queries per second), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def _serve(sockets: list[socket.socket], registry: Registry, settings: Settings, server_url: str,
                 ready: Callable[[], None], stats: statistics.Statistics,
                 fork: forkserver.ForkServer | None = None) -> int:
    logs.attach_loop(asyncio.get_running_loop())
    try:
        return await _serve_on_loop(sockets, registry, settings, server_url, ready, stats, fork)
    finally:
        logs.detach_loop()


async def _serve_on_loop(sockets: list[socket.socket], registry: Registry, settings: Settings, server_url: str,
                         ready: Callable[[], None], stats: statistics.Statistics,
                         fork: forkserver.ForkServer | None) -> int:
    loop = asyncio.get_running_loop()
    spawner = process_pool.Spawner(fork, loop) if fork is not None else None
    dispatcher = dispatch.Dispatcher(registry, settings, loop, spawner)
    watch = loop_watch.LoopWatch(loop, settings.loop_lag_warning,
                                 {m.module.__file__: name for name, m in registry.modules.items()
                                  if getattr(m.module, "__file__", None)})
    dispatch.install(dispatcher)
    router = build_app(registry, settings, dispatcher, server_url, stats)
    queries = router.endpoint
    server = connections.GuardedHTTPServer(
        router, max_body_size=settings.max_body_size + 1, idle_connection_timeout=settings.idle_timeout,
        body_timeout=settings.body_timeout, max_buffer_size=16 * 1024 * 1024,
        max_connections=settings.max_connections)
    router.busy = server.busy
    server.add_sockets(sockets)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if workers.parent_watch_fd is not None:  # a --workers child: stop when the parent is gone
        loop.add_reader(workers.parent_watch_fd, _parent_gone, loop, workers.parent_watch_fd, stop)
    ready()
    await stop.wait()
    log.info("Shutting down: not accepting new connections, %d queries in flight", queries.in_flight)
    server.stop()
    try:
        await asyncio.wait_for(queries.idle.wait(), settings.shutdown_grace)
    except TimeoutError:
        log.warning("Shutdown grace period (%gs) over with %d queries still in flight",
                    settings.shutdown_grace, queries.in_flight)
    await server.close_all_connections()
    watch.stop()
    dispatcher.shutdown()
    log.info("MISP modules server stopped")
    return EXIT_OK
