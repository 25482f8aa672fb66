"""MISP's "Flowintel :: Create case" action (``flowintel-create-case``, docs/misp-behaviour.md
§16.11) through the real server: MISP's checks and its crash by default; with ``[modules.
flowintel_create_case] send_request`` the case posted to a local Flowintel and the
``flowintel-case`` object reported, and written through PyMISP to the MISP fake."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator

import pytest

from misp_modules.semantics.convert import to_core_format
from tests.support.data import EVENTS
from tests.support.fakes.flowintel import API_KEY as FLOWINTEL_KEY
from tests.support.fakes.flowintel import FlowintelFake
from tests.support.fakes.misp import API_KEY, MispFake
from tests.support.harness import ModuleServer
from tests.support.nodes import query_node

MODULE = "flowintel_create_case"
RAW = json.loads((EVENTS / "misp_event.json").read_text())
EVENT_UUID = RAW["uuid"]
ARBITRARY_OFF = "`Security.rest_client_enable_arbitrary_urls` is turned off"
ARBITRARY_ON = {"misp_webhook": {"rest_client_enable_arbitrary_urls": True}}
CONSTRUCTOR = ("/servers/getVersion", "/users/view/me", "/attributes/describeTypes.json")


def data() -> dict:
    return to_core_format({"Event": copy.deepcopy(RAW)})


def params(url: str, **more: str) -> dict:
    return {"url": url, "apikey": FLOWINTEL_KEY, **more}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sending(**module: object) -> dict:
    return {"modules": {**ARBITRARY_ON, MODULE: {"send_request": True, "request_timeout": 2,
                                                 "outbound_allow": ["127.0.0.1"], **module}}}


@pytest.fixture(scope="module")
def flowintel() -> Iterator[FlowintelFake]:
    with FlowintelFake() as fake:
        yield fake


@pytest.fixture
def fi(flowintel) -> FlowintelFake:
    return flowintel.reset()


@pytest.fixture(scope="module")
def misp_default_server() -> Iterator[ModuleServer]:
    with ModuleServer(config={"modules": ARBITRARY_ON}) as srv:
        yield srv


@pytest.fixture(scope="module")
def send_server() -> Iterator[ModuleServer]:
    with ModuleServer(config=sending()) as srv:
        yield srv


# --- MISP's behaviour (the default) --------------------------------------------------------------

def test_misp_crashes_after_its_checks_and_sends_nothing(misp_default_server, fi) -> None:
    answer = query_node(misp_default_server, MODULE, data(), params(fi.url))
    assert answer["result"] is False and "changes" not in answer and "exception" not in answer
    error = answer["crash"]  # MISP's run ends here: the runner stops there (contract.md §3)
    assert answer["errors"] == [] and "MISP's run would end here" in error and "isOk() on null" in error and "send_request" in error
    assert FLOWINTEL_KEY not in json.dumps(answer)
    assert fi.requests == []


@pytest.mark.parametrize("given", [{"url": "", "apikey": FLOWINTEL_KEY}, {"url": "http://x.example"},
                                   {"url": "http://x.example", "apikey": "0"}])
def test_empty_url_or_apikey(misp_default_server, given) -> None:
    answer = query_node(misp_default_server, MODULE, data(), given)
    assert (answer["result"], answer["errors"]) == (False, ["No URL or API Key"])


def test_arbitrary_urls_off(module_server, fi) -> None:
    answer = query_node(module_server, MODULE, data(), params(fi.url))
    assert (answer["result"], answer["errors"]) == (False, [ARBITRARY_OFF])
    empty = query_node(module_server, MODULE, data(), {})
    assert empty["errors"] == ["No URL or API Key"]  # checked first, as MISP's exec does
    assert fi.requests == []


def test_declared_as_misp_declares_it(module_server) -> None:
    entry = next(m for m in module_server.modules() if m["name"] == MODULE)
    node = entry["meta"]["misp_workflow"]
    assert (node["id"], node["version"], node["blocking"], node["support_filters"],
            node["expect_misp_core_format"]) == ("flowintel-create-case", "0.5", False, False, False)
    assert [(p["id"], p["type"], p.get("default")) for p in node["params"]] == [
        ("url", "input", None), ("apikey", "input", None), ("create-reference", "select", "yes"),
        ("case-name", "textarea", "{{ Event.info }}")]
    assert node["params"][3]["jinja_supported"] is True


# --- send_request: what MISP's code would do on an answer ----------------------------------------

def test_case_posted_and_reference_reported(send_server, fi) -> None:
    answer = query_node(send_server, MODULE, data(), params(fi.url))
    assert answer["result"] is True and answer["errors"] == [], answer
    [sent] = fi.requests
    assert (sent.method, sent.path) == ("POST", "/api/case/create_with_event")
    assert sent.header("X-API-KEY") == FLOWINTEL_KEY
    assert sent.header("Accept") == "application/json" and sent.header("Content-Type") == "application/json"
    assert sent.header("User-Agent", "").startswith("MISP")
    body = sent.json()
    assert body == {"title": RAW["info"], "description": f"Case created for MISP Event {EVENT_UUID}",
                    "ticket_id": EVENT_UUID, "event": data(), "origin_url": None}
    [change] = answer["changes"]
    assert change["op"] == "add_object" and change["event_uuid"] == EVENT_UUID
    assert change["object"] == {
        "name": "flowintel-case", "meta-category": "misc", "description": "A case as defined by flowintel.",
        "template_version": 5, "template_uuid": "19df57c7-b315-4fd2-84e5-d81ab221425e",
        "Attribute": [
            {"type": "link", "category": "External analysis", "object_relation": "flowintel-url", "to_ids": 0,
             "value": f"{fi.url}/case/1"},
            {"type": "text", "category": "Other", "object_relation": "case-uuid", "to_ids": 0, "value": "1"},
            {"type": "text", "category": "Other", "object_relation": "title", "to_ids": 0, "value": RAW["info"]},
        ]}
    assert FLOWINTEL_KEY not in json.dumps(answer)


def test_case_name_origin_url_and_no_reference(send_server, fi) -> None:
    roaming = data()
    roaming["_env"] = {"baseurl": "https://misp.example"}
    answer = query_node(send_server, MODULE, roaming,
                        params(fi.url + "/", **{"case-name": "Triage <A&B>", "create-reference": "no"}))
    assert (answer["result"], answer["changes"]) == (True, [])
    body = fi.requests[0].json()
    assert body["title"] == "Triage <A&B>" and body["origin_url"] == "https://misp.example"
    assert fi.requests[0].path.endswith("/api/case/create_with_event")  # appended to the URL as given
    linked = query_node(send_server, MODULE, data(),
                        params(fi.url + "/fi'<&>", **{"case-name": "   "}))
    assert linked["result"] is True
    link = linked["changes"][0]["object"]["Attribute"][0]["value"]
    assert link == f"{fi.url}/fi&#039;&lt;&amp;&gt;/case/2"  # CakePHP's h(): htmlspecialchars, ENT_QUOTES
    assert fi.requests[1].path == "/fi'%3C&%3E/api/case/create_with_event"
    title = linked["changes"][0]["object"]["Attribute"][2]["value"]
    assert title == "   "  # not PHP-empty: kept, as MISP keeps it


def test_empty_case_name_falls_back_to_the_event_info(send_server, fi) -> None:
    answer = query_node(send_server, MODULE, data(), params(fi.url, **{"case-name": ""}))
    assert answer["result"] is True and fi.requests[0].json()["title"] == RAW["info"]


def test_authentication_failed(send_server, fi) -> None:
    answer = query_node(send_server, MODULE, data(), {"url": fi.url, "apikey": "wrong-key-123"})
    assert (answer["result"], answer["errors"]) == (False, ["Authentication failed."])
    assert fi.cases == []


def test_server_error_quotes_the_body_without_the_key(send_server, fi) -> None:
    fi.fault_status = 500
    fi.fault_body = f"<html>Internal Server Error: bad key {FLOWINTEL_KEY}</html>"
    answer = query_node(send_server, MODULE, data(), params(fi.url))
    [error] = answer["errors"]
    assert answer["result"] is False
    assert error.startswith("Something went wrong with the request or the remote side is having issues. "
                            "Body returned: <html>Internal Server Error")
    assert FLOWINTEL_KEY not in json.dumps(answer) and FLOWINTEL_KEY not in send_server.logs()
    fi.fault_body = "x" * 5000
    long = query_node(send_server, MODULE, data(), params(fi.url))
    assert len(long["errors"][0]) < 1200


def test_duplicate_title_is_a_400_quoted(send_server, fi) -> None:
    assert query_node(send_server, MODULE, data(), params(fi.url))["result"] is True
    again = query_node(send_server, MODULE, data(), params(fi.url))
    assert again["result"] is False and "Title already exist" in again["errors"][0]


def test_answer_without_a_case_id(send_server, fi) -> None:
    fi.raw_body = "<html>proxy</html>"
    answer = query_node(send_server, MODULE, data(), params(fi.url))
    assert answer["result"] is False and "without a case_id" in answer["errors"][0] and "proxy" in answer["errors"][0]
    fi.raw_body = json.dumps({"message": "ok"})
    assert "without a case_id" in query_node(send_server, MODULE, data(),
                                             params(fi.url, **{"case-name": "other"}))["errors"][0]


def test_unreachable_flowintel(send_server) -> None:
    answer = query_node(send_server, MODULE, data(),
                        params(f"http://127.0.0.1:{closed_port()}"))
    assert answer["result"] is False
    assert answer["errors"] == ["Something went wrong while sending the request. Error returned: connection refused"]


def test_internal_address_refused_unless_allowed(fi) -> None:
    config = {"modules": {**ARBITRARY_ON, MODULE: {"send_request": True}}}
    with ModuleServer(config=config) as srv:
        answer = query_node(srv, MODULE, data(), params(fi.url))
        assert answer["result"] is False and fi.requests == []
        [error] = answer["errors"]
        assert error.startswith("Something went wrong while sending the request. Error returned: ")
        assert "loopback" in error and "outbound_allow" in error and FLOWINTEL_KEY not in error


# --- written back to MISP through PyMISP -----------------------------------------------------------

@pytest.fixture(scope="module")
def fake_misp() -> Iterator[MispFake]:
    with MispFake() as misp:
        yield misp


@pytest.fixture
def misp(fake_misp) -> MispFake:
    fake_misp.events.clear()
    fake_misp.fail.clear()
    fake_misp.add_event({"Event": copy.deepcopy(RAW)})
    fake_misp.requests.clear()
    return fake_misp


@pytest.fixture(scope="module")
def misp_server(fake_misp) -> Iterator[ModuleServer]:
    config = {**sending(), "misp": {"url": fake_misp.url, "key": API_KEY, "timeout": 5}}
    with ModuleServer(config=config) as srv:
        yield srv


def test_reference_written_through_pymisp(misp_server, misp, fi) -> None:
    answer = query_node(misp_server, MODULE, data(), params(fi.url))
    assert answer["result"] is True and answer["changes"][0]["applied"] is True, answer
    assert [p for p in misp.paths() if not p.endswith(CONSTRUCTOR)] == [f"POST /objects/add/{EVENT_UUID}"]
    [stored] = [o for o in misp.events[EVENT_UUID]["Event"]["Object"] if o.get("name") == "flowintel-case"]
    assert stored["template_uuid"] == "19df57c7-b315-4fd2-84e5-d81ab221425e"
    assert [(a["object_relation"], a["value"]) for a in stored["Attribute"]] == [
        ("flowintel-url", f"{fi.url}/case/1"), ("case-uuid", "1"), ("title", RAW["info"])]
    dry = query_node(misp_server, MODULE, data(), params(fi.url, **{"case-name": "dry"}),
                     dry_run=True)
    assert dry["result"] is True and len(fi.cases) == 2
    assert [p for p in misp.paths() if "/objects/add/" in p] == [f"POST /objects/add/{EVENT_UUID}"]


def test_misp_refusing_the_object_fails_the_node(misp_server, misp, fi) -> None:
    misp.events.clear()  # the event is gone: MISP answers 404
    answer = query_node(misp_server, MODULE, data(), params(fi.url))
    assert answer["result"] is False and answer["changes"] == [] and fi.cases
    assert "add_object" in answer["errors"][0] and "Invalid event" in answer["errors"][0]
    assert API_KEY not in answer["errors"][0]
