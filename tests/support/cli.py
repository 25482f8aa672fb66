"""The real ``misp-workflow`` command in a subprocess (the working copy, the test environment)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.harness import REPO_ROOT, server_env

COMMAND = [sys.executable, "-m", "runner.cli"]


def misp_workflow(*args: Any, env: Mapping[str, str] | None = None, timeout: float = 120,
                  input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``misp-workflow ARGS`` to completion; text output captured."""
    return subprocess.run([*COMMAND, *map(str, args)], cwd=REPO_ROOT, env=server_env(env), input=input,
                          capture_output=True, text=True, timeout=timeout)


def start_misp_workflow(*args: Any, env: Mapping[str, str] | None = None, merge_stderr: bool = False) -> subprocess.Popen:
    """Start a long-running sub-command (``watch``, ``debug-listener``); the caller stops it."""
    return subprocess.Popen([*COMMAND, *map(str, args)], cwd=REPO_ROOT, env=server_env(env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE)


#: The runner's per-node timeout in tests that check decisions, not timeouts: far above what any
#: node takes (attach-warninglist loads its lists on first use, seconds on a loaded machine).
DECISION_TIMEOUT = "120"


def run_json(workflow: Path | str, event: Any, tmp_path: Path, modules_url: str, *options: Any,
             codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """``misp-workflow run WORKFLOW --data <event> --json``: the JSON document, after checking
    the exit code is one of ``codes``."""
    data = tmp_path / "event.json"
    data.write_text(json.dumps(event))
    timeout = () if "--timeout" in map(str, options) else ("--timeout", DECISION_TIMEOUT)
    done = misp_workflow("run", workflow, "--data", data, "--modules-url", modules_url, "--json", *timeout, *options)
    assert done.returncode in codes, done.stderr + done.stdout[-2000:]
    return json.loads(done.stdout)
