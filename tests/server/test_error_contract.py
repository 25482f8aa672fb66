"""The `/query` error contract: what MISP could send and fails inside → 200 {"error"};
malformed requests → 400/413 {"error"}; never HTML, never a traceback; the server keeps serving."""

from __future__ import annotations

import json

import pytest


def test_upstream_style_module_gets_the_raw_body(custom_server):
    status, answer = custom_server.query({"module": "upstream_style", "domain": "circl.lu"})
    assert status == 200
    assert answer == {"results": [{"types": ["ip-src", "ip-dst"], "values": ["127.0.0.1"],
                                   "comment": "circl.lu as bytes"}]}
    # upstream's own error convention passes through untouched
    assert custom_server.query({"module": "upstream_style"}) == (200, {"error": "Unsupported attributes type"})


@pytest.mark.parametrize("body, fragment", [
    (b"{not json", "not valid JSON"),
    (b"", "Empty request body"),
    (b"   ", "Empty request body"),
    (b"[1, 2]", "must be a JSON object, not an array"),
    (b'"notifier"', "must be a JSON object, not a string"),
    (b"null", "must be a JSON object, not null"),
    (b'{"data": {}}', "Missing `module`"),
    (b'{"module": 42}', "`module` must be a non-empty string"),
    (b'{"module": ""}', "`module` must be a non-empty string"),
    (b'{"module": "notifier", "timeout": "soon"}', "`timeout` must be a number"),
    (b'{"module": "notifier", "timeout": 0}', "`timeout` must be positive"),
    (b'{"module": "notifier", "timeout": true}', "`timeout` must be a number"),
])
def test_malformed_requests_are_400_with_a_reason(custom_server, body, fragment):
    status, headers, data = custom_server.request("POST", "/query", body)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert fragment in json.loads(data)["error"]


def test_unknown_module_is_200_with_a_specific_error(custom_server):
    status, answer = custom_server.query({"module": "no_such_module"})
    assert status == 200
    assert answer == {"error": "Unknown module 'no_such_module' (GET /modules lists the loaded modules)"}
    # upstream's internal registry keys are not modules either
    assert "Unknown module" in custom_server.query({"module": "type:notifier"})[1]["error"]


def test_module_that_failed_to_load_says_why(custom_server):
    status, answer = custom_server.query({"module": "broken"})
    assert status == 200
    assert "failed to load at startup" in answer["error"]
    assert "RuntimeError: cannot configure the broken module" in answer["error"]


def test_module_raising_is_200_error_with_traceback_only_in_the_log(custom_server):
    status, answer = custom_server.query({"module": "boom", "params": {"bot_token": "x"}})
    assert status == 200
    assert answer["error"].startswith("Module 'boom' failed: ConnectionError: POST https://api.telegram.org/bot")
    assert "Traceback" not in answer["error"]
    logs = custom_server.wait_for_log(r"Something went wrong when processing query request \(module boom\)")
    assert logs
    assert "Traceback (most recent call last)" in custom_server.logs()


def test_attribute_error_inside_dict_handler_is_an_error_not_a_silent_fallback(custom_server):
    status, answer = custom_server.query({"module": "attr_error"})
    assert status == 200
    assert "AttributeError" in answer["error"]


def test_timeout_from_the_request(custom_server):
    status, answer = custom_server.query({"module": "async_slow", "hold": 30, "timeout": 0.3, "id": "t1"})
    assert status == 200
    assert answer == {"error": "Timeout: module 'async_slow' did not answer within 0.3 s"}


def test_numeric_string_timeout_is_accepted_like_upstream(custom_server):
    assert custom_server.query({"module": "async_slow", "hold": 0, "timeout": "5"})[1]["data"] is True


