"""Shared fixtures: real module servers on free 127.0.0.1 ports, always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.data import SERVER_MODULES
from tests.support.harness import ModuleServer

# Fixtures defined beside the helpers they go with.
pytest_plugins = ["tests.support.intel"]

CUSTOM_SERVER_CONFIG = {
    "server": {"default_timeout": 10, "max_body_size": 256 * 1024},
    "modules": {"slow": {"concurrency": 2}, "notifier": {"timeout": 5}},
}


@pytest.fixture(scope="session")
def module_server() -> Iterator[ModuleServer]:
    """One server with the built-in modules only, shared by every test that just queries it."""
    with ModuleServer() as server:
        yield server


@pytest.fixture(scope="session")
def custom_server() -> Iterator[ModuleServer]:
    """Built-in modules plus the test tree ``tests/support/trees/server`` (``-c``), 256 KiB body limit.
    Shared: tests using it must leave no module busy when they end."""
    with ModuleServer(custom_dir=SERVER_MODULES, config=CUSTOM_SERVER_CONFIG) as server:
        yield server


@pytest.fixture
def make_server() -> Iterator[Callable[..., ModuleServer]]:
    """Factory: ``make_server(custom_dir=..., config=..., env=..., extra_args=...)``; every
    server it starts is stopped at teardown, even when the test fails."""
    servers: list[ModuleServer] = []

    def make(**kwargs) -> ModuleServer:
        server = ModuleServer(**kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
