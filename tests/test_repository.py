"""The repository stands alone: nothing it holds names a path outside it, and every section it
cites in its own reference docs exists there, so a reader of the repository can check each
quirk and deviation the code claims."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.data import REPO_ROOT

CHECKED = ["README.md", "docs", "examples", "misp_modules", "runner", "tests", "bench"]
REFERENCE_DOCS = ["misp-behaviour", "misp-modules-protocol", "external-services"]
CITATION = re.compile(r"\b(" + "|".join(REFERENCE_DOCS) + r")\.md((?:[\s,/and–-]*§ ?\d+(?:\.\d+)*)+)")
SECTION = re.compile(r"§ ?(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)[. ]", re.M)
OUTSIDE = re.compile(r"\.\./shared|/work/shared|parents\[\d+\] */ *[\"']shared[\"']|\bspec §|workflow-engine\.md")


def _texts() -> list[Path]:
    files: list[Path] = []
    for entry in CHECKED:
        path = REPO_ROOT / entry
        candidates = [path] if path.is_file() else path.rglob("*")
        files += [p for p in candidates if p.suffix in (".py", ".md", ".toml", ".cfg", ".json")
                  and "tests/data" not in p.as_posix() and ".venv" not in p.parts]
    return files


FILES = _texts()


def _sections(doc: str) -> set[str]:
    return set(HEADING.findall((REPO_ROOT / "docs" / f"{doc}.md").read_text(encoding="utf-8")))


def test_files_are_found() -> None:
    assert len(FILES) > 100


def test_nothing_names_a_path_outside_the_repository() -> None:
    me = Path(__file__).resolve()
    hits = [f"{p.relative_to(REPO_ROOT)}:{n}: {line.strip()[:100]}"
            for p in FILES if p.resolve() != me
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if OUTSIDE.search(line)]
    assert hits == []


@pytest.mark.parametrize("doc", REFERENCE_DOCS)
def test_every_cited_section_exists(doc: str) -> None:
    known = _sections(doc)
    assert known, f"docs/{doc}.md has no numbered headings"
    missing = []
    for path in FILES:
        for match in CITATION.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if match.group(1) != doc:
                continue
            missing += [f"{path.relative_to(REPO_ROOT)}: §{s}" for s in SECTION.findall(match.group(2))
                        if s not in known]
    assert missing == []


# -- the layers (docs/architecture.md, "The rule") ----------------------------------------------
# The runner shares MISP's semantics and the node contract with the module server and nothing
# else: these are the only packages of misp_modules its code imports.
RUNNER_SHARES = ("misp_modules.semantics", "misp_modules.contract")
# The few places that use the deployment's own plumbing (settings, the MISP connection, the
# outbound URL check, write-back, the server's log format), each named with what it takes: a new
# one is a decision to write here and in docs/architecture.md, not an accident.
RUNNER_ALSO = {
    "runner/cmd_run.py": {"misp_modules.settings"},               # --config: the deployment settings
    "runner/sources.py": {"misp_modules.lib.misp"},               # --event-id: the MISP connection
    "runner/service/alerts.py": {"misp_modules.lib.redact"},
    "runner/service/backend_redis.py": {"misp_modules.lib.http"},
    "runner/service/cmd_serve.py": {"misp_modules.server.logs"},
    "runner/service/feed.py": {"misp_modules.lib.http"},
    "runner/service/history.py": {"misp_modules.lib.http"},
    "runner/service/writeback.py": {"misp_modules.lib.misp_writes"},
}


def _misp_modules_imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "misp_modules"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "misp_modules":
            found |= {node.module} if node.module != "misp_modules" else {f"misp_modules.{a.name}" for a in node.names}
    return found


def test_the_runner_imports_only_the_semantics_and_the_contract_of_misp_modules() -> None:
    wrong = []
    for path in sorted((REPO_ROOT / "runner").rglob("*.py")):
        rel = path.relative_to(REPO_ROOT).as_posix()
        allowed = RUNNER_ALSO.get(rel, set())
        for name in sorted(_misp_modules_imports(path)):
            shared = any(name == p or name.startswith(p + ".") for p in RUNNER_SHARES)
            if not shared and not any(name == a or name.startswith(a + ".") for a in allowed):
                wrong.append(f"{rel}: {name}")
    assert wrong == []


def test_the_allowed_exceptions_are_still_used() -> None:
    """An exception nobody needs any more is removed from the list (and the doc)."""
    stale = [f"{rel}: {name}" for rel, names in RUNNER_ALSO.items() for name in names
             if not any(i == name or i.startswith(name + ".") for i in _misp_modules_imports(REPO_ROOT / rel))]
    assert stale == []
