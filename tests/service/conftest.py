"""Fixtures of the service tests: a module server with the service's test modules, a real
redis-server, MISP's REST fake publishing its feed, and service processes, all on free
127.0.0.1 ports and all stopped at teardown, even when a test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import REPO_ROOT
from tests.support.fakes.misp import API_KEY, MispFake
from tests.support.feed import FeedPublisher
from tests.support.harness import ModuleServer
from tests.support.service import TOKEN, RedisServer, ServiceProcess, write_config

SERVICE_MODULES = str(REPO_ROOT / "tests" / "support" / "trees" / "service")


@pytest.fixture(scope="session")
def service_modules() -> Iterator[ModuleServer]:
    """The built-in modules plus the gate module (tests/support/trees/service)."""
    with ModuleServer(custom_dir=SERVICE_MODULES) as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def feed() -> Iterator[FeedPublisher]:
    with FeedPublisher() as publisher:
        yield publisher


@pytest.fixture
def misp(feed) -> Iterator[MispFake]:
    with MispFake(feed=feed) as fake:
        yield fake


def base_config(tmp_path: Path, modules_url: str, **sections: Any) -> dict[str, Any]:
    """A service configuration in ``tmp_path``: embedded queue and history, the API on a free
    port with the test token, fast reloads, short leases; ``sections`` override tables."""
    config: dict[str, Any] = {
        "service": {"workflows": "workflows", "modules_url": modules_url, "node_timeout": 60, "workers": 2,
                    "reload_check": 0, "shutdown_grace": 10},
        "queue": {"backend": "sqlite", "path": "state/queue.db", "lease": 3, "poll": 0.05, "backoff": 0.1,
                  "max_attempts": 4},
        "history": {"url": "state/history.db"},
        "api": {"tokens": [TOKEN], "port": 0},
    }
    for name, table in sections.items():
        config[name] = {**config.get(name, {}), **table}
    return config


def misp_section(fake: MispFake) -> dict[str, Any]:
    return {"url": fake.url, "key": API_KEY, "verify_tls": False, "timeout": 10}


@pytest.fixture
def start_service(tmp_path) -> Iterator[Callable[..., ServiceProcess]]:
    """``start_service(config_dict, *args)``: a service process on that configuration (written
    to ``tmp_path``); every one started is stopped at teardown."""
    started: list[ServiceProcess] = []
    (tmp_path / "workflows").mkdir(exist_ok=True)

    def start(config: dict[str, Any], *args: str, wait_ready: bool = True, folder: Path | None = None,
              env: dict | None = None) -> ServiceProcess:
        path = write_config(folder or tmp_path, config)
        service = ServiceProcess(path, *args, wait_ready=wait_ready, env=env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
