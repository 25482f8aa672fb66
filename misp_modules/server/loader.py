"""Find, import and describe modules, once, at startup.

Layout (upstream's): ``<root>/<type_dir>/<name>.py`` for the built-in root
``misp_modules/modules``, upstream's own tree (``--upstream``, see :mod:`.upstream_tree`) and an
optional custom root (``-c``). Files starting with ``_`` and sub-directories are not modules. A
module that fails to import, or whose ``introspection()`` / ``version()`` fails, is logged with
its reason and skipped: one broken optional dependency must not take the server down.

A name served by a built-in module and by upstream's tree (``hashlookup``, ``mattermost``,
``jinja_template_rendering`` in 3.1.1) is served by the built-in, unless ``[upstream] prefer``
names it: the built-ins accept every request upstream's modules accept, with upstream's params,
and need no optional package (upstream's ``mattermost`` needs ``mattermostdriver``). The startup
log says which file serves the name and why; the other file is not imported.

What *is* fatal, because MISP would silently misbehave: two modules with the same name among the
trees an administrator points the server at (upstream lets one replace the other), a custom
(``-c``) module named like a built-in, and a MISP-facing action module whose node id would
override one of MISP's built-in workflow nodes.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from misp_modules.lib.declaration import Declaration
from misp_modules.lib.redact import redact
from misp_modules.server import upstream_tree
from misp_modules.server.misp_nodes import clashing_node_id

log = logging.getLogger("misp-modules")

# Upstream's four type dirs, plus ``logic_mod`` for this project's runner-only logic modules.
MODULE_TYPES = ("expansion", "import_mod", "export_mod", "action_mod", "logic_mod")
BUILTIN_ROOT = Path(__file__).resolve().parent.parent / "modules"
BUILTIN_PACKAGE = "misp_modules.modules"
CUSTOM_PACKAGE = "misp_modules_custom"  # custom modules live here, never as bare top-level names

BUILTIN, UPSTREAM, CUSTOM = "builtin", "upstream", "custom"  # where a module file comes from
_LOG_PREFIX = {BUILTIN: "MISP module", UPSTREAM: "UPSTREAM MISP module", CUSTOM: "CUSTOM MISP module"}


class LoadError(Exception):
    """A module set the server must refuse to serve (the message names the files involved)."""


@dataclass
class LoadedModule:
    """A module ready to serve: its handler and its cached `/modules` entry."""

    name: str
    type: str
    path: Path
    custom: bool  # from a tree given on the command line (-c or --upstream)
    module: types.ModuleType
    handler: Callable[[Any], Any]
    takes_dict: bool  # dict_handler(request) rather than handler(raw_json)
    is_async: bool
    entry: dict[str, Any]  # {"name", "type", "mispattributes", "meta"}
    declared_timeout: float | None = None
    declared_concurrency: int | None = None
    origin: str = BUILTIN
    # upstream's server retries handler(q) when dict_handler raises AttributeError; modules of
    # upstream's tree that define both get that retry here too (they were written against it)
    fallback_handler: Callable[[Any], Any] | None = None
    # params whose values are credentials though their names say nothing (a webhook URL, its
    # headers): module-level ``secret_params``; masked in ``-d`` logs, errors and tracebacks
    secret_params: tuple[str, ...] = ()
    declared_isolation: str | None = None  # module-level ``isolation``: "process" or "thread"

    @property
    def module_types(self) -> list[str]:
        return list(self.entry["meta"].get("module-type") or [])


@dataclass
class LoadFailure:
    name: str
    type: str
    path: Path
    reason: str


@dataclass
class Registry:
    modules: dict[str, LoadedModule] = field(default_factory=dict)
    failures: dict[str, LoadFailure] = field(default_factory=dict)

    def entries(self) -> list[dict[str, Any]]:
        """`/modules` entries in a stable order: by type dir, then name."""
        order = {t: i for i, t in enumerate(MODULE_TYPES)}
        mods = sorted(self.modules.values(), key=lambda m: (order[m.type], m.name))
        return [m.entry for m in mods]


@dataclass(frozen=True)
class Candidate:
    """A module file found in a tree, not imported yet."""

    name: str
    type_dir: str
    path: Path
    origin: str
    dotted: str


def discover(root: Path, types_: Iterable[str] = MODULE_TYPES) -> list[tuple[str, Path]]:
    """``(type_dir, file)`` pairs under ``root``, sorted so load order is reproducible."""
    found = []
    for type_dir in types_:
        directory = root / type_dir
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix == ".py" and path.is_file() and not path.name.startswith("_"):
                found.append((type_dir, path))
    return found


def load_modules(custom_dir: str | Path | None = None, *, upstream_dir: str | Path | None = None,
                 prefer_upstream: Iterable[str] = (), builtin_root: Path = BUILTIN_ROOT) -> Registry:
    """Import the built-in tree, upstream's tree and the custom one; raise :class:`LoadError`
    on fatal clashes. ``prefer_upstream``: names upstream's tree serves instead of the built-in."""
    registry = Registry()
    builtin = [Candidate(p.stem, t, p, BUILTIN, f"{BUILTIN_PACKAGE}.{t}.{p.stem}") for t, p in discover(builtin_root)]
    external: list[Candidate] = []
    if upstream_dir is not None:
        tree = upstream_tree.locate(upstream_dir)
        if tree is None:
            raise LoadError(f"--upstream {upstream_dir}: not an upstream misp-modules tree (expected a git "
                            "checkout of misp-modules, upstream's installed misp_modules package directory, "
                            "or its modules/ directory, with lib/ beside modules/)")
        log.info("Serving upstream's module tree %s (lib/ on sys.path, misp_modules.* falls back to it)",
                 tree.package_dir)
        upstream_tree.install(tree)
        external += [Candidate(p.stem, t, p, UPSTREAM, upstream_tree.module_name(tree, t, p.stem))
                     for t, p in discover(tree.modules_dir, upstream_tree.UPSTREAM_TYPES)]
    if custom_dir is not None:
        custom_root = Path(custom_dir).resolve()
        if not custom_root.is_dir():
            raise LoadError(f"custom modules directory {custom_dir} does not exist or is not a directory")
        log.info("Parsing custom modules from root directory: %s", custom_root)
        _install_custom_package(custom_root)
        external += [Candidate(p.stem, t, p, CUSTOM, f"{CUSTOM_PACKAGE}.{t}.{p.stem}") for t, p in discover(custom_root)]
    for candidate in _choose(builtin, external, set(prefer_upstream), upstream_dir is not None):
        if isinstance(candidate, tuple):  # a preferred upstream file, with the built-in as fallback
            preferred, fallback = candidate
            if not _load_one(registry, preferred):
                log.warning("Module %r: upstream's %s failed to load, so the built-in %s serves the name",
                            preferred.name, preferred.path, fallback.path)
                registry.failures.pop(preferred.name, None)
                _load_one(registry, fallback)
        else:
            _load_one(registry, candidate)
    return registry


