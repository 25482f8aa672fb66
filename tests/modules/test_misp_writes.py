"""Actions that reach a live MISP, end to end: the real server, the real PyMISP client, and a
local MISP REST fake (tests/fakes/misp.py) whose received requests are checked. Without a MISP
connection these actions fail with an error that says what to configure; a dry run only
reports the changes."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest

from misp_modules.semantics.convert import to_core_format
from tests.support.data import EVENTS
from tests.support.fakes.misp import API_KEY, MispFake
from tests.support.harness import ModuleServer
from tests.support.nodes import query_node

RAW = json.loads((EVENTS / "misp_event.json").read_text())
EVENT_UUID = RAW["uuid"]
CONSTRUCTOR = ("/servers/getVersion", "/users/view/me", "/attributes/describeTypes.json")


@pytest.fixture(scope="module")
def fake() -> Iterator[MispFake]:
    with MispFake() as misp:
        yield misp


@pytest.fixture(scope="module")
def server(fake) -> Iterator[ModuleServer]:
    with ModuleServer(config={"misp": {"url": fake.url, "key": API_KEY, "timeout": 5}}) as srv:
        yield srv


@pytest.fixture
def misp(fake) -> MispFake:
    """The fake with a fresh copy of the event and no recorded requests."""
    fake.events.clear()
    fake.warninglists.clear()
    fake.decay_scores.clear()
    fake.blocklist.clear()
    fake.fail.clear()
    fake.add_event({"Event": copy.deepcopy(RAW)})
    fake.requests.clear()
    return fake


def data() -> dict:
    return to_core_format({"Event": copy.deepcopy(RAW)})




def work(fake: MispFake) -> list[str]:
    """The requests the actions made (PyMISP's connection set-up left out)."""
    return [p for p in fake.paths() if not p.endswith(CONSTRUCTOR)]


# --- without a MISP connection -----------------------------------------------------------------

@pytest.mark.parametrize("module, params, extra", [
    ("publish_event", {}, {}),
    ("add_eventblocklist_entry", {}, {}),
    ("add_to_warninglist", {"warninglist": "5"}, {}),
    ("attach_decay_score", {"decayingmodels": ["1"]}, {}),
    ("reload_full_event", {}, {"trigger": {"misp_core_format": True}}),
])
def test_without_misp_the_error_says_what_to_configure(module_server, module, params, extra) -> None:
    answer = query_node(module_server, module, data(), params, **extra)
    assert answer["result"] is False
    assert "[misp] url and key" in answer["error"], answer["error"]


def test_proposals_without_misp(module_server) -> None:
    roaming = data()
    roaming["Event"]["ShadowAttribute"] = [{"uuid": "p-1", "type": "ip-dst", "value": "10.0.0.1"}]
    answer = query_node(module_server, "proposal_action", roaming, {"proposal_type": "new"})
    assert answer["result"] is False and "proposal-action needs a MISP connection" in answer["error"]


def test_dry_run_reports_without_misp(module_server) -> None:
    answer = query_node(module_server, "publish_event", data(), dry_run=True)
    assert answer["result"] is True
    assert answer["changes"] == [{"op": "publish", "uuid": EVENT_UUID}]


def test_offline_tag_changes_are_returned_unapplied(module_server) -> None:
    answer = query_node(module_server, "tag_operation", data(), {"tags": ["tlp:clear"]})
    assert answer["result"] is True and all("applied" not in c for c in answer["changes"])


# --- with MISP ---------------------------------------------------------------------------------

def test_publish(server, misp) -> None:
    answer = query_node(server, "publish_event", data())
    assert answer["result"] is True
    assert answer["changes"] == [{"op": "publish", "uuid": EVENT_UUID, "applied": True}]
    assert work(misp) == [f"POST /events/publish/{EVENT_UUID}"]
    assert misp.events[EVENT_UUID]["Event"]["published"] is True


def test_dry_run_never_writes(server, misp) -> None:
    answer = query_node(server, "tag_operation", data(), {"tags": ["tlp:clear"]}, dry_run=True)
    assert answer["result"] is True and len(answer["changes"]) == 2
    assert work(misp) == []


def test_tag_operation_written_through_pymisp(server, misp) -> None:
    answer = query_node(server, "tag_operation", data(), {"scope": "attribute", "locality": "local", "tags": ["tlp:clear"]})
    attrs = [a["uuid"] for a in RAW["Attribute"]]
    assert answer["result"] is True and all(c["applied"] for c in answer["changes"])
    assert work(misp) == ["POST /tags/attachTagToObject", "POST /events/unpublish/" + EVENT_UUID,
                          "POST /tags/attachTagToObject"]  # one unpublish for the event's touches
    assert misp.calls("/tags/attachTagToObject") == [{"uuid": u, "tag": "tlp:clear", "local": True} for u in attrs]
    assert all(a["Tag"][-1]["name"] == "tlp:clear" for a in misp.events[EVENT_UUID]["Event"]["Attribute"])


def test_ids_flag_edit_written_through_pymisp(server, misp) -> None:
    answer = query_node(server, "attribute_ids_flag_operation", data(), {"action": "add"})
    changed = [a["uuid"] for a in RAW["Attribute"] if not a["to_ids"]]
    assert answer["result"] is True and changed
    assert misp.calls("/attributes/edit/") == [{"to_ids": True}] * len(changed)
    assert [p for p in work(misp) if "/attributes/edit/" in p] == [f"POST /attributes/edit/{u}" for u in changed]
    assert all(a["to_ids"] is True for a in misp.events[EVENT_UUID]["Event"]["Attribute"])
    assert "data" in answer  # the roaming data changes too


def test_event_distribution_one_edit_call(server, misp) -> None:
    answer = query_node(server, "event_distribution_operation", data(), {"distribution": "4", "sharing_group_id": "2",
                                                                  "freeze": "freeze"})
    assert answer["result"] is True
    assert work(misp) == [f"POST /events/edit/{EVENT_UUID}"]
    assert misp.calls("/events/edit/") == [{"distribution": "4", "sharing_group_id": "2"}]


def test_blocklist_entry(server, misp) -> None:
    answer = query_node(server, "add_eventblocklist_entry", data(), {"block_comment": "Blocked: test"})
    assert answer["result"] is True
    assert misp.calls("/eventBlocklists/add") == [{"uuids": [EVENT_UUID], "comment": "Blocked: test",
                                                   "event_info": RAW["info"], "event_orgc": RAW["Orgc"]["name"]}]
    missing = query_node(server, "add_eventblocklist_entry", data(), {"uuid_hash_path": "Event.nope"})
    assert missing["result"] is False and "param `uuid_hash_path`" in missing["error"]


def test_add_to_warninglist(server, misp) -> None:
    misp.warninglists["5"] = {"id": "5", "name": "Our FPs", "type": "string", "description": "", "category":
                              "false_positive", "default": False, "version": 1,
                              "WarninglistEntry": [{"value": RAW["Attribute"][0]["value"], "comment": "known"}],
                              "WarninglistType": [{"type": "ip-dst"}]}
    answer = query_node(server, "add_to_warninglist", data(), {"warninglist": "5"})
    assert answer["result"] is True
    assert work(misp) == ["GET /warninglists/view/5", "POST /warninglists/edit/5"]
    sent = misp.calls("/warninglists/edit/5")[0]["Warninglist"]
    assert sent["entries"].splitlines() == [f"{RAW['Attribute'][0]['value']} # known", RAW["Attribute"][1]["value"]]
    assert sent["matching_attributes"] == ["ip-dst"]
    assert [e["value"] for e in misp.warninglists["5"]["WarninglistEntry"]] == [a["value"] for a in RAW["Attribute"]]
    unset = query_node(server, "add_to_warninglist", data(), {})
    assert unset["result"] is False and unset["error"].startswith("No warninglist selected")


def test_proposals_accepted_and_data_reloaded(server, misp) -> None:
    stored = misp.events[EVENT_UUID]["Event"]
    stored["ShadowAttribute"] = [{"uuid": "p-new", "type": "ip-dst", "category": "Network activity",
                                  "value": "198.51.100.7", "to_ids": True}]
    stored["Attribute"][0]["ShadowAttribute"] = [{"uuid": "p-edit", "type": stored["Attribute"][0]["type"],
                                                  "value": "edited.example"}]
    roaming = to_core_format({"Event": copy.deepcopy(stored)})
    roaming["enabledFilters"] = []  # roaming-only keys do not survive a reload
    default = query_node(server, "proposal_action", roaming)  # proposal_type "all": MISP does nothing
    assert (default["result"], default["changes"], work(misp)) == (True, [], [])
    answer = query_node(server, "proposal_action", roaming, {"action": "accept", "proposal_type": "any"})
    assert answer["result"] is True
    assert work(misp) == ["POST /shadowAttributes/accept/p-new", "POST /shadowAttributes/accept/p-edit",
                          f"GET /events/view/{RAW['id']}"]
    assert [c["op"] for c in answer["changes"]] == ["accept_proposal", "accept_proposal"]
    assert answer["changes"][1]["attribute_uuid"] == stored["Attribute"][0]["uuid"]
    reloaded = answer["data"]
    assert "enabledFilters" not in reloaded and "_AttributeFlattened" in reloaded["Event"]
    assert "edited.example" in [a["value"] for a in reloaded["Event"]["_AttributeFlattened"]]


def test_proposals_dry_run_reload_from_the_stored_view(server, misp) -> None:
    stored_view = {"Event": copy.deepcopy(RAW)}
    stored_view["Event"]["ShadowAttribute"] = [{"uuid": "p-9", "type": "domain", "category": "Network activity",
                                                "value": "new.example"}]
    roaming = to_core_format(stored_view)
    answer = query_node(server, "proposal_action", roaming, {"proposal_type": "new"}, dry_run=True, stored_event=stored_view)
    assert answer["result"] is True and work(misp) == []
    values = [a["value"] for a in answer["data"]["Event"]["_AttributeFlattened"]]
    assert "new.example" in values and answer["data"]["Event"]["ShadowAttribute"] == []


def test_reload_full_event(server, misp) -> None:
    misp.events[EVENT_UUID]["Event"]["info"] = "changed in MISP"
    roaming = {**data(), "_module": "x", "enabledFilters": []}
    answer = query_node(server, "reload_full_event", roaming, trigger={"misp_core_format": True})
    assert answer["result"] is True and work(misp) == [f"GET /events/view/{RAW['id']}"]
    assert answer["data"]["Event"]["info"] == "changed in MISP"
    assert set(answer["data"]) == {"Event"} and "_AttributeFlattened" in answer["data"]["Event"]
    untouched = query_node(server, "reload_full_event", roaming, trigger={"misp_core_format": False})
    assert (untouched["result"], untouched.get("data")) == (True, None)


def test_reload_offline_uses_the_runners_stored_view(module_server) -> None:
    stored = {"Event": {**copy.deepcopy(RAW), "info": "as stored"}}
    answer = query_node(module_server, "reload_full_event", data(), trigger={"misp_core_format": True}, stored_event=stored)
    assert answer["result"] is True and answer["data"]["Event"]["info"] == "as stored"
    assert answer["data"] == to_core_format(stored)


def test_attach_decay_score(server, misp) -> None:
    first = RAW["Attribute"][0]["uuid"]
    misp.decay_scores[first] = [{"score": 42.5, "base_score": 80, "decayed": False,
                                 "DecayingModel": {"id": "3", "name": "NIDS Simple Decaying Model"}}]
    answer = query_node(server, "attach_decay_score", data(), {"decayingmodels": ["3"]})
    assert answer["result"] is True
    queries = misp.calls("/attributes/restSearch")
    assert [q["uuid"] for q in queries] == [a["uuid"] for a in RAW["Attribute"]]
    assert all(q["includeDecayScore"] == 1 and q["decayingModel"] == ["3"] for q in queries)
    flat = answer["data"]["Event"]["_AttributeFlattened"]
    assert flat[0]["decay_score"][0]["score"] == 42.5 and "decay_score" not in flat[1]
    assert answer["data"]["Event"]["Attribute"][0]["decay_score"] == flat[0]["decay_score"]
    none = query_node(server, "attach_decay_score", data(), {})
    assert none["result"] is False and none["error"].startswith("No decaying model selected")


def test_misp_refusal_is_reported_with_the_change(server, misp) -> None:
    misp.fail["/tags/attachTagToObject"] = (403, {"name": "You do not have permission to do that.",
                                                  "message": "You do not have permission to do that.",
                                                  "url": "/tags/attachTagToObject"})
    answer = query_node(server, "tag_operation", data(), {"tags": ["tlp:clear"]})
    assert answer["result"] is False
    assert f"attach_tag 'tlp:clear' on event {EVENT_UUID} failed" in answer["error"]
    assert "HTTP 403" in answer["error"] and "permission" in answer["error"]
    assert API_KEY not in json.dumps(answer) and API_KEY not in server.logs()


def test_wrong_key_is_a_clear_error_without_the_key(fake, make_server) -> None:
    wrong = "A" * 40
    srv = make_server(config={"misp": {"url": fake.url, "key": wrong, "timeout": 5}})
    answer = query_node(srv, "publish_event", data())
    assert answer["result"] is False and f"cannot use MISP at {fake.url}" in answer["error"]
    assert wrong not in json.dumps(answer) and wrong not in srv.logs()


def test_unreachable_misp(make_server) -> None:
    with MispFake() as gone:
        url = gone.url
    srv = make_server(config={"misp": {"url": url, "key": API_KEY, "timeout": 2}})
    answer = query_node(srv, "tag_operation", data(), {"tags": ["tlp:clear"]})
    assert answer["result"] is False and "cannot use MISP" in answer["error"]
