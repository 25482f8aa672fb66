"""Upstream's import environment for its tree's files, on a small tree with upstream's layout."""

from __future__ import annotations

from tests.support.data import TREES
from tests.support.harness import run_server_command

TREE = TREES / "upstream_like"


def test_tree_files_get_upstreams_import_environment(make_server):
    server = make_server(extra_args=["--upstream", str(TREE)])
    status, answer = server.query({"module": "env_probe"})
    assert (status, answer) == (200, {"results": {
        "greeting": "from the tree's lib", "shout": "BARE",
        "message": 'This module requires an "attribute" field as input',
        "data_file": "thing", "resource": "thing",
        "package": "misp_modules_upstream.modules.expansion.env_probe"}})
    # this project's own modules are untouched by the fallback (misp_modules.lib.* included)
    assert server.query({"module": "jinja_template_rendering", "text": '{"template": "{{ 1 + 1 }}"}'})[1] == {
        "results": [{"types": ["text"], "values": ["2"]}]}


def test_tree_modules_keep_upstreams_handler_retry(make_server):
    server = make_server(extra_args=["--upstream", str(TREE)])
    assert server.query({"module": "env_probe", "attribute_error": True}) == (
        200, {"results": "handler(q) after AttributeError", "q": "env_probe"})


def test_tree_modules_default_to_the_upstream_timeout(make_server):
    server = make_server(extra_args=["--upstream", str(TREE)],
                         config={"server": {"default_timeout": 30}, "upstream": {"default_timeout": 0.3}})
    assert server.query({"module": "env_probe", "hold": 2}) == (
        200, {"error": "Timeout: module 'env_probe' did not answer within 0.3 s"})


def test_preferred_upstream_file_that_cannot_load_leaves_the_builtin_serving(make_server):
    server = make_server(extra_args=["--upstream", str(TREE)], config={"upstream": {"prefer": ["mattermost", "nope"]}})
    server.wait_for_log(r"UPSTREAM MISP module mattermost \(type=action_mod\) failed: ModuleNotFoundError")
    server.wait_for_log(r"Module 'mattermost': upstream's \S+/action_mod/mattermost\.py failed to load, so the "
                        r"built-in \S+/misp_modules/modules/action_mod/mattermost\.py serves the name")
    server.wait_for_log(r"\[upstream\] prefer names 'nope', which is not both a built-in module and a module of "
                        r"upstream's tree: ignored")
    entry = next(m for m in server.modules() if m["name"] == "mattermost")
    assert entry["meta"]["author"] == "misp-modules-ng"
    assert "failed to load" not in server.query({"module": "mattermost", "params": {}, "data": {}})[1].get("error", "")


def test_upstream_settings_are_validated(tmp_path):
    config = tmp_path / "mm.toml"
    config.write_text('[upstream]\nprefer = "mattermost"\n')
    result = run_server_command(["-t", "-p", "0", "-l", "127.0.0.1", "--config", str(config)])
    assert result.returncode == 2
    assert f'{config}: [upstream] prefer: must be a list of module names, got \'mattermost\'' in result.stderr
    config.write_text("[upstream]\nprefered = []\n")
    result = run_server_command(["-t", "-p", "0", "-l", "127.0.0.1", "--config", str(config)])
    assert "[upstream] prefered: unknown key (did you mean 'prefer'?)" in result.stderr
