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
