"""The hash-path conformance tally, after the run's own summary (never in the middle of the run)."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    module = sys.modules.get("tests.conformance.test_hashpath")
    if module is not None:
        module.write_summary(terminalreporter)
