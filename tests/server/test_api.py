"""Endpoints and the `/modules` listing, over real HTTP."""

from __future__ import annotations

import re

from misp_modules.contract.ids import node_id
from misp_modules.server.misp_nodes import BUILTIN_NODE_IDS


def by_name(server) -> dict[str, dict]:
    return {m["name"]: m for m in server.modules()}


def test_listing_has_upstream_shape_for_every_module_type(custom_server):
    mods = by_name(custom_server)
    expected_types = {"upstream_style": "expansion", "echo": "expansion", "lines": "import_mod",
                      "count": "export_mod", "notifier": "action_mod", "flag_if": "logic_mod"}
    for name, type_dir in expected_types.items():
        entry = mods[name]
        assert set(entry) == {"name", "type", "mispattributes", "meta"}
        assert entry["type"] == type_dir
        assert isinstance(entry["meta"]["module-type"], list)

    assert mods["upstream_style"]["mispattributes"]["input"] == ["domain", "hostname"]
    assert mods["upstream_style"]["meta"]["module-type"] == ["expansion", "hover"]
    assert mods["upstream_style"]["meta"]["config"] == ["apikey"]  # list form: MISP's setting names
    assert mods["lines"]["meta"]["module-type"] == ["import"]
    assert mods["count"]["mispattributes"]["outputFileExtension"] == "txt"
    action = mods["notifier"]
    assert action["meta"]["module-type"] == ["action"]
    assert action["mispattributes"]["config"]["params"]["message_template"]["jinja_supported"] is True
    assert action["meta"]["config"]["blocking"] is False


def test_runner_only_modules_are_invisible_to_misp(custom_server):
    """MISP keeps only entries whose module-type contains expansion/hover/import/export/action;
    runner-only modules say "workflow" and declare the MISP node they implement."""
    mods = by_name(custom_server)
    for name in ("flag_if", "webhook_runner"):
        meta = mods[name]["meta"]
        assert meta["module-type"] == ["workflow"]
        assert meta["misp_workflow"]["id"] in ("flag-if", "webhook")
    assert mods["flag_if"]["meta"]["misp_workflow"]["module_type"] == "logic"


def test_builtin_listing_is_misp_safe(module_server):
    mods = module_server.modules()
    names = [m["name"] for m in mods]
    assert len(names) == len(set(names))
    assert "jinja_template_rendering" in names
    for entry in mods:
        assert "." not in entry["name"]
        module_type = entry["meta"]["module-type"]
        assert isinstance(module_type, list) and module_type
        if "action" in module_type:
            assert node_id(entry["name"]) not in BUILTIN_NODE_IDS, entry["name"]
            assert isinstance(entry["meta"].get("description"), str)
            assert isinstance(entry["meta"]["config"], dict)
    jinja = next(m for m in mods if m["name"] == "jinja_template_rendering")
    assert jinja["type"] == "expansion" and jinja["meta"]["module-type"] == ["expansion"]


def test_listing_is_sorted_by_type_then_name(custom_server):
    order = ["expansion", "import_mod", "export_mod", "action_mod", "logic_mod"]
    keys = [(order.index(m["type"]), m["name"]) for m in custom_server.modules()]
    assert keys == sorted(keys)


def test_json_endpoints_say_application_json(custom_server):
    for method, path, body in [("GET", "/modules", None), ("GET", "/healthcheck", None),
                               ("GET", "/version", None), ("GET", "/openapi.json", None),
                               ("POST", "/query", b'{"module": "notifier"}'),
                               ("POST", "/query", b"not json"), ("GET", "/nowhere", None),
                               ("GET", "/query", None), ("DELETE", "/modules", None)]:
        status, headers, _ = custom_server.request(method, path, body)
        assert headers["content-type"] == "application/json", (method, path, status)


def test_healthcheck_and_version(custom_server):
    assert custom_server.get("/healthcheck") == (200, {"status": True})
    status, answer = custom_server.get("/version")
    assert status == 200 and re.fullmatch(r"\d+\.\d+\.\d+.*", answer["version"])


def test_modules_supports_etag_revalidation(custom_server):
    status, headers, body = custom_server.request("GET", "/modules")
    assert status == 200 and headers["etag"]
    status, _, body = custom_server.request("GET", "/modules", headers={"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""


def test_unknown_path_and_wrong_method_are_json_errors(custom_server):
    status, answer = custom_server.get("/nowhere")
    assert status == 404 and "/nowhere" in answer["error"]
    status, answer = custom_server.get("/query")
    assert status == 405 and answer["error"] == "Method GET is not allowed on /query"


def test_openapi_describes_the_real_server(custom_server):
    status, doc = custom_server.get("/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert doc["servers"] == [{"url": f"http://127.0.0.1:{custom_server.port}"}]
    assert {"/modules", "/query", "/healthcheck", "/statistics", "/metrics", "/version", "/openapi.json",
            "/openapi"} <= set(doc["paths"])
    assert set(doc["paths"]["/query"]["post"]["responses"]) == {"200", "400", "413"}
    schemas = doc["components"]["schemas"]
    assert "action_mod" in schemas["ModuleDescriptor"]["properties"]["type"]["enum"]
    assert "notifier" in schemas["ModuleQuery"]["properties"]["module"]["enum"]


def test_explorer_page_works_offline(custom_server):
    status, headers, body = custom_server.request("GET", "/openapi")
    page = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "/openapi.json" in page and "/query" in page
    # nothing loaded from elsewhere: no external scripts, styles, fonts or images
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page


def test_access_log_keeps_upstream_format_plus_module(custom_server):
    custom_server.query({"module": "notifier", "id": "logged"})
    custom_server.wait_for_log(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - tornado\.access - INFO - "
                               r"200 POST /query \(127\.0\.0\.1\) \d+\.\d\dms module=notifier")
    custom_server.query({"module": "async_slow", "hold": 5, "timeout": 0.1})
    custom_server.wait_for_log(r"misp-modules - WARNING - Timeout on async_slow")
    custom_server.query({"module": "not_there"})
    custom_server.wait_for_log(r"200 POST /query \(127\.0\.0\.1\) \d+\.\d\dms module=not_there "
                               r"error=\"Unknown module 'not_there'")
