"""The server's log handler and access line: lines logged on the event loop are written once
per loop turn, in order with lines from other threads; the access line written straight to
the handler is exactly what the logging machinery would write (and is redacted too)."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading

import pytest

from misp_modules.server.logs import FORMAT, AccessLog, RedactingFormatter, ServerLogHandler

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - ", re.M)


@pytest.fixture
def isolated_logger(request):
    """A logger of its own (never the server's or pytest's), restored afterwards."""
    logger = logging.getLogger(f"tests.server_logs.{request.node.name}")
    yield logger
    logger.handlers.clear()


def server_handler(stream: io.StringIO) -> ServerLogHandler:
    handler = ServerLogHandler(stream)
    handler.setFormatter(RedactingFormatter(FORMAT))
    return handler


def use(logger: logging.Logger, handler: logging.Handler) -> logging.Logger:
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def test_loop_lines_wait_for_the_loop_turn_and_keep_their_order_with_other_threads(isolated_logger):
    stream = io.StringIO()
    handler = server_handler(stream)
    log = use(isolated_logger, handler)

    async def scenario() -> list[str]:
        handler.attach(asyncio.get_running_loop())
        seen = []
        log.info("one (loop)")
        log.info("two (loop)")
        seen.append(stream.getvalue())  # nothing written yet: buffered until the loop turns
        worker = threading.Thread(target=log.info, args=("three (thread)",))
        worker.start()
        worker.join()
        seen.append(stream.getvalue())  # the thread's line pushed the pending ones out first
        log.info("four (loop)")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(stream.getvalue())
        log.info("five (loop)")
        handler.detach()  # the loop ends: pending lines are written
        seen.append(stream.getvalue())
        log.info("six (after)")
        seen.append(stream.getvalue())
        return seen

    before, after_thread, after_turn, after_detach, last = asyncio.run(scenario())
    assert before == ""
    messages = lambda text: [line.split(" - ")[-1] for line in text.splitlines()]  # noqa: E731
    assert messages(after_thread) == ["one (loop)", "two (loop)", "three (thread)"]
    assert messages(after_turn)[-1] == "four (loop)"
    assert messages(after_detach)[-1] == "five (loop)"
    assert messages(last)[-1] == "six (after)"
    assert all(STAMP.match(line) for line in last.splitlines())


@pytest.mark.parametrize("status, module, error, level", [
    (200, "notifier", None, "INFO"),
    (200, "nope", "Unknown module 'nope' (GET /modules lists the loaded modules)", "INFO"),
    (400, None, None, "WARNING"),
    (500, None, None, "ERROR"),
])
def test_direct_access_line_is_what_logging_writes(isolated_logger, status, module, error, level):
    direct_stream, logging_stream = io.StringIO(), io.StringIO()
    use(isolated_logger, server_handler(direct_stream))
    AccessLog(isolated_logger).line(status, "POST /query?apikey=SeCrEt (127.0.0.1)", 1.234, module, error)
    plain = logging.StreamHandler(logging_stream)  # not the server's handler: the logging path
    plain.setFormatter(RedactingFormatter(FORMAT))
    use(isolated_logger, plain)
    AccessLog(isolated_logger).line(status, "POST /query?apikey=SeCrEt (127.0.0.1)", 1.234, module, error)

    direct, through_logging = direct_stream.getvalue(), logging_stream.getvalue()
    assert STAMP.sub("", direct) == STAMP.sub("", through_logging)
    assert STAMP.match(direct) and direct.endswith("\n")
    assert f" - {isolated_logger.name} - {level} - {status} POST /query?apikey=*** (127.0.0.1) 1.23ms" in direct
    assert "SeCrEt" not in direct


def test_access_line_respects_the_logger_level(isolated_logger):
    stream = io.StringIO()
    use(isolated_logger, server_handler(stream)).setLevel(logging.WARNING)
    AccessLog(isolated_logger).line(200, "POST /query (127.0.0.1)", 1.0, "notifier")
    AccessLog(isolated_logger).line(404, "GET /nope (127.0.0.1)", 1.0)
    assert [line.split(" - ", 1)[1] for line in stream.getvalue().splitlines()] == \
        [f"{isolated_logger.name} - WARNING - 404 GET /nope (127.0.0.1) 1.00ms"]
