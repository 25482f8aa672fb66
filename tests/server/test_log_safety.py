"""Logs are data: what a request sends cannot forge a log line, flood the log, break ``-d``,
or reveal a credential the request configures (issue #13)."""

from __future__ import annotations

import json
import re

import pytest

from misp_modules.server.logs import field, guard_line, request_preview

LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - ", re.M)


def test_a_newline_in_a_module_name_cannot_forge_a_log_line(module_server):
    forged = "x\n2030-01-01 00:00:00,000 - misp-modules - INFO - FORGED admin logged in"
    status, answer = module_server.query({"module": forged})
    assert status == 200 and answer["error"].startswith("Unknown module 'x\\n2030")
    module_server.wait_for_log(r"module=x\\n2030")
    lines = module_server.logs().splitlines()
    assert any("FORGED" in line for line in lines)  # logged, escaped, inside the real line
    assert not any(line.startswith("2030-01-01") for line in lines)
    assert all(LINE_START.match(line) or line.startswith("  ") for line in lines if "FORGED" in line)


def test_a_huge_module_name_is_neither_echoed_nor_logged_in_full(module_server):
    name = "m" * 5_000_000
    status, answer = module_server.query({"module": name}, timeout=60)
    assert status == 200 and len(answer["error"]) < 1000 and "characters)" in answer["error"]
    module_server.wait_for_log(r"module=m{200}…\(\+4999800 characters\)")
    assert "m" * 2000 not in module_server.logs()


@pytest.fixture(scope="module")
def debug_server():
    from tests.support.harness import ModuleServer

    with ModuleServer(extra_args=["-d"]) as server:
        yield server


@pytest.mark.parametrize("depth", [254, 300, 1000])
def test_debug_mode_answers_deeply_nested_requests(debug_server, depth):
    body = b'{"module": "jinja_template_rendering", "text": "{}", "data": ' + b"[" * depth + b"]" * depth + b"}"
    status, answer = debug_server.query(body)
    assert status == 200 and answer == {"results": [{"types": ["text"], "values": ["- Default template -"]}]}
    assert debug_server.get("/healthcheck") == (200, {"status": True})


def test_debug_mode_logs_a_bounded_prefix_of_a_large_body(debug_server):
    marker = "tail-marker-after-the-prefix"
    body = json.dumps({"module": "jinja_template_rendering", "text": "{}", "data": ["x" * 1000] * 20_000 + [marker]})
    status, _answer = debug_server.query(body.encode(), timeout=60)
    assert status == 200
    line = debug_server.wait_for_log(r"MISP QueryModule jinja_template_rendering request .*body shown up to").group()
    assert len(line) < 10_000
    assert marker not in debug_server.logs()


def test_debug_log_masks_what_a_webhook_request_configures_as_credentials(debug_server):
    path_secret, query_secret, header_secret = "pathsecret0abc", "querysecret0xyz", "hdrsecret-42"
    params = {"url": f"http://127.0.0.1:9/hook/{path_secret}?sig={query_secret}&v={query_secret}",
              "headers": f"X-Custom: {header_secret}\nAuthorization: Bearer {header_secret}2",
              "payload": "{}"}
    status, answer = debug_server.query({"module": "http_webhook", "params": params, "data": {}})
    assert status == 200 and "error" in answer  # 127.0.0.1 is not an allowed destination
    debug_server.wait_for_log(r"MISP QueryModule http_webhook request")
    debug_server.wait_for_log(r"200 POST /query \(127\.0\.0\.1\) [\d.]+ms module=http_webhook")
    text = debug_server.logs() + json.dumps(answer)
    for secret in (path_secret, query_secret, header_secret):
        assert secret not in text


def test_field_escapes_control_characters_and_bounds_length():
    assert field("a\nb\r\x1b[31m\u2028") == "a\\nb\\r\\x1b[31m\\u2028"
    assert field("z" * 500, 10) == "z" * 10 + "…(+490 characters)"


def test_guard_line_indents_continuation_lines():
    assert guard_line("first\n2030-01-01 forged\r") == "first\n  2030-01-01 forged\\r"


def test_request_preview_never_raises_and_stays_bounded():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert request_preview({"data": deep}).startswith('{"data":[[[')
    assert len(request_preview({"data": "y" * 10_000_000, "more": list(range(10**6))})) < 4200
    assert request_preview({"params": {"url": "https://h/p", "token": "t", "x": "1"}}, ("url",)) == \
        '{"params":{"url":"***","token":"***","x":"1"}}'
