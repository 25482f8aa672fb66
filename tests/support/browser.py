"""A real browser for the UI tests: Debian's headless Chromium driven by Selenium through Debian's
``chromium-driver`` (``.ci/run`` installs both).

Chromium starts with a fresh profile in a temporary folder and every flag that keeps it off the
network (no component updates, no sync, no background fetches, no QUIC), so the only addresses it
reaches are the 127.0.0.1 servers a test started. Waits are Selenium's explicit waits on a
condition with a deadline, never sleeps. Screenshots go to ``MW_UI_SCREENSHOTS`` when set (how
docs/ui.md's pictures were taken), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("MW_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MW_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check", "--window-size=1400,1000")
WAIT = 20.0


class Browser:
    def __init__(self, shots: Path) -> None:
        self.profile = tempfile.mkdtemp(prefix="mw-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.driver.set_script_timeout(WAIT)
        self.shots = Path(os.environ.get("MW_UI_SCREENSHOTS") or shots)
        self.shots.mkdir(parents=True, exist_ok=True)

    # -- navigation -------------------------------------------------------------------------
    def get(self, url: str) -> None:
        self.driver.get(url)

    def login(self, base: str, token: str) -> None:
        """Log in through the form and wait for the runs page."""
        self.driver.delete_all_cookies()
        self.get(f"{base}/ui/login")
        self.css("#token").send_keys(token)
        self.css("form.login button").click()
        self.wait(lambda d: d.current_url.startswith(f"{base}/ui/runs") and d.title.startswith("Runs"), "the runs page")

    # -- finding and waiting -----------------------------------------------------------------
    def css(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait(self, condition: Callable[[Any], Any], what: str, timeout: float = WAIT) -> Any:
        def safe(driver: Any) -> Any:
            try:
                return condition(driver)
            except StaleElementReferenceException:
                return False
        return WebDriverWait(self.driver, timeout).until(safe, f"not reached within {timeout:g} s: {what}")

    def wait_css(self, selector: str, timeout: float = WAIT) -> WebElement:
        return self.wait(lambda d: (d.find_elements(By.CSS_SELECTOR, selector) or [None])[0], selector, timeout)

    def text(self, selector: str) -> str:
        return self.css(selector).text

    def script(self, code: str, *args: Any) -> Any:
        return self.driver.execute_script(code, *args)

    def statuses(self) -> dict[str, str]:
        """The graph's nodes: node key -> the status it is drawn with."""
        return self.script("return Object.fromEntries([...document.querySelectorAll('#graph svg.graph .node')]"
                           ".map(n => [n.dataset.node, n.dataset.status]))")

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def severe_logs(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
