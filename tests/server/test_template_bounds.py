"""Templates are bounded by what they build: Jinja's sandbox blocks attribute escapes but not
resource exhaustion.

Unbounded, ``{{ 7 ** (7 ** 9) }}`` (24 characters) held the GIL for ~40 s: the whole
server, health checks included, stopped answering, and the module timeout could not help (a
thread cannot be stopped). ``{{ 'a' * 10**8 }}`` answered a 100 MB string; nested ``range``
loops kept a module thread busy long after its timeout answer. Every module rendering user
templates goes through ``misp_modules.templating``, so the bounds live there; these tests
reach them through the real server (``jinja_template_rendering``, as MISP calls it for every
Jinja-supported param, and a notification module's ``message_template``).
"""

from __future__ import annotations

import json

import pytest

from misp_modules import templating
from tests.support.fakes.mattermost import CHANNEL, TOKEN, MattermostFake
from tests.support.harness import ModuleServer
from tests.support.notify import event, misp_request


def render(server, template, data=None):
    text = json.dumps({"template": template, "data": data or {}})
    return server.query({"module": "jinja_template_rendering", "text": text}, timeout=120)


@pytest.fixture(scope="module")
def server():
    # The bounds count what a template builds; the verdict must not depend on the machine's speed,
    # so the module's timeout is far above any bounded render (3 s timed out on a loaded box).
    # The CPU bound is lowered so the templates that compute for ever stop quickly here.
    with ModuleServer(config={"server": {"template_cpu_seconds": 1},
                              "modules": {"jinja_template_rendering": {"timeout": 90}}}) as srv:
        yield srv


@pytest.mark.parametrize("template, fragment", [
    ("{{ 7 ** (7 ** 9) }}", "`**` result would have about"),
    ("{{ 'a' * 10**8 }}", "`*` repetition would build 100,000,000"),
    ("{{ 10**8 * 'a' }}", "`*` repetition"),
    ("{{ [0] * 10**8 }}", "`*` repetition"),
    ("{{ '%99999999s' % 1 }}", "a % format width"),
    ("{{ '%*s' % (99999999, 1) }}", "`*` widths in % formats"),
    ("{{ '%99999999s'|format(1) }}", "a % format width"),
    ("{{ '{:99999999}'.format(1) }}", "a str.format width"),
    ("{{ '{:{w}}'.format(1, w=99999999) }}", "a str.format width"),
    ("{{ 'x'|center(99999999) }}", "center"),
    ("{{ 'x'.ljust(99999999) }}", "str.ljust()"),
    ("{{ 'x'.zfill(99999999) }}", "str.zfill()"),
    ("{{ lipsum(n=100000) }}", "lipsum()"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "range() calls"),
    # a value doubled in a loop, by every way of adding strings or lists
    ("{% set ns = namespace(x='a') %}{% for i in range(64) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
     "`~` concatenation"),
    ("{% set ns = namespace(x='a') %}{% for i in range(64) %}{% set ns.x = ns.x + ns.x %}{% endfor %}", "`+`"),
    ("{% set ns = namespace(x='a') %}{% for i in range(64) %}{% set ns.x = [ns.x, ns.x]|join %}{% endfor %}",
     "filter `join`"),
    ("{% set ns = namespace(x='a') %}{% for i in range(64) %}{% set ns.x = ns.x|replace('a', 'aa') %}{% endfor %}",
     "replace()"),
    ("{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}", "extend()"),
    # big-integer squaring runs in C holding the GIL: refused before it is computed
    ("{% set ns = namespace(x=3**63000) %}{% for i in range(9) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
     "`*` result would have about"),
    # computing for ever without building anything: nested loops over a list, macro fan-out
    ("{% set l = range(1000)|list %}{% for a in l %}{% for b in l %}{% for c in l %}{% endfor %}{% endfor %}"
     "{% endfor %}", "s of CPU time (limit [server] template_cpu_seconds)"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
     "s of CPU time (limit [server] template_cpu_seconds)"),
])
def test_resource_bombs_are_template_errors(server, template, fragment):
    status, answer = render(server, template)
    assert status == 200
    assert answer["error"].startswith("Template rendering failed: template error")
    assert fragment in answer["error"]


def test_server_keeps_answering_after_a_bomb(server):
    render(server, "{{ 7 ** (7 ** 9) }}")
    assert server.get("/healthcheck") == (200, {"status": True})
    assert render(server, "{{ 2 ** 10 }}")[1] == {"results": [{"types": ["text"], "values": ["1024"]}]}


@pytest.mark.parametrize("template, expected", [
    ("{{ '=' * 20 }}", "=" * 20),
    ("{{ 2 ** 64 }}", str(2 ** 64)),
    ("{{ '%05d|%-4s|%.2f' % (42, 'ab', 1.5) }}", "00042|ab  |1.50"),
    ("{{ '%(a)s' % {'a': 1} }}", "1"),
    ("{{ 10 % 3 }}|{{ 2.5 * 2 }}|{{ 1 + 2 }}|{{ [1] + [2] }}", "1|5.0|3|[1, 2]"),
    ("{{ '{:>6}|{:{w}}'.format('x', 'y', w=3) }}", "     x|y  "),
    ("{{ 'x'|center(5) }}|{{ 'a b'|replace(' ', '_') }}", "  x  |a_b"),
    ("{% for i in range(3) %}{% for j in range(2) %}{{ i }}{{ j }} {% endfor %}{% endfor %}",
     "00 01 10 11 20 21 "),
    ("{% set ns = namespace(s='') %}{% for a in Event.Attribute %}{% set ns.s = ns.s ~ a.value ~ ';' %}"
     "{% endfor %}{{ ns.s }}", "evil.example;192.0.2.1;"),
    ("{{ Event.Attribute|map(attribute='value')|join(', ') }}", "evil.example, 192.0.2.1"),
])
def test_ordinary_templates_render_as_before(server, template, expected):
    data = {"Event": {"Attribute": [{"value": "evil.example"}, {"value": "192.0.2.1"}]}}
    assert render(server, template, data)[1] == {"results": [{"types": ["text"], "values": [expected]}]}


def test_large_event_as_json_stays_within_bounds(server):
    """The value bound is far above real data: a 10,000-attribute event through tojson."""
    data = {"Event": {"Attribute": [{"type": "ip-dst", "value": f"10.0.{i // 256}.{i % 256}",
                                     "comment": "c" * 100} for i in range(10_000)]}}
    status, answer = render(server, "{{ Event|tojson }}", data)
    assert status == 200 and json.loads(answer["results"][0]["values"][0]) == data["Event"]
    assert templating.MAX_VALUE > len(answer["results"][0]["values"][0])


def test_notification_template_bomb_is_a_clear_error_and_posts_nothing(make_server):
    with MattermostFake() as fake:
        srv = make_server(config={"server": {"outbound_allow": [f"127.0.0.1:{fake.port}"]},
                                  "modules": {"mattermost": {"request_timeout": 2}}})
        params = {"mattermost_hostname": fake.url, "bot_access_token": TOKEN, "channel_id": CHANNEL,
                  "message_template": "{{ 'a' * 10**9 }}"}
        status, answer = srv.query(misp_request("mattermost", params, event()), timeout=60)
        assert status == 200
        assert "message_template" in answer["error"] and "`*` repetition" in answer["error"]
        assert TOKEN not in json.dumps(answer) and TOKEN not in srv.logs()
        assert fake.posts == []
