"""deploy/: upstream's requirements without upstream's package, and the unit install.sh fills in."""

from __future__ import annotations

import subprocess
import sys

from tests.support.data import REPO_ROOT
from tests.support.upstream import unpacked_root

SCRIPT = REPO_ROOT / "deploy" / "upstream-requirements.py"


def requirements(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_requirements_of_an_installed_copy_come_from_its_metadata():
    package = unpacked_root() / "misp_modules"  # the wheel's tree: dist-info beside the package
    core = requirements(str(package), "--extra", "")
    assert "pymisp (>=2.5.34.1)" in core and "tornado (>=6.5.10,<6.6)" in core
    assert 'Brotli (>=1.2.1) ; platform_python_implementation == "CPython"' in core
    assert not any(line.startswith(("yara-python", "mattermostdriver")) for line in core)
    everything = requirements(str(package / "modules"))
    assert "yara-python (==4.5.0)" in everything and "mattermostdriver" in everything
    assert "pymisp[email,fileobjects,openioc,pdfexport] (>=2.5.34.1)" in everything
    assert len(everything) == len(set(everything))


def test_requirements_of_a_checkout_come_from_its_pyproject(tmp_path):
    (tmp_path / "misp_modules").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "misp-modules"\ndependencies = ["orjson>=3.11.9", "pymisp>=2.5.34.1"]\n'
        '[project.optional-dependencies]\nall = ["yara-python==4.5.0", "ndjson"]\nminimal = ["censys==2.0.9"]\n')
    assert requirements(str(tmp_path)) == ["orjson>=3.11.9", "pymisp>=2.5.34.1", "yara-python==4.5.0", "ndjson"]
    assert requirements(str(tmp_path), "--extra", "minimal")[-1] == "censys==2.0.9"


def test_not_an_upstream_tree_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "neither a git checkout of misp-modules" in done.stderr


def test_the_unit_runs_this_server_on_upstreams_address_with_upstreams_tree():
    unit = (REPO_ROOT / "deploy" / "misp-modules.service").read_text()
    assert "ExecStart=@VENV@/bin/misp-modules -l 127.0.0.1 -p 6666 --upstream @UPSTREAM@" in unit
    install = (REPO_ROOT / "deploy" / "install.sh").read_text()
    for placeholder in ("@USER@", "@GROUP@", "@VENV@", "@UPSTREAM@", "@EXTRA_ARGS@"):
        assert placeholder in unit and f"s|{placeholder}|" in install
