"""Serve upstream misp-modules' own module tree with upstream's import environment.

An administrator replacing upstream keeps upstream's 200+ module files where they are (a git
checkout, or upstream's package installed in another venv) and points this server at them with
``--upstream DIR``. Those files expect what upstream's server gives them, and get it here without
one file being edited:

* **The tree is a package**, ``misp_modules_upstream``, rooted at upstream's package directory
  (the one holding ``modules/``, ``lib/`` and ``data/``), so its modules load as
  ``misp_modules_upstream.modules.<type>.<name>``: their relative imports (``from . import
  check_input_attribute``, ``from ._utils import utils``) run upstream's own ``__init__.py`` files,
  and ``Path(__file__).parents[2] / "data"`` is upstream's ``data/``.
* **``lib/`` is on ``sys.path``, appended**, exactly as upstream's ``promote_lib_to_root()`` does,
  so ``import joe_parser`` or ``from _vmray.parser import ...`` work, and installed packages still
  win over a ``lib/`` name as they do upstream.
* **``misp_modules.<name>`` falls back to the tree**: upstream's files import their helpers as
  ``misp_modules.lib.network_acl``, which would otherwise resolve to this project's package of the
  same name. A finder placed *after* Python's own path finder on ``sys.meta_path`` answers only the
  names this project does not have, with the tree's module of the same relative name (one module
  object, registered under both names). This project's modules always win: the finder is never
  asked for a name Python's own finder resolved.
* **``importlib.resources.files("misp_modules")``** (five upstream modules read their object
  templates this way) sees this project's package directory merged with upstream's, so
  ``.joinpath("data", ...)`` finds upstream's ``data/``.

The hook is a finder rather than extending ``misp_modules.lib.__path__``: with a path extension,
``misp_modules.modules.expansion.<x>`` would execute upstream's file under this project's
``expansion`` package (whose ``__init__`` lacks upstream's helpers) as a second copy of the module.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import types
from dataclasses import dataclass
from importlib.readers import MultiplexedPath
from pathlib import Path

log = logging.getLogger("misp-modules")

OUR_PACKAGE = "misp_modules"
TREE_PACKAGE = "misp_modules_upstream"
UPSTREAM_TYPES = ("expansion", "import_mod", "export_mod", "action_mod")


@dataclass(frozen=True)
class UpstreamTree:
    """Upstream's package directory: ``modules/<type>/<name>.py``, ``lib/``, ``data/``."""

    package_dir: Path

    @property
    def modules_dir(self) -> Path:
        return self.package_dir / "modules"

    @property
    def lib_dir(self) -> Path:
        return self.package_dir / "lib"


def locate(path: str | Path) -> UpstreamTree | None:
    """The upstream tree at ``path``, given as any of: a git checkout of upstream (``DIR/misp_modules``),
    upstream's package directory (an installed copy in ``site-packages/misp_modules``), or that
    package's ``modules`` directory. None when ``path`` has none of these layouts."""
    root = Path(path).resolve()
    for candidate in (root / "misp_modules", root, root.parent if root.name == "modules" else None):
        if candidate is not None and _is_upstream_package(candidate):
            return UpstreamTree(candidate)
    return None


def _is_upstream_package(directory: Path) -> bool:
    modules = directory / "modules"
    return ((directory / "__init__.py").is_file() and (directory / "lib").is_dir() and modules.is_dir()
            and any((modules / t).is_dir() for t in UPSTREAM_TYPES))


def install(tree: UpstreamTree) -> None:
    """Give the tree's files upstream's import environment (see the module docstring). Once per
    process, before the tree's modules are imported."""
    package = types.ModuleType(TREE_PACKAGE)
    package.__path__ = [str(tree.package_dir)]
    package.__file__ = None
    package.__package__ = TREE_PACKAGE
    sys.modules[TREE_PACKAGE] = package
    lib = str(tree.lib_dir)
    if lib not in sys.path:
        sys.path.append(lib)  # upstream: promote_lib_to_root(), appended after site-packages
    if not any(isinstance(f, _FallbackFinder) for f in sys.meta_path):
        sys.meta_path.append(_FallbackFinder(tree))
    _merge_resources(tree)


def module_name(tree: UpstreamTree, type_dir: str, name: str) -> str:
    """The dotted name a module of the tree is imported under."""
    return f"{TREE_PACKAGE}.modules.{type_dir}.{name}"


class _FallbackFinder(importlib.abc.MetaPathFinder):
    """``misp_modules.<rest>`` that this project lacks → the tree's ``<rest>`` (same object)."""

    def __init__(self, tree: UpstreamTree) -> None:
        self.tree = tree

    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(OUR_PACKAGE + "."):
            return None
        rest = fullname[len(OUR_PACKAGE) + 1:]
        relative = self.tree.package_dir.joinpath(*rest.split("."))
        if not (relative.with_suffix(".py").is_file() or (relative / "__init__.py").is_file()):
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(f"{TREE_PACKAGE}.{rest}"))


class _AliasLoader(importlib.abc.Loader):
    """Import the tree's module and register it under the requested name too. importlib reads the
    module back from ``sys.modules`` after ``exec_module``, so the import returns the tree's module
    object itself (its ``__name__`` and relative imports stay the tree's)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        sys.modules[module.__name__] = importlib.import_module(self.target)


class _MergedPath(MultiplexedPath):
    """This project's package directory and upstream's as one: ``joinpath(*parts)`` is the first
    directory's file that exists (stdlib's 3.11 version takes one part only)."""

    def joinpath(self, *descendants: str):  # type: ignore[override]
        for base in self._paths:
            candidate = base.joinpath(*descendants)
            if candidate.exists():
                return candidate
        return self._paths[0].joinpath(*descendants)

    __truediv__ = joinpath


class _MergedReader(importlib.abc.TraversableResources):
    def __init__(self, directories: list[Path]) -> None:
        self.directories = directories

    def files(self) -> _MergedPath:
        return _MergedPath(*self.directories)


class _ResourceLoader:
    """This project's package loader, except that its resources include upstream's package."""

    def __init__(self, loader: object, directories: list[Path]) -> None:
        self._loader = loader
        self._directories = directories

    def get_resource_reader(self, name: str) -> _MergedReader:
        return _MergedReader(self._directories)

    def __getattr__(self, attribute: str):
        return getattr(self._loader, attribute)


def _merge_resources(tree: UpstreamTree) -> None:
    ours = sys.modules[OUR_PACKAGE]
    spec = ours.__spec__
    if spec is None or isinstance(spec.loader, _ResourceLoader):
        return
    own = Path(ours.__file__).resolve().parent  # type: ignore[arg-type]
    spec.loader = _ResourceLoader(spec.loader, [own, tree.package_dir])


__all__ = ["UpstreamTree", "locate", "install", "module_name", "TREE_PACKAGE"]
