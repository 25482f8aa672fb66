#!/usr/bin/env python3
"""Print the third-party requirements of an upstream misp-modules tree, one per line, for
``pip install -r``: what upstream's own install would bring, without installing upstream's
package (it is also called ``misp_modules`` and would overwrite this project's files).

    deploy/upstream-requirements.py UPSTREAM_DIR [--extra all]

``UPSTREAM_DIR``: a git checkout of upstream (its ``pyproject.toml`` is read) or an installed copy
(``.../site-packages/misp_modules``: the ``misp_modules-*.dist-info/METADATA`` beside it is read).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

_EXTRA = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")
_EXTRA_CLAUSE = re.compile(r"""(\s+and\s+)?\bextra\s*==\s*["'][^"']+["'](\s+and\s+)?""")


def from_pyproject(path: Path, extra: str | None) -> list[str]:
    project = tomllib.loads(path.read_text())["project"]
    found = list(project.get("dependencies", []))
    if extra:
        found += project.get("optional-dependencies", {}).get(extra, [])
    return found


def from_metadata(path: Path, extra: str | None) -> list[str]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        requirement, _, marker = line[len("Requires-Dist:"):].strip().partition(";")
        wanted = _EXTRA.search(marker)
        if wanted is None:
            found.append(line[len("Requires-Dist:"):].strip())
        elif wanted.group(1) == extra:
            rest = _EXTRA_CLAUSE.sub(" ", marker).strip()
            found.append(f"{requirement.strip()}; {rest}" if rest else requirement.strip())
    return found


def requirements(directory: Path, extra: str | None) -> list[str]:
    directory = directory.resolve()
    for root in (directory, directory.parent, directory.parent.parent):
        if (root / "pyproject.toml").is_file() and (root / "misp_modules").is_dir():
            return from_pyproject(root / "pyproject.toml", extra)
    package = directory if (directory / "modules").is_dir() else directory.parent
    for metadata in sorted(package.parent.glob("misp_modules-*.dist-info/METADATA")):
        return from_metadata(metadata, extra)
    raise SystemExit(f"{directory}: neither a git checkout of misp-modules (pyproject.toml) nor an installed "
                     "copy (misp_modules-*.dist-info beside the package)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", type=Path)
    parser.add_argument("--extra", default="all", help="upstream's extra to include (default all; '' for none)")
    args = parser.parse_args()
    for line in dict.fromkeys(requirements(args.upstream, args.extra or None)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
