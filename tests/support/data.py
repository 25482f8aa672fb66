"""Where the tests' data lives: everything is inside the repository (tests/data/README.md says
where each file comes from and under which licence)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT / "tests" / "data"
EVENTS = DATA / "events"
BLUEPRINTS = DATA / "blueprints"
WORKFLOWS = DATA / "workflows"
CONFORMANCE = DATA / "conformance"
TREES = REPO_ROOT / "tests" / "support" / "trees"
SERVER_MODULES = str(TREES / "server")
INTEL_MODULES = str(TREES / "intel")
HOG_MODULES = str(TREES / "hogs")

PAP_TLP_BLUEPRINT = BLUEPRINTS / "blueprint_pap_red-and-tlp_red-blocking_1661328258.json"
SMALL_EVENT = EVENTS / "57c4445b-c548-4654-af0b-4be3950d210f.json"


def load_event(name: str) -> dict[str, Any]:
    """A MISP event from ``tests/data/events`` as stored (``{"Event": ...}``)."""
    return json.loads((EVENTS / name).read_text())


def load_blueprint(name: str) -> dict[str, Any]:
    return json.loads((BLUEPRINTS / name).read_text())


def hashpath_case_files() -> list[Path]:
    """The hash-path harness's outcomes: the public file (or the one ``HASHPATH_GOLDEN`` names),
    then every file generated later with MISP's code (``conformance/oracle/hashpath-*.jsonl``)."""
    main = Path(os.environ.get("HASHPATH_GOLDEN") or CONFORMANCE / "hashpath" / "golden-public.jsonl")
    return [main, *generated("hashpath")]


def generated(harness: str) -> list[Path]:
    """The case files generated with MISP's code for ``harness`` (``hashpath`` or ``walk``);
    ``tests/data/conformance/oracle/README.md`` says what each holds."""
    return sorted((CONFORMANCE / "oracle").glob(f"{harness}-*.jsonl"))
