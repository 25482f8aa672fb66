"""Deployment settings: validation messages name file, key and problem; env overrides."""

from __future__ import annotations

import pytest

from misp_modules.settings import Settings, SettingsError, load_settings


def load(tmp_path, text: str, env: dict | None = None) -> Settings:
    path = tmp_path / "mm.toml"
    path.write_text(text)
    return load_settings(str(path), env or {})


def test_defaults_without_a_file():
    s = load_settings(None, {})
    assert (s.default_timeout, s.default_concurrency, s.max_body_size) == (30.0, 16, 64 * 1024 * 1024)
    assert not s.misp.configured and s.source is None
    assert s.service_url("hashlookup", "https://hashlookup.circl.lu/") == "https://hashlookup.circl.lu/"


def test_full_file(tmp_path):
    s = load(tmp_path, """
        [server]
        default_timeout = 8
        default_concurrency = 4
        max_body_size = 1048576
        shutdown_grace = 5
        [misp]
        url = "https://misp.example.org"
        key = "k"
        verify_tls = false
        timeout = 12.5
        [services]
        telegram = "http://127.0.0.1:8081/bot"
        [modules.hashlookup]
        timeout = 4
        concurrency = 2
        custom_API = "https://mirror.example/"
    """.replace("\n        ", "\n"))
    assert (s.default_timeout, s.default_concurrency, s.max_body_size, s.shutdown_grace) == (8.0, 4, 1048576, 5.0)
    assert s.misp.configured and s.misp.verify_tls is False and s.misp.timeout == 12.5
    assert s.service_url("telegram", "https://api.telegram.org/bot") == "http://127.0.0.1:8081/bot"
    assert s.module_setting("hashlookup", "custom_API") == "https://mirror.example/"
    assert s.module("nothing") == {}
    assert "k" not in repr(s.misp)  # the key never shows in reprs (logs)


@pytest.mark.parametrize("text, message", [
    ("[server]\ndefault_timeout = 'ten'", "[server] default_timeout: must be a positive number of seconds, got 'ten'"),
    ("[server]\ndefault_timeout = 0", "[server] default_timeout: must be a positive number of seconds, got 0"),
    ("[server]\ndefault_concurrency = 2.5", "[server] default_concurrency: must be a whole number, at least 1, got 2.5"),
    ("[server]\ndefualt_timeout = 3", "[server] defualt_timeout: unknown key (did you mean 'default_timeout'?)"),
    ("[server]\nmax_body_size = -1", "[server] max_body_size: must be a number of bytes, at least 1, got -1"),
    ("[misp]\nurl = 'misp.local'", "[misp] url: must be an http:// or https:// URL, got 'misp.local'"),
    ("[misp]\nkey = 5", "[misp] key: must be a string, got 5"),
    ("[misp]\nverify_tls = '/no/such/ca.pem'", "[misp] verify_tls: must be true, false or the path of an existing CA bundle"),
    ("[services]\ntelegram = 'api.telegram.org'", "[services] telegram: must be an http:// or https:// URL"),
    ("[modules]\nhashlookup = 5", "[modules] hashlookup: must be a table of settings for module 'hashlookup', got 5"),
    ("[modules.slow]\ntimeout = 'x'", "[modules.slow] timeout: must be a positive number of seconds, got 'x'"),
    ("[modules.slow]\nconcurrency = true", "[modules.slow] concurrency: must be a whole number, at least 1, got True"),
    ("[sever]\nx = 1", "[sever]: unknown section (did you mean [server]?)"),
    ("server = 5", "[server]: must be a table, got 5"),
    ("[server\n", "invalid TOML"),
])
def test_invalid_files_name_file_key_and_problem(tmp_path, text, message):
    with pytest.raises(SettingsError) as err:
        load(tmp_path, text)
    assert str(err.value).startswith(str(tmp_path / "mm.toml") + ": ")
    assert message in str(err.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(SettingsError, match=r"nope.toml: cannot read config file"):
        load_settings(str(tmp_path / "nope.toml"), {})


def test_environment_overrides(tmp_path):
    s = load(tmp_path, "[server]\ndefault_timeout = 8\n[modules.hashlookup]\ncustom_API = 'https://a/'\n", {
        "MISP_MODULES__SERVER__DEFAULT_TIMEOUT": "3.5",
        "MISP_MODULES__MODULES__HASHLOOKUP__CUSTOM_API": "https://b/",  # matches the key's case
        "MISP_MODULES__MODULES__TELEGRAM__RETRIES": "2",
        "MISP_MODULES__SERVICES__TELEGRAM": "http://127.0.0.1:1/bot",
        "MISP_URL": "https://misp.example.org", "MISP_KEY": "0123456789", "MISP_VERIFY_TLS": "false",
        "UNRELATED": "x",
    })
    assert s.default_timeout == 3.5
    assert s.module_setting("hashlookup", "custom_API") == "https://b/"
    assert s.module_setting("telegram", "retries") == 2
    assert s.services["telegram"] == "http://127.0.0.1:1/bot"
    assert (s.misp.url, s.misp.key, s.misp.verify_tls) == ("https://misp.example.org", "0123456789", False)


def test_invalid_environment_override_names_the_variable():
    with pytest.raises(SettingsError) as err:
        load_settings(None, {"MISP_MODULES__SERVER__DEFAULT_CONCURRENCY": "many"})
    assert str(err.value) == ("environment variable MISP_MODULES__SERVER__DEFAULT_CONCURRENCY: [server] "
                              "default_concurrency: must be a whole number, at least 1, got 'many'")
    with pytest.raises(SettingsError, match="MISP_MODULES__SERVER: expected MISP_MODULES__<SECTION>__<KEY>"):
        load_settings(None, {"MISP_MODULES__SERVER": "1"})
