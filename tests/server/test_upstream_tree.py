"""Upstream misp-modules 3.1.1's own module tree, unchanged, served by this server (``--upstream``).

The tree is upstream's published package from the registry, unpacked, never installed
(tests/support/upstream.py). The reference is upstream itself: its loader and its
``QueryModule.run_request`` in a separate interpreter with this venv's packages
(tests/support/upstream_reference.py). The test extra installs the requirements of a subset of
modules of all four types (SUBSET); each of them must load here and answer the bytes upstream
answers. Modules mint a fresh uuid4 for every MISP object and attribute they build, so answers
are compared after renaming each uuid4 by order of first appearance: two runs of upstream itself
differ in nothing else (the renaming keeps which uuid refers to which).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests.support.data import EVENTS
from tests.support.fakes.hashlookup import HashlookupFake, make_record
from tests.support.fakes.mattermost import CHANNEL, TOKEN, MattermostFake
from tests.support.harness import ModuleServer, run_server_command
from tests.support.upstream import reference_answers, unpacked_root

# Modules whose third-party requirements are in setup.cfg's test extra, by type. cof2misp and
# securitytrails import upstream's lib/ helpers by bare name (cof2misp.cof, dnstrails); the exports
# and osquery_pack_publish import misp_modules.lib.*; email_import leaves BytesIO in its result.
SUBSET = {
    "expansion": ["stix2_pattern_syntax_validator", "yara_syntax_validator", "extract_url_components",
                  "securitytrails"],
    "import_mod": ["email_import", "cof2misp", "url_import", "testimport"],
    "export_mod": ["cisco_asa_export", "junos_export", "osqueryexport", "wazuh_cdb_export",
                   "qradar_reference_set_export", "testexport"],
    "action_mod": ["osquery_pack_publish", "testaction"],
}
CLASHES = ("hashlookup", "jinja_template_rendering", "mattermost")  # 3.1.1 names a built-in also has
GENERIC_ERROR = b'{"error":"Something went wrong, look in the server logs for details"}'
UUID4 = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
ATTRIBUTE_UUID = "5b0b0c52-1111-4a4a-8b8b-000000000001"

EMAIL = b"""From: Alice <alice@example.org>
To: Bob <bob@example.com>
Subject: Invoice 2024-0042
Date: Tue, 02 Jan 2024 10:00:00 +0000
Message-ID: <42@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8

Please see http://malicious.example.net/invoice and the attachment.
--XYZ
Content-Type: application/octet-stream; name="invoice.txt"
Content-Disposition: attachment; filename="invoice.txt"
Content-Transfer-Encoding: base64

