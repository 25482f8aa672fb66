"""Every option is checked where it is read: a bad value is one line on stderr naming the option
and exit 2, for run, validate, watch and debug-listener alike (never a traceback, never ignored)."""

from __future__ import annotations

import pytest

from runner.cli import EXIT_INVALID_INPUT, build_parser, describe, main
from tests.support.cli import misp_workflow
from tests.support.data import EVENTS, PAP_TLP_BLUEPRINT

WF = str(PAP_TLP_BLUEPRINT)
EVENT = str(EVENTS / "57c4445b-c548-4654-af0b-4be3950d210f.json")
COMMANDS = {  # the arguments each command needs besides the option under test
    "run": ["run", WF, "--data", EVENT],
    "validate": ["validate", WF],
    "watch": ["watch", WF, "--zmq", "tcp://127.0.0.1:1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("option, value, says", [
    ("--timeout", "0", "--timeout: '0': expected seconds above 0 and at most 3600"),
    ("--timeout", "-1", "expected seconds above 0"),
    ("--timeout", "1e9", "at most 3600"),
    ("--timeout", "nan", "expected seconds above 0"),
    ("--timeout", "soon", "'soon' is not a number of seconds"),
    ("--modules-url", "http://127.0.0.1:27051x", "--modules-url: invalid URL 'http://127.0.0.1:27051x' (Port could"),
    ("--modules-url", "http://[::1", "(Invalid IPv6 URL)"),
    ("--modules-url", "ftp://modules.example.org", "the scheme is 'ftp'"),
    ("--modules-url", "http://", "no host"),
    ("--modules-url", "http://h:0", "port 0"),
    ("--trigger", "event-publishh", "unknown trigger `event-publishh` (known: analyst-data-after-save, attribute-after-save, "),
])
def test_bad_option_is_one_line_and_exit_2(command, option, value, says, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*COMMANDS[command], option, value])
    err = capsys.readouterr().err
    assert stop.value.code == EXIT_INVALID_INPUT
    assert err.count("\n") == 1 and err.startswith(f"misp-workflow {command}: ") and says in err, err


@pytest.mark.parametrize("args, says", [
    (["run", WF, "--data", EVENT, "--parallel", "0"], "--parallel: '0': expected 1 or more"),
    (["watch", WF, "--zmq", "tcp://127.0.0.1:1", "--max-events", "0"], "--max-events: '0': expected 1 or more"),
    (["watch", WF, "--zmq", "tcp://127.0.0.1:1", "--idle-timeout", "-3"], "--idle-timeout: '-3': expected seconds"),
    (["run", WF, "--data", EVENT, "--debug-url", "127.0.0.1:99999"], "--debug-url: invalid URL"),
    (["debug-listener", "--port", "70000"], "--port: '70000': a port is between 0 and 65535"),
    (["debug-listener", "--port", "http"], "--port: 'http' is not a port number"),
])
def test_other_options_are_checked_too(args, says, capsys):
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == EXIT_INVALID_INPUT and err.count("\n") == 1 and says in err, err


@pytest.mark.parametrize("mock", [["--mock", "99=false"], ["--mock", "53=true", "--mock", "7=false"]])
def test_a_mock_for_a_node_the_workflow_lacks_is_an_error(mock, capsys):
    assert main([*COMMANDS["run"], *mock]) == EXIT_INVALID_INPUT  # checked before any server is asked
    err = capsys.readouterr().err
    missing = mock[-1].split("=")[0]
    assert err == f"misp-workflow run: --mock {missing}: no node `{missing}` in the workflow (its node ids: 1, 53, 54)\n"


def test_a_mocks_file_names_itself(tmp_path, capsys):
    mocks = tmp_path / "mocks.json"
    mocks.write_text('{"53": true, "100": false}')
    assert main([*COMMANDS["run"], "--mocks", str(mocks)]) == EXIT_INVALID_INPUT
    assert f"{mocks}, node 100: no node `100` in the workflow" in capsys.readouterr().err


def test_an_unwritable_log_file_is_input_not_a_traceback(tmp_path, capsys):
    assert main([*COMMANDS["run"], "--log-file", str(tmp_path / "no" / "such" / "dir.log")]) == EXIT_INVALID_INPUT
    assert "--log-file: cannot append to" in capsys.readouterr().err


def test_the_issues_commands_end_to_end():
    """In a real process: no traceback, exit 2, one line (was exit 1 with a traceback)."""
    for args in (["run", WF, "--data", EVENT, "--modules-url", "http://127.0.0.1:27051x"],
                 ["validate", WF, "--modules-url", "http://[::1"]):
        done = misp_workflow(*args)
        assert done.returncode == EXIT_INVALID_INPUT and "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1 and "--modules-url: invalid URL" in done.stderr


def test_help_texts_are_whole_sentences_without_markup():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices)
    for name, sub in {"misp-workflow": parser, **subparsers.choices}.items():
        assert sub.description.endswith((".", ")")), (name, sub.description)  # not cut mid-sentence
        for text in (sub.description, sub.epilog, *(a.help for a in sub._actions)):
            assert "``" not in (text or ""), (name, text)
    assert describe("``misp-workflow x``: does a\nthing over\ntwo lines.\n\nMore.") == "Does a thing over two lines."
