"""Upstream misp-modules' published package, unpacked, for the tests that serve its tree.

``pip download misp-modules==3.1.1 --no-deps`` (the one fetch beyond loopback the tests make:
the package registry), unpacked with ``zipfile`` into a cache folder, so a second run reads the
disk. Never installed: this project's package is also called ``misp_modules``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.support.data import REPO_ROOT

VERSION = "3.1.1"
REFERENCE = REPO_ROOT / "tests" / "support" / "upstream_reference.py"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "misp-modules-ng" / f"upstream-{VERSION}"


def unpacked_root() -> Path:
    """A folder holding upstream's package as ``misp_modules/`` (downloaded on first use)."""
    root = cache_dir() / "tree"
    if (root / "misp_modules" / "__main__.py").is_file():
        return root
    wheels = cache_dir() / "wheel"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "--dest", str(wheels), f"misp-modules=={VERSION}"], check=True, timeout=300)
    (wheel,) = wheels.glob(f"misp_modules-{VERSION}-*.whl")
    partial = Path(tempfile.mkdtemp(prefix="tree-", dir=cache_dir()))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(partial)
    try:
        partial.rename(root)  # whole or not at all, should two runs race
    except OSError:
        if not (root / "misp_modules" / "__main__.py").is_file():
            raise
        shutil.rmtree(partial)
    return root


def reference_answers(root: Path, bodies: list[str], workdir: Path) -> dict:
    """Upstream's loader and ``run_request`` on ``bodies``, in a separate interpreter (this venv's
    packages, upstream's package first on its path): ``{"loaded", "failed", "answers": [bytes]}``."""
    requests_file, out_file = workdir / "requests.json", workdir / "reference.json"
    requests_file.write_text(json.dumps(bodies))
    subprocess.run([sys.executable, "-I", str(REFERENCE), str(root), str(requests_file), str(out_file)],
                   check=True, timeout=300, cwd=workdir)
    result = json.loads(out_file.read_text())
    result["answers"] = [a.encode("latin-1") for a in result["answers"]]
    return result
