"""Fixtures of the UI tests: the real module server (with the hashlookup and BGP Ranking fakes,
so no module reaches outside 127.0.0.1), a real ``misp-workflow serve`` whose folder holds MISP
blueprints and whose history holds real runs of them on the shipped events, and one headless
Chromium for the session. Everything on free 127.0.0.1 ports, stopped at teardown."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service import workflows as wfs
from tests.service.conftest import base_config
from tests.support.browser import Browser
from tests.support.data import BLUEPRINTS, EVENTS, SMALL_EVENT
from tests.support.fakes.bgpranking import BGPRankingFake, Ranking
from tests.support.fakes.hashlookup import HashlookupFake
from tests.support.harness import ModuleServer
from tests.support.service import ServiceProcess, write_config

BGP = BLUEPRINTS / "blueprint_set-tag-based-on-bgp-ranking-maliciousness-level_1668498668.json"
CURATE = BLUEPRINTS / "blueprint_curation---remove-automation-flag-from-data-having-correlation-with-predefined-feed.json"
EVENT = json.loads(SMALL_EVENT.read_text())


def red(event: dict) -> dict:
    """The event with a PAP:RED attribute: the PAP/TLP guard blocks it."""
    data = copy.deepcopy(event)
    data["Event"]["Attribute"][0]["Tag"] = [{"name": "PAP:RED"}]
    return data


@pytest.fixture(scope="session")
def ui_modules() -> Iterator[ModuleServer]:
    with HashlookupFake([]) as hl, BGPRankingFake({"64500": Ranking("EVIL-HOSTING, RU", 0.0081, 3)},
                                                  {"98.126.0.0/16": "64500"}) as bgp:
        config = {"services": {"hashlookup": hl.url + "/", "bgpranking": bgp.url + "/", "ipasnhistory": bgp.url + "/"},
                  "modules": {"hashlookup": {"cache_ttl": 0}, "bgpranking": {"cache_ttl": 0}}}
        with ModuleServer(config=config) as server:
            yield server


def folder(root: Path) -> Path:
    """A workflow folder of MISP blueprints and one export, and an events folder."""
    workflows = root / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    wfs.write(workflows, "guard", wfs.pap_tlp())          # bound to event-after-save: nodes 1, 53, 54
    shutil.copy(BGP, workflows / "bgp.json")              # a blueprint with a concurrent-task branch
    shutil.copy(CURATE, workflows / "curate.json")        # filters, a tag-if, actions below it
    events = root / "events"
    events.mkdir(exist_ok=True)
    shutil.copy(SMALL_EVENT, events / "ransomware.json")
    shutil.copy(EVENTS / "misp_event.json", events / "misp_event.json")
    return root


class Runs:
    """The runs every UI test reads, made once through the API on the real service."""

    def __init__(self, service: ServiceProcess) -> None:
        self.service = service
        self.clean = self.run({"workflow": "guard", "data": EVENT})
        self.blocked = self.run({"workflow": "guard", "data": red(EVENT)})
        self.branch = self.run({"workflow": "bgp", "trigger": "event-publish", "data": EVENT})
        # tag-if 43 scripted true, the action 40 below it scripted to fail on a non-blocking
        # trigger: 41 below it is skipped, the else branch (44) is not reached
        self.mocked = self.run({"workflow": "curate", "trigger": "event-after-save", "data": EVENT,
                                "mocks": {"43": True, "40": {"success": False, "errors": ["boom"]}}})

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        status, queued = self.service.request("POST", "/api/runs", body)
        assert status == 202, queued
        return self.service.run_done(queued["id"])


@pytest.fixture(scope="module")
def ui_service(tmp_path_factory, ui_modules) -> Iterator[ServiceProcess]:
    root = folder(tmp_path_factory.mktemp("ui-service"))
    config = base_config(root, ui_modules.url, ui={"events": "events"})
    service = ServiceProcess(write_config(root, config))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def runs(ui_service) -> Runs:
    return Runs(ui_service)


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Iterator[Browser]:
    chrome = Browser(tmp_path_factory.mktemp("screenshots"))
    try:
        yield chrome
    finally:
        chrome.quit()


def base_url(service: ServiceProcess) -> str:
    return f"http://127.0.0.1:{service.port}"


def service_root(service: ServiceProcess) -> Path:
    """The folder of a service's configuration file: its workflows/, events/ and state/ are there."""
    return Path(service.args[2]).parent
