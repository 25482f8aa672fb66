"""Shared fixtures: real module servers on free 127.0.0.1 ports, always stopped."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from tests.server_harness import REPO_ROOT, ModuleServer

SERVER_MODULES = str(REPO_ROOT / "tests" / "server_modules")
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
    """Built-in modules plus the test tree ``tests/server_modules`` (``-c``), 256 KiB body limit.
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
