"""``misp-workflow hashpath``: results as MISP encodes them, one-line errors with exit code 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner import cli
from tests.support.data import EVENTS, REPO_ROOT


def run_cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, args: list[str],
            stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8"))))
    code = cli.main(["hashpath", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_extract_from_file(capsys, monkeypatch, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"Event": {"Attribute": [{"type": "ip-src", "value": "1.2.3.4"},
                                                         {"type": "domain", "value": "a.example"}]}}))
    code, out, err = run_cli(capsys, monkeypatch, ["Event.Attribute.{n}[type=ip-src].value", str(event)])
    assert (code, out, err) == (0, '["1.2.3.4"]\n', "")


def test_stdin_and_php_encoding_of_filtered_maps(capsys, monkeypatch) -> None:
    # a simple path returns the array itself, here a PHP map with kept keys: a JSON object
    code, out, _ = run_cli(capsys, monkeypatch, ["a"], stdin='{"a": {"1": "x", "3": 2.0}}')
    assert code == 0
    assert out == '{"1":"x","3":2.0}\n'


def test_get_reads_patterns_as_literal_keys(capsys, monkeypatch) -> None:
    data = '{"a": {"{n}": "literal", "0": "zero"}}'
    assert run_cli(capsys, monkeypatch, ["--get", "a.{n}"], stdin=data)[:2] == (0, '"literal"\n')
    assert run_cli(capsys, monkeypatch, ["a.{n}"], stdin=data)[:2] == (0, '["zero"]\n')


def test_convert_gives_the_roaming_data(capsys, monkeypatch) -> None:
    path = "Event._AttributeFlattened.{n}._allTags.{n}.name"
    code, out, _ = run_cli(capsys, monkeypatch, ["--convert", path, str(EVENTS / "misp_event.json")])
    assert code == 0
    names = json.loads(out)
    event = json.loads((EVENTS / "misp_event.json").read_text())
    event_tags = [t["name"] for t in event["Tag"]]
    assert names[: len(event_tags)] == event_tags  # inherited event tags come first


@pytest.mark.parametrize("stdin, args, message", [
    ('{"a": [', ["a"], "invalid JSON in standard input"),
    ("", ["a"], "invalid JSON in standard input"),
    ('{"a": NaN}', ["a"], "invalid JSON"),
    ('{"a": [{"x": 1}]}', ["a.{n}[x=/(/]"], "missing closing parenthesis"),
    ('{"a": [{"x": 1}]}', ["a.{n}[x=1"], "unbalanced brackets"),
    ('{"a": [{"x": 1}]}', ["a.{n}[x!1]"], "not understood"),
    ('{"a": [{"x": [1]}]}', ["a.{n}[x=/1/]"], "must be of type string, array given"),
    ('"scalar"', ["a"], "must be of type array, string given"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, monkeypatch, stdin, args, message) -> None:
    code, out, err = run_cli(capsys, monkeypatch, args, stdin=stdin)
    assert code == cli.EXIT_INVALID_INPUT == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("misp-workflow hashpath: ")
    assert message in err


def test_unreadable_file(capsys, monkeypatch, tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, monkeypatch, ["a", str(tmp_path / "missing.json")])
    assert code == 2 and out == "" and "cannot read" in err


def test_console_entry_point_end_to_end() -> None:
    """The real process: argv parsing, stdin, exit status."""
    repo = REPO_ROOT
    done = subprocess.run([sys.executable, "-m", "runner.cli", "hashpath", "Event.Tag.{n}.name"],
                          input=b'{"Event": {"Tag": [{"name": "tlp:red"}]}}', capture_output=True,
                          cwd=repo, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, b'["tlp:red"]\n', b"")
    bad = subprocess.run([sys.executable, "-m", "runner.cli", "hashpath", "a"], input=b"{", capture_output=True,
                         cwd=repo, timeout=60)
    assert bad.returncode == 2 and bad.stdout == b"" and bad.stderr.count(b"\n") == 1
