"""Pages fail cleanly: a clear message, never a blank page, when a run is missing, when the
module server is down, and when the service itself stops answering a page already open. Also
``misp-workflow ui``, the same pages on a folder of workflows and events without a service
configuration."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import base_config
from tests.support.harness import REPO_ROOT, server_env
from tests.support.service import TOKEN, ServiceProcess, _Lines, free_port, write_config
from tests.ui.conftest import EVENT, base_url, folder


def test_a_missing_run_and_a_missing_page_say_so(browser, ui_service):
    base = base_url(ui_service)
    browser.login(base, TOKEN)
    for path, title, text in [("/ui/runs/0b7a1e0c-0000-4000-8000-000000000000", "No such run", "there is no run"),
                              ("/ui/runs/abc/walks/branch-7", "No such run", "there is no run abc"),
                              ("/ui/workflows/nope", "No such workflow", "no workflow named `nope`"),
                              ("/ui/elsewhere", "Not found", "there is no page /ui/elsewhere")]:
        browser.get(base + path)
        assert browser.text("main h1") == title, path
        assert text in browser.text("[data-error]"), path
        assert browser.css("main a[href='/ui/runs']")  # a way back, never a dead end


def test_the_module_server_down_is_named_on_the_modules_page(browser, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    root = folder(tmp_path)
    config = base_config(root, dead, queue={"max_attempts": 2, "backoff": 0.05})
    with ServiceProcess(write_config(root, config)) as service:
        base = base_url(service)
        browser.login(base, TOKEN)
        browser.get(f"{base}/ui/modules")
        assert browser.text("main h1") == "Module server not answering"
        assert f"the module server at {dead}" in browser.text("[data-error]")
        assert "[service] modules_url" in browser.text("[data-error]")
        browser.screenshot("module-server-down")
        # a run it could not make: dead-lettered, and its page says what happened
        status, queued = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})
        service.run_done(queued["id"])
        browser.get(f"{base}/ui/runs/{queued['id']}")
        assert browser.css("#outcome").text == "error"
        assert browser.text("#message").startswith("gave up after 2 attempts: module server: ")
        assert "drawn from the run's trace" in browser.text("#drawing-note")


def test_a_page_left_open_says_when_the_service_stops(browser, tmp_path, ui_modules):
    root = folder(tmp_path)
    service = ServiceProcess(write_config(root, base_config(root, ui_modules.url)))
    try:
        base = base_url(service)
        status, queued = service.request("POST", "/api/runs", {"workflow": "guard", "data": EVENT})
        run = service.run_done(queued["id"])
        browser.login(base, TOKEN)
        browser.wait_css("#runs[data-live-seq]")
        runs_tab = browser.driver.current_window_handle
        browser.driver.switch_to.new_window("tab")
        browser.get(f"{base}/ui/runs/{run['id']}")
        browser.wait_css('#graph a.node[data-node="53"]')
        service.stop()
        assert service.proc.returncode is not None
        browser.css('#graph a.node[data-node="53"]').click()
        error = browser.wait_css("#panel-error")
        assert error.text.startswith("Could not load the node's details:")
        assert browser.text("#main h1").startswith("Run ")  # the page stays, with its graph
        browser.driver.close()
        browser.driver.switch_to.window(runs_tab)
        banner = browser.wait(lambda d: browser.css("#banner").is_displayed() and browser.css("#banner"), "the banner")
        assert banner.text.startswith("Lost contact with the service")
        assert browser.all("#runs tbody tr")  # the list that was there is still shown
        browser.screenshot("service-down")
    finally:
        service.stop()


def test_misp_workflow_ui_runs_a_workflow_on_an_event_of_its_folder(browser, tmp_path, ui_modules):
    root = folder(tmp_path)
    token_file = tmp_path / "token"
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "ui", str(root / "workflows"), "--events",
                             str(root / "events"), "--modules-url", ui_modules.url, "--port", "0", "--token-file",
                             str(token_file)], cwd=REPO_ROOT, env=server_env({"MISP_WORKFLOW_API_TOKENS": ""}),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = _Lines(proc.stdout)
    try:
        ready = lines.wait_for(r"misp-workflow ui: ready on (http://127\.0\.0\.1:\d+)/ui/ \(log in with the token "
                               r"in (\S+);", 60)
        base, named = ready.group(1), ready.group(2)
        assert Path(named) == token_file and stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 16 and token not in lines.text()
        browser.login(base, token)
        browser.get(f"{base}/ui/new?workflow=guard&event_file=ransomware.json")
        area = browser.wait_css("#input_text")
        assert "Ransomware - Xorist" in area.get_attribute("value")
        browser.css("#run-button").click()
        assert browser.wait_css("#outcome", timeout=60).text == "success"
        assert browser.statuses() == {"1": "success", "53": "success", "54": "not-reached"}
        browser.screenshot("ui-command-run")
        run_id = re.search(r"/ui/runs/([\w-]+)$", browser.driver.current_url).group(1)
        browser.get(f"{base}/ui/runs")
        assert browser.all(f'#runs tbody tr[data-run="{run_id}"]')
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        lines.join()
        proc.stdout.close()
    assert code == 0, lines.text()
    state = re.search(r"runs kept in (\S+)\)", lines.text()).group(1)
    assert not Path(state).exists()  # the temporary folder went with the process