def _choose(builtin: list[Candidate], external: list[Candidate], prefer: set[str],
            has_upstream: bool) -> list[Candidate | tuple[Candidate, Candidate]]:
    """The files to import, one per name, by the clash rule (module docstring)."""
    seen: dict[str, Candidate] = {}
    for candidate in builtin:
        seen[candidate.name] = candidate  # names are unique within the built-in tree
    chosen: dict[str, Candidate | tuple[Candidate, Candidate]] = dict(seen)
    outside: dict[str, Candidate] = {}
    for candidate in external:
        name = candidate.name
        other = outside.get(name)
        if other is not None:
            raise LoadError(f"two modules are named {name!r}: {other.path} and {candidate.path}; "
                            "module names must be unique across all types and trees")
        outside[name] = candidate
        own = seen.get(name)
        if own is None:
            chosen[name] = candidate
        elif candidate.origin == CUSTOM:
            raise LoadError(f"two modules are named {name!r}: {own.path} and {candidate.path}; "
                            "module names must be unique across all types and trees")
        elif name in prefer:
            log.info("Module %r is served by upstream's %s ([upstream] prefer names it; the built-in %s is "
                     "not loaded)", name, candidate.path, own.path)
            chosen[name] = (candidate, own)
        else:
            log.info("Module %r is served by the built-in %s, not upstream's %s (a built-in wins a name "
                     "clash: it accepts upstream's requests and params; [upstream] prefer = [%r] serves "
                     "upstream's instead)", name, own.path, candidate.path, name)
    for name in sorted(prefer - {c.name for c in external if c.name in seen}):
        if has_upstream:
            log.warning("[upstream] prefer names %r, which is not both a built-in module and a module of "
                        "upstream's tree: ignored", name)
    return list(chosen.values())


def _install_custom_package(root: Path) -> None:
    """Make the custom tree the package ``misp_modules_custom`` so its modules can use relative
    imports and never shadow stdlib or third-party modules (upstream registers bare names)."""
    package = types.ModuleType(CUSTOM_PACKAGE)
    package.__path__ = [str(root)]
    package.__file__ = None
    sys.modules[CUSTOM_PACKAGE] = package