aGVsbG8gd29ybGQK
--XYZ--
"""
COF = (b'{"count": 5, "time_first": 1600000000, "rrtype": "A", "rrname": "www.example.org.", '
       b'"rdata": ["192.0.2.1"], "time_last": 1600001000}\n')


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def requests() -> list[tuple[str, dict]]:
    """``(id, /query body)``: at least one per SUBSET module, plus upstream-style requests to the
    names a built-in serves."""
    event = json.loads((EVENTS / "to_delete1.json").read_text())
    url = {"type": "url", "value": "https://www.example.org:8443/a/b?c=d#e", "uuid": ATTRIBUTE_UUID}
    template = {"template": "{{ Event.info }}: {% for a in Event.Attribute %}{{ a.value }} {% endfor %}\n",
                "data": {"Event": {"info": "Xorist", "Attribute": [{"value": "a.exe"}, {"value": "b.dll"}]}}}
    return [
        ("stix2-valid", {"module": "stix2_pattern_syntax_validator",
                         "stix2-pattern": "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"}),
        ("stix2-invalid", {"module": "stix2_pattern_syntax_validator", "stix2-pattern": "[file:hashes.MD5 = "}),
        ("yara-valid", {"module": "yara_syntax_validator", "yara": "rule a { condition: true }"}),
        ("yara-invalid", {"module": "yara_syntax_validator", "yara": "rule a { condition: "}),
        ("url-components", {"module": "extract_url_components", "attribute": url}),
        ("securitytrails-no-key", {"module": "securitytrails", "config": {},
                                   "attribute": {"type": "domain", "value": "example.org", "uuid": ATTRIBUTE_UUID}}),
        ("email", {"module": "email_import", "data": b64(EMAIL), "config": {}}),
        ("email-unzip", {"module": "email_import", "data": b64(EMAIL),
                         "config": {"unzip_attachments": "yes", "extract_urls": "true"}}),
        ("cof", {"module": "cof2misp", "data": b64(COF), "config": {}}),
        ("url-import", {"module": "url_import", "data": b64(b"https://www.example.org/x"), "config": {}}),
        ("testimport", {"module": "testimport", "data": b64(b"hello"), "config": {}}),
        ("cisco-asa", {"module": "cisco_asa_export", "data": [event], "config": {}}),
        ("junos", {"module": "junos_export", "data": [event], "config": {"mode": "log"}}),
        ("osquery", {"module": "osqueryexport", "data": [event], "config": {}}),
        ("osquery-sql", {"module": "osqueryexport", "data": [event], "config": {"format": "sql"}}),
        ("wazuh", {"module": "wazuh_cdb_export", "data": [event], "config": {}}),
        ("qradar", {"module": "qradar_reference_set_export", "data": [event], "config": {}}),
        ("testexport", {"module": "testexport", "data": [event]}),
        ("osquery-pack", {"module": "osquery_pack_publish", "data": [event], "params": {"pack_name": "misp-test"}}),
        ("osquery-pack-bad-name", {"module": "osquery_pack_publish", "data": [event], "params": {"pack_name": "-"}}),
        ("testaction", {"module": "testaction", "data": event, "params": {}}),
        # an upstream module that raises: upstream's generic error, a specific one here
        ("csvimport-raises", {"module": "csvimport", "data": b64(b"value,type\n192.0.2.1,ip-dst\n"), "config": {}}),
        # a name served by the built-in, with upstream's request
        ("jinja", {"module": "jinja_template_rendering", "text": json.dumps(template)}),
    ]


REQUESTS = requests()


def normalised(answer: bytes) -> bytes:
    seen: dict[bytes, bytes] = {}
    return UUID4.sub(lambda m: seen.setdefault(m.group(0), b"<uuid4 #%d>" % len(seen)), answer)


def post(server: ModuleServer, body: str) -> bytes:
    status, _headers, answer = server.request("POST", "/query", body.encode())
    assert status == 200
    return answer


@pytest.fixture(scope="module")
def root() -> Path:
    return unpacked_root()


@pytest.fixture(scope="module")
def reference(root, tmp_path_factory) -> dict:
    return reference_answers(root, [json.dumps(body) for _, body in REQUESTS], tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def server(root):
    with ModuleServer(extra_args=["--upstream", str(root)]) as running:
        yield running


def test_every_module_upstream_loads_loads_here(server, reference):
    for module_type, names in SUBSET.items():
        assert {f"{module_type}/{name}" for name in names} <= set(reference["loaded"]), "test extra incomplete"
    served = {(entry["name"], entry["type"]) for entry in server.modules()}
    missing = [name for name in reference["loaded"] if tuple(reversed(name.split("/"))) not in served
               and name.split("/")[1] not in CLASHES]
    assert missing == []
    for name in CLASHES:  # served under the same name and type, by the built-in
        module_type = next(n.split("/")[0] for n in [*reference["loaded"], *reference["failed"]] if n.endswith(f"/{name}"))
        assert (name, module_type) in served
    # and nothing upstream's loader refuses is served (same packages, same verdict)
    assert not {tuple(reversed(name.split("/"))) for name in reference["failed"]} & served


@pytest.mark.parametrize("index", range(len(REQUESTS)), ids=[name for name, _ in REQUESTS])
def test_answers_are_upstreams_bytes(server, reference, index):
    body = json.dumps(REQUESTS[index][1])
    ours, theirs = post(server, body), reference["answers"][index]
    if theirs == GENERIC_ERROR:  # upstream's module raised: an error here too, naming the cause
        assert json.loads(ours)["error"].startswith(f"Module {REQUESTS[index][1]['module']!r} failed: ")
    else:
        assert normalised(ours) == normalised(theirs)


def test_email_import_answers_with_nulls_where_upstream_sends_them(server):
    """pymisp's EMailObject keeps the parsed message and a BytesIO of the raw e-mail on the object;
    upstream's encoder sends both as null (MISP ignores them). Here too, logged with their paths."""
    answer = json.loads(post(server, json.dumps({"module": "email_import", "data": b64(EMAIL), "config": {}})))
    email, attachment = answer["results"]["Object"]
    assert email["name"] == "email" and email["email"] is None and email["raw_emails"]["eml"] is None
    assert attachment["name"] == "file" and attachment["Attribute"][0]["value"] == "invoice.txt"
    server.wait_for_log(r"Module email_import answered values JSON cannot carry, sent as null as upstream does: "
                        r"results\.Object\[0\]\.raw_emails\.eml \(BytesIO\), results\.Object\[0\]\.email "
                        r"\(EmailMessage\)")


