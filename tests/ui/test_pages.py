"""The web debugger in a real browser (headless Chromium) against a real service with real runs of
MISP blueprints on the shipped events: logging in, the runs list, a run's graph and node panels,
branches, re-running with an edited event and comparing, a module query, the hash-path
playground. Expected statuses are worked out from MISP's rules for each run, not read back from
the page's own code."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.keys import Keys

from tests.service import workflows as wfs
from tests.support.service import TOKEN
from tests.ui.conftest import EVENT, base_url, red, service_root


@pytest.fixture
def ui(browser, ui_service, runs):
    base = base_url(ui_service)
    browser.login(base, TOKEN)
    return browser, base, runs


def test_pages_need_a_login_and_never_show_the_token(browser, ui_service, runs):
    base = base_url(ui_service)
    browser.driver.delete_all_cookies()
    browser.get(f"{base}/ui/runs/{runs.blocked['id']}")
    browser.wait(lambda d: "/ui/login" in d.current_url, "the login page")
    browser.css("#token").send_keys("not-the-token-0123456789")
    browser.css("form.login button").click()
    assert "not one of the service's API tokens" in browser.wait_css("#login-error").text
    browser.css("#token").send_keys(TOKEN)
    browser.css("form.login button").click()
    browser.wait(lambda d: d.current_url.endswith(f"/ui/runs/{runs.blocked['id']}"), "back to the run asked for")
    cookie = browser.driver.get_cookie("mw_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
    for path in ("/ui/runs", f"/ui/runs/{runs.blocked['id']}", "/ui/modules", "/ui/hashpath"):
        browser.get(base + path)
        assert TOKEN not in browser.driver.page_source, path
    assert TOKEN not in ui_service.logs()


def test_the_runs_list_filters_and_shows_new_runs_as_they_finish(ui):
    browser, base, runs = ui
    browser.get(f"{base}/ui/runs?workflow=guard")
    rows = {r.get_attribute("data-run") for r in browser.all("#runs tbody tr")}
    assert {runs.clean["id"], runs.blocked["id"]} <= rows and runs.branch["id"] not in rows
    browser.get(f"{base}/ui/runs?outcome=blocked")
    assert {r.get_attribute("data-run") for r in browser.all("#runs tbody tr")} == {runs.blocked["id"]}
    browser.get(f"{base}/ui/runs?workflow=guard")
    browser.wait_css("#runs[data-live-seq]")
    new = runs.run({"workflow": "guard", "data": red(EVENT)})  # finishes while the page is open
    row = browser.wait_css(f'#runs tbody tr[data-run="{new["id"]}"]')
    assert "blocked" in row.text and row.get_attribute("class").count("new") == 1
    other = runs.run({"workflow": "bgp", "trigger": "event-publish", "data": EVENT})
    latest = runs.run({"workflow": "guard", "data": EVENT})
    browser.wait_css(f'#runs tbody tr[data-run="{latest["id"]}"]')
    assert not browser.all(f'#runs tbody tr[data-run="{other["id"]}"]')  # filtered out, as the page is
    browser.screenshot("runs")


def test_the_graph_has_one_element_per_node_with_its_status(ui, ui_service):
    browser, base, runs = ui
    cases = [
        # PAP/TLP guard on a PAP:RED event: tag-if takes then, stop-execution blocks the run
        (runs.blocked, {"1": "success", "53": "success", "54": "blocked"}),
        # the clean event: tag-if takes else, nothing is connected there
        (runs.clean, {"1": "success", "53": "success", "54": "not-reached"}),
        # filter 39 runs, 43 and 40 are scripted, 41 below the failed 40 is skipped (non-blocking
        # trigger), the else branch 44 is never reached, the logic node 42 runs below the skipped path
        (runs.mocked, {"1": "success", "39": "success", "43": "mocked", "40": "mocked", "41": "skipped",
                       "44": "not-reached", "42": "success"}),
        # the concurrent task queues its branch; the branch's nodes do not run in the main walk
        (runs.branch, {"1": "success", "30": "success", "29": "not-reached", "28": "not-reached"}),
    ]
    for run, expected in cases:
        browser.get(f"{base}/ui/runs/{run['id']}")
        assert browser.statuses() == expected, run["workflow"]
        assert browser.css("#outcome").text == run["outcome"]
    browser.get(f"{base}/ui/runs/{runs.blocked['id']}")
    taken = {e.get_attribute("data-edge") for e in browser.all("#graph path.edge.taken")}
    assert taken == {"1:output_1:0:53", "53:output_1:0:54"}
    browser.screenshot("run-blocked")


def test_a_node_opens_from_the_keyboard_with_its_data_diff(ui):
    browser, base, runs = ui
    browser.get(f"{base}/ui/runs/{runs.mocked['id']}")
    browser.css("[data-zoom]").click()  # the control just before the graph: Tab goes on into the nodes
    order = []
    for _ in range(12):
        browser.driver.switch_to.active_element.send_keys(Keys.TAB)
        order.append(browser.script("return document.activeElement.dataset.node || null"))
        if order[-1] == "39":
            break
    assert order[:2] == ["1", "39"], order  # graph order: the trigger, then the filter it feeds
    browser.driver.switch_to.active_element.send_keys(Keys.ENTER)
    panel = browser.wait_css('#panel [data-node-panel="39"]')
    assert browser.script("return document.activeElement.id") == "panel-h"
    assert "generic-filter-data" in panel.text and "Event._AttributeFlattened.{n}" in browser.text("#panel pre.params")
    ops = {(r.find_element("css selector", "td").text, r.find_elements("css selector", "td")[1].text)
           for r in browser.all("#panel table.diff tbody tr")}
    assert ("add", "/enabledFilters") in ops and ("add", "/_unfilteredData") in ops
    assert browser.css('#graph a.node[data-node="39"]').get_attribute("aria-current") == "true"
    browser.screenshot("node-panel")
    browser.css('#graph a.node[data-node="40"]').click()  # a scripted node: no call was made
    browser.wait(lambda d: "Mocked: its result was scripted" in browser.text("#panel"), "the mocked node's panel")
    assert "boom" in browser.text("#panel")


def test_a_branch_is_drawn_as_its_own_run_linked_to_its_node(ui):
    browser, base, runs = ui
    browser.get(f"{base}/ui/runs/{runs.branch['id']}")
    assert {e.get_attribute("data-edge") for e in browser.all("#graph path.edge.queued")} == {"30:output_1:0:29"}
    browser.css('a[href$="/walks/branch-1"]').click()
    browser.wait(lambda d: d.current_url.endswith("/walks/branch-1"), "the branch page")
    # attach-enrichment finds nothing to enrich; tag_operation then has no attribute: a failed node
    # (MISP's partial-success) on the branch's non-blocking path
    assert browser.statuses() == {"1": "not-reached", "30": "not-reached", "29": "success", "28": "failed"}
    browser.css('a[href$="/walks/main/nodes/30"]').click()
    panel = browser.wait_css('#panel [data-node-panel="30"]')
    assert "branch job 1" in panel.text
    browser.screenshot("branch")


def test_rerun_with_an_edited_event_changes_the_decision(ui):
    browser, base, runs = ui
    browser.get(f"{base}/ui/runs/{runs.clean['id']}")
    browser.css('a[href$="/edit"]').click()
    area = browser.wait_css("#input_text")
    edited = json.loads(area.get_attribute("value"))
    assert edited["Event"]["uuid"] == EVENT["Event"]["uuid"]  # the run's own input, to edit
    edited["Event"]["Attribute"][0]["Tag"] = [{"name": "PAP:RED"}]
    area.clear()
    area.send_keys(json.dumps(edited))
    browser.screenshot("rerun-form")
    browser.css("#run-button").click()
    outcome = browser.wait_css("#outcome", timeout=60)
    assert outcome.text == "blocked" and browser.statuses()["54"] == "blocked"
    browser.css('a[href*="/ui/compare?a="]').click()
    row = browser.wait_css('#decisions tr[data-node="53"]')
    assert "differs" in row.get_attribute("class")
    cells = row.find_elements("css selector", "td")
    assert "output_2" in cells[0].text and "output_1" in cells[1].text
    assert "its input differed" in cells[2].text and "/Event/Attribute/0" in cells[2].text
    assert browser.text("#differ-count").startswith("2 node(s) decided differently")
    browser.screenshot("compare")


def test_rerun_with_a_mock_and_an_older_version(ui, ui_service):
    browser, base, runs = ui
    guard = wfs.pap_tlp()
    guard["Workflow"]["data"]["53"]["data"]["indexed_params"]["tags"] = ["tlp:amber"]
    wfs.write(service_root(ui_service) / "workflows", "guard", guard)  # a new version: PAP:RED passes
    old = runs.blocked["version"]
    browser.get(f"{base}/ui/runs/{runs.blocked['id']}/edit")
    options = {o.get_attribute("value"): o.text for o in browser.all("#version option")}
    assert old in options and len(options) == 2 and "current" in options[next(k for k in options if k != old)]
    browser.css(f'#version option[value="{old}"]').click()
    browser.css('select[name="mock:54"] option[value="success"]').click()
    browser.css("#run-button").click()
    assert browser.wait_css("#outcome", timeout=60).text == "success"
    assert browser.statuses() == {"1": "success", "53": "success", "54": "mocked"}
    assert old in browser.text("dl.facts") and "picked for this run" in browser.text("dl.facts")


def test_a_module_query_from_its_form(ui):
    browser, base, _runs = ui
    browser.get(f"{base}/ui/modules")
    names = {r.get_attribute("data-module") for r in browser.all("#modules tbody tr")}
    assert {"tag_if", "hashlookup", "stop_execution"} <= names
    browser.css('#modules a[href="/ui/modules/tag_if"]').click()
    browser.wait_css("#event-file")
    browser.css('#event-file option[value="ransomware.json"]').click()
    browser.css("#event-file").submit()
    browser.wait(lambda d: "Ransomware - Xorist" in browser.css("#data").get_attribute("value"), "the event loaded")
    tags = browser.wait_css('textarea[name="param:tags"]')
    tags.send_keys("tlp:white")
    browser.css('select[name="param:scope"] option[value="event"]').click()
    browser.css("#send").click()
    answer = json.loads(browser.wait_css("#answer").text)
    assert answer == {"result": True, "errors": [], "output": "output_1"}  # the event is tagged tlp:white
    browser.screenshot("module-query")
    tags = browser.css('textarea[name="param:tags"]')
    tags.clear()
    tags.send_keys("tlp:red")
    browser.css("#send").click()
    browser.wait(lambda d: '"output_2"' in browser.text("#answer"), "the else answer")


def test_the_hash_path_playground_evaluates_and_highlights(ui):
    browser, base, _runs = ui
    browser.get(f"{base}/ui/hashpath?event=ransomware.json")
    path = browser.wait_css("#path")
    path.send_keys("Event.Attribute.{n}[type=md5].value")
    browser.wait(lambda d: browser.text("#hp-answer").startswith("1 match"), "one match")
    assert json.loads(browser.text("#hp-result")) == ["0749bae92ca336a02c83d126e04ec628"]
    hits = browser.all("#hp-tree .hit")
    assert [h.text for h in hits] == ['"0749bae92ca336a02c83d126e04ec628"']
    assert hits[0].get_attribute("data-p") == "/Event/Attribute/5/value"
    browser.screenshot("hashpath")
    browser.css('a[data-path="Event._AttributeFlattened.{n}[type=ip-dst].uuid"]').click()
    browser.wait(lambda d: browser.text("#hp-answer").startswith("0 match"), "no ip-dst in this event")
    assert browser.css("#convert").is_selected()
    path.clear()
    path.send_keys("Event.Attribute.{n}[type=md5")
    assert "bad path" in browser.wait_css("#hp-error").text