def _load_one(registry: Registry, candidate: Candidate) -> bool:
    """Import one module; False (logged, recorded as a failure) when it cannot be served."""
    name, type_dir, path = candidate.name, candidate.type_dir, candidate.path
    prefix = _LOG_PREFIX[candidate.origin]
    try:
        if "." in name:
            raise ValueError("a module name must not contain '.' (MISP uses it in setting paths)")
        module = importlib.import_module(candidate.dotted)
        loaded = describe(name, type_dir, path, candidate.origin != BUILTIN, module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any import failure skips the module
        reason = redact(f"{type(exc).__name__}: {exc}")
        log.warning("%s %s (type=%s) failed: %s", prefix, name, type_dir, reason)
        log.debug("Import of %s failed", path, exc_info=True)
        registry.failures[name] = LoadFailure(name, type_dir, path, reason)
        return False
    loaded.origin = candidate.origin
    if candidate.origin == UPSTREAM and loaded.takes_dict and callable(getattr(module, "handler", None)):
        loaded.fallback_handler = module.handler
    if "action" in loaded.module_types:
        node_id = clashing_node_id(name)
        if node_id is not None:
            raise LoadError(
                f"action module {name!r} ({path}) would be MISP workflow node {node_id!r}, which is "
                f"MISP's built-in node {node_id!r}: rename the module, or declare it runner-only "
                "(module-type [\"workflow\"], see misp_modules.lib.declaration.declare)")
    registry.modules[name] = loaded
    log.info("%s %s (type=%s) imported", prefix, name, type_dir)
    return True


def surface(module: types.ModuleType) -> Any:
    """Where the module file contract is read: the module's ``node`` when it declares itself
    with ``misp_modules.lib.declaration`` (one object holding every attribute below), else the
    module's own attributes (upstream's module files)."""
    declared = getattr(module, "node", None)
    if isinstance(declared, Declaration):
        if declared.dict_handler is None:
            raise TypeError("the module declares `node` but no handler (decorate one with @node.handler)")
        return declared
    return module


def describe(name: str, type_dir: str, path: Path, custom: bool, module: types.ModuleType) -> LoadedModule:
    """Check the module file contract and build its `/modules` entry (once: `version()`
    implementations often mutate module globals, so they are not called per request)."""
    source = surface(module)
    handler = getattr(source, "dict_handler", None)
    takes_dict = callable(handler)
    if not takes_dict:
        handler = getattr(source, "handler", None)
        if not callable(handler):
            raise TypeError("the module defines neither handler(q) nor dict_handler(request)")
    for required in ("introspection", "version"):
        if not callable(getattr(source, required, None)):
            raise TypeError(f"the module has no {required}() function")
    meta = source.version()
    if not isinstance(meta, dict):
        raise TypeError(f"version() must return a dict, not {type(meta).__name__}")
    module_type = meta.get("module-type")
    if not isinstance(module_type, list) or not all(isinstance(t, str) for t in module_type):
        raise TypeError("version()['module-type'] must be a list of strings (MISP requires it)")
    entry = {"name": name, "type": type_dir, "mispattributes": source.introspection(), "meta": meta}
    orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS)  # fail now rather than on every /modules
    return LoadedModule(
        name=name, type=type_dir, path=path, custom=custom, module=module,
        handler=handler, takes_dict=takes_dict, is_async=inspect.iscoroutinefunction(handler),
        entry=entry,
        declared_timeout=_positive(source, "timeout", float),
        declared_concurrency=_positive(source, "concurrency", int),
        secret_params=_names(source, "secret_params"),
        declared_isolation=_isolation(source),
    )


ISOLATIONS = ("process", "thread")


def _isolation(source: Any) -> str | None:
    value = getattr(source, "isolation", None)
    if value is not None and value not in ISOLATIONS:
        raise TypeError(f"module-level `isolation` must be one of {', '.join(map(repr, ISOLATIONS))}, got {value!r}")
    return value


def _names(source: Any, attr: str) -> tuple[str, ...]:
    value = getattr(source, attr, ())
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"module-level `{attr}` must be a list of param names, got {value!r}")
    return tuple(value)


def _positive(source: Any, attr: str, kind: type) -> Any:
    value = getattr(source, attr, None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 \
            or (kind is int and not float(value).is_integer()):
        raise TypeError(f"module-level `{attr}` must be a positive {kind.__name__}, got {value!r}")
    return kind(value)


__all__ = ["LoadError", "LoadedModule", "LoadFailure", "Registry", "load_modules", "discover",
           "describe", "MODULE_TYPES", "BUILTIN", "UPSTREAM", "CUSTOM"]
