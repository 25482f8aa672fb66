"""The automation service behind ``misp-workflow serve`` (docs/service.md).

MISP's events come in (its ZeroMQ feed, an action node handing work over, an HTTP API,
schedules), each becomes a durable task on a queue (SQLite on one host, Redis Streams for
several), workers run the bound workflow with the runner, write its changes back to MISP once,
and keep the run's history. The runner is used only through :mod:`runner.service.execution`.
"""