def test_name_clashes_are_resolved_by_the_rule_and_logged(server, root):
    for name in CLASHES:
        server.wait_for_log(rf"Module '{name}' is served by the built-in \S+/misp_modules/modules/\w+/{name}\.py, "
                            rf"not upstream's {re.escape(str(root))}/misp_modules/modules/\w+/{name}\.py "
                            rf"\(a built-in wins a name clash")


def test_upstreams_lib_helpers_do_not_shadow_this_projects_modules(server):
    status, answer = server.query({"module": "jinja_template_rendering",
                                   "text": json.dumps({"template": "{{ 7 * 6 }}", "data": {}})})
    assert (status, answer) == (200, {"results": [{"types": ["text"], "values": ["42"]}]})


@pytest.mark.parametrize("form", ["package", "modules"])
def test_upstreams_tree_in_any_layout_and_under_c(root, form):
    directory = root / "misp_modules" if form == "package" else root / "misp_modules" / "modules"
    flag = ["--upstream", str(directory)] if form == "package" else ["-c", str(directory)]
    result = run_server_command(["-t", "-p", "0", "-l", "127.0.0.1", *flag])
    assert result.returncode == 0, result.stderr
    assert "UPSTREAM MISP module email_import (type=import_mod) imported" in result.stderr
    if form == "modules":
        assert "has upstream misp-modules' layout (lib/ beside modules/): serving it as --upstream" in result.stderr


def test_not_an_upstream_tree_is_a_clear_startup_error(tmp_path):
    result = run_server_command(["-t", "-p", "0", "-l", "127.0.0.1", "--upstream", str(tmp_path)])
    assert result.returncode == 2
    assert f"--upstream {tmp_path}: not an upstream misp-modules tree" in result.stderr


def test_a_custom_module_named_like_an_upstream_one_is_a_startup_error(root, tmp_path):
    (tmp_path / "import_mod").mkdir()
    mine = tmp_path / "import_mod" / "email_import.py"
    mine.write_text("def handler(q=False):\n    return {}\n")
    result = run_server_command(["-t", "-p", "0", "-l", "127.0.0.1", "--upstream", str(root), "-c", str(tmp_path)])
    assert result.returncode == 2
    assert (f"two modules are named 'email_import': {root}/misp_modules/modules/import_mod/email_import.py "
            f"and {mine}") in result.stderr


def test_prefer_serves_upstreams_hashlookup_with_upstreams_bytes(make_server, root, tmp_path):
    record = make_record("kernel32")
    with HashlookupFake([record]) as fake:
        body = json.dumps({"module": "hashlookup", "config": {"custom_API": fake.url},
                           "attribute": {"type": "sha1", "value": record["SHA-1"], "uuid": ATTRIBUTE_UUID}})
        theirs = reference_answers(root, [body], tmp_path)["answers"][0]
        preferring = make_server(extra_args=["--upstream", str(root)], config={"upstream": {"prefer": ["hashlookup"]}})
        preferring.wait_for_log(r"Module 'hashlookup' is served by upstream's \S+/expansion/hashlookup\.py "
                                r"\(\[upstream\] prefer names it")
        assert normalised(post(preferring, body)) == normalised(theirs)
        # the built-in serving the name takes the same request and finds the same record
        builtin = make_server(extra_args=["--upstream", str(root)])
        answer = json.loads(post(builtin, body))
        (obj,) = answer["results"]["Object"]
        assert obj["name"] == "hashlookup" and obj["ObjectReference"][0]["referenced_uuid"] == ATTRIBUTE_UUID
        assert {a["object_relation"]: a["value"] for a in obj["Attribute"]}["FileName"] == record["FileName"]


@pytest.mark.parametrize("prefer", [[], ["mattermost"]], ids=["built-in", "upstream's"])
def test_a_workflow_saved_with_upstreams_mattermost_node_keeps_working(make_server, root, prefer):
    """The params of upstream's Mattermost node as MISP saves them (its names, its jinja_supported
    template), to whichever module serves the name."""
    with MattermostFake() as fake:
        server = make_server(extra_args=["--upstream", str(root)],
                             config={"upstream": {"prefer": prefer}, "server": {"outbound_allow": [f"127.0.0.1:{fake.port}"]}})
        params = {"mattermost_hostname": fake.url, "bot_access_token": TOKEN, "channel_id": CHANNEL,
                  "message_template": "Event **{{ Event.info }}** published"}
        event = {"Event": {"info": "Xorist ransomware", "Attribute": []}}
        status, answer = server.query({"module": "mattermost", "params": params, "data": event,
                                       "filteredItems": event})
        assert (status, answer) == (200, {"data": True})
        (posted,) = fake.posts
        assert posted["channel_id"] == CHANNEL and posted["message"] == "Event **Xorist ransomware** published"
