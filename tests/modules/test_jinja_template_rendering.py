"""jinja_template_rendering, as MISP core calls it (misp-behaviour.md §8)."""

from __future__ import annotations

import json

import pytest


def render(server, template, data, **extra):
    text = json.dumps({"template": template, "data": data})
    return server.query({"module": "jinja_template_rendering", "text": text, **extra})


EVENT = {"Event": {"info": "Phishing wave", "threat_level_id": "1",
                   "Attribute": [{"type": "domain", "value": "evil.example"}, {"type": "ip-dst", "value": "192.0.2.1"}],
                   "Tag": [{"name": "tlp:amber"}]}}


@pytest.mark.parametrize("template, expected", [
    ("{{ Event.info }}", "Phishing wave"),
    ("{{ Event['threat_level_id'] }}", "1"),
    ("{% for a in Event.Attribute %}{{ a.value }};{% endfor %}", "evil.example;192.0.2.1;"),
    ("{{ Event.Tag | map(attribute='name') | join(',') }}", "tlp:amber"),
    ("{{ nothing_here }}x", "x"),  # undefined renders as nothing, like MISP
    ("line\n", "line"),  # Jinja's default drops one trailing newline
    ("two\n\n", "two\n"),
    ("plain text", "plain text"),
])
def test_renders_like_misp(module_server, template, expected):
    assert render(module_server, template, EVENT) == (200, {"results": [{"types": ["text"], "values": [expected]}]})


def test_empty_php_array_data(module_server):
    assert render(module_server, "x{{ a }}", [])[1] == {"results": [{"types": ["text"], "values": ["x"]}]}


def test_sandbox_blocks_unsafe_access(module_server):
    status, answer = render(module_server, "{{ ''.__class__.__mro__ }}", {})
    assert status == 200 and "unsafe" in answer["error"]


def test_template_errors_are_named(module_server):
    status, answer = render(module_server, "{% if %}", {})
    assert status == 200
    assert answer["error"].startswith("Template rendering failed: template syntax error on line 1")


@pytest.mark.parametrize("request_extra, fragment", [
    ({}, "needs `text`"),
    ({"text": ""}, "needs `text`"),
    ({"text": "{not json"}, "`text` is not valid JSON"),
    ({"text": "[1]"}, "must hold a JSON object"),
    ({"text": json.dumps({"template": 5})}, "`template` must be a string"),
])
def test_bad_requests(module_server, request_extra, fragment):
    status, answer = module_server.query({"module": "jinja_template_rendering", **request_extra})
    assert status == 200 and fragment in answer["error"]


def test_default_template_when_none_given(module_server):
    text = json.dumps({"data": {}})
    answer = module_server.query({"module": "jinja_template_rendering", "text": text})[1]
    assert answer["results"][0]["values"] == ["- Default template -"]