def test_values_json_cannot_carry_become_null_as_upstream_sends_them(custom_server):
    status, _headers, body = custom_server.request("POST", "/query", b'{"module": "unserialisable", "kind": "mixed"}')
    assert status == 200
    # upstream: orjson.dumps(result, default=pymisp_json_default); sets, bytes, BytesIO -> null
    assert body == (b'{"results":[{"types":["email-attachment"],"values":["a.txt"],"data":null,"raw":null,'
                    b'"when":"2024-01-02"}],"tags":null}')
    custom_server.wait_for_log(r"Module unserialisable answered values JSON cannot carry, sent as null as upstream "
                               r"does: results\[0\]\.data \(BytesIO\), results\[0\]\.raw \(bytes\), tags \(set\)")
    assert custom_server.query({"module": "unserialisable"}) == (200, {"data": None})


def test_result_upstream_cannot_encode_either_is_a_clear_error(custom_server):
    status, answer = custom_server.query({"module": "unserialisable", "kind": "huge_int"})
    assert status == 200
    assert answer == {"error": "Module 'unserialisable' returned a result that cannot be serialised to JSON: "
                               "Integer exceeds 64-bit range"}


def test_pymisp_objects_and_int_keys_are_serialised(custom_server):
    status, answer = custom_server.query({"module": "unserialisable", "kind": "misp"})
    assert status == 200
    obj = answer["results"]["Object"][0]
    assert obj["name"] == "domain-ip" and obj["Attribute"][0]["value"] == "example.org"
    assert answer["when"] == "2024-01-02" and answer["uuid"] == "00000000-0000-0000-0000-000000000007"
    assert custom_server.query({"module": "unserialisable", "kind": "int_keys"})[1] == {"items": {"0": "a", "2": "c"}}


@pytest.mark.parametrize("value", [False, None, [1, "two"], "text", 0, {}])
def test_any_json_result_is_passed_through(custom_server, value):
    assert custom_server.query({"module": "echo", "return": value}) == (200, value)


def test_php_style_maps_pass_through_untouched(custom_server):
    payload = {"module": "echo", "data": {"Event": {"Attribute": {"0": {"value": "a"}, "2": {"value": "c"}}}},
               "params": [], "filteredItems": {"1": {"id": "7"}}}
    status, answer = custom_server.query(payload)
    assert status == 200 and answer == payload
    assert list(answer["data"]["Event"]["Attribute"]) == ["0", "2"]


def test_oversize_body_is_413_json(custom_server):
    body = json.dumps({"module": "echo", "blob": "x" * (300 * 1024)}).encode()
    status, headers, data = custom_server.request("POST", "/query", body)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert "too large" in json.loads(data)["error"]


def test_oversize_chunked_body_is_413_json(custom_server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", custom_server.port, timeout=30)
    try:
        chunks = (b"x" * 65536 for _ in range(8))  # 512 KiB, no Content-Length
        conn.request("POST", "/query", body=chunks, encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        assert resp.status == 413
        assert "too large" in json.loads(resp.read())["error"]
    except (BrokenPipeError, ConnectionResetError):  # pragma: no cover - the server may close first
        pytest.fail("server closed the connection without a 413 answer")
    finally:
        conn.close()


def test_body_just_under_the_limit_is_served(custom_server):
    payload = {"module": "echo", "return": True, "blob": "x" * (200 * 1024)}
    assert custom_server.query(payload) == (200, True)


def test_server_still_serves_after_every_error(custom_server):
    for body in (b"{", b"[]", b'{"module": "boom"}', b'{"module": "nope"}'):
        custom_server.request("POST", "/query", body)
    assert custom_server.query({"module": "notifier"}) == (200, {"data": True})
    assert custom_server.get("/healthcheck") == (200, {"status": True})


def test_large_bodies_decode_with_the_collector_restored_after():
    """The collector is paused only while a large body is decoded, valid or not."""
    import gc

    from misp_modules.server.query_endpoint import LARGE_BODY, BadRequest, parse_query

    big = b'{"module": "m", "data": {"v": "' + b"x" * LARGE_BODY + b'"}}'
    assert parse_query(big)[1] == "m" and gc.isenabled()
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_query(big[:-1])
    assert gc.isenabled()
