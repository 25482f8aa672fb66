"""The modules a run can use, read from the module server's ``GET /modules`` (docs/misp-behaviour.md §3.4, §11.1).

Two families, both found only through ``/modules`` (there is no hand-kept table):

* runner-only modules declare the MISP node they implement in ``meta.misp_workflow``
  (docs/contract.md §1): MISP's built-in logic and action nodes;
* MISP-facing action modules (``meta["module-type"]`` contains ``"action"``) are translated the
  way MISP's ``Module_misp_module`` does it: id ``underscore(name)``, one input param per key
  of ``meta.config.params`` with id ``slug(underscore(key))`` and label ``humanize(key)``, the
  param's ``value`` only a placeholder.

As in MISP, misp-modules are merged over the built-in action table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModuleSpec:
    id: str                      # MISP node id (node.data.id)
    module_type: str             # "logic" | "action"
    name: str                    # what /query's `module` names
    kind: str                    # "runner" (misp_workflow) | "misp-module" (MISP-facing action)
    blocking: bool = False
    support_filters: bool = False
    expect_misp_core_format: bool = False
    multiple_output_connection: bool = False
    outputs: int = 1
    logic_kind: str | None = None    # logic only: "if" | "filter" | "concurrent"
    needs_stored_event: bool = False
    params: tuple = ()               # MISP param descriptors (dicts), in declaration order
    version: str = "0.1"

    @property
    def is_misp_module(self) -> bool:
        return self.kind == "misp-module"

    def param(self, pid: str) -> Mapping | None:
        for p in self.params:
            if p.get("id") == pid:
                return p
        return None


@dataclass
class Catalog:
    modules: dict[tuple[str, str], ModuleSpec] = field(default_factory=dict)
    expansions: frozenset = frozenset()   # expansion module names (jinja_template_rendering, ...)
    problems: list[str] = field(default_factory=list)  # entries that could not be read

    def get(self, module_type: str, module_id: str) -> ModuleSpec | None:
        """MISP resolves a node by ``(module_type, id)``: ``{action, tag-if}`` does not resolve."""
        return self.modules.get((module_type, module_id))

    def ids(self) -> list[str]:
        return sorted(mid for _, mid in self.modules)

    @classmethod
    def from_modules(cls, entries: Iterable[Any], action_services: bool = True) -> Catalog:
        """Build from ``/modules`` entries. ``action_services=False`` is MISP with
        ``Plugin.Action_services_enable`` off: MISP-facing action modules are not loaded."""
        builtin: dict[tuple[str, str], ModuleSpec] = {}
        misp_modules: dict[tuple[str, str], ModuleSpec] = {}
        expansions = set()
        problems = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            name = entry.get("name")
            meta = entry.get("meta") if isinstance(entry.get("meta"), Mapping) else {}
            if not isinstance(name, str):
                continue
            types = meta.get("module-type") or []
            types = [types] if isinstance(types, str) else list(types)
            try:
                if isinstance(meta.get("misp_workflow"), Mapping):
                    spec = _runner_module(name, meta["misp_workflow"])
                    builtin[(spec.module_type, spec.id)] = spec
                elif "action" in types and action_services:
                    spec = _misp_module(name, meta)
                    misp_modules[(spec.module_type, spec.id)] = spec
            except (TypeError, ValueError, KeyError) as exc:
                problems.append(f"module `{name}`: unreadable workflow metadata ({exc})")
            if "expansion" in types or "hover" in types:
                expansions.add(name)
        return cls({**builtin, **misp_modules}, frozenset(expansions), problems)


def _runner_module(name: str, mw: Mapping) -> ModuleSpec:
    module_type = mw["module_type"]
    if module_type not in ("logic", "action"):
        raise ValueError(f"module_type {module_type!r}")
    logic_kind = mw.get("logic_kind") if module_type == "logic" else None
    if module_type == "logic" and not logic_kind:
        logic_kind = "if"
    return ModuleSpec(
        id=str(mw["id"]), module_type=module_type, name=name, kind="runner",
        blocking=bool(mw.get("blocking")), support_filters=bool(mw.get("support_filters")),
        expect_misp_core_format=bool(mw.get("expect_misp_core_format")),
        multiple_output_connection=bool(mw.get("multiple_output_connection")),
        outputs=int(mw.get("outputs", 2 if logic_kind == "if" else 1)), logic_kind=logic_kind,
        needs_stored_event=bool(mw.get("needs_stored_event")),
        params=tuple(dict(p) for p in mw.get("params") or () if isinstance(p, Mapping) and "id" in p),
        version=str(mw.get("version", "0.1")),
    )


def _misp_module(name: str, meta: Mapping) -> ModuleSpec:
    from misp_modules.semantics.inflector import humanize, slug, underscore

    config = meta.get("config") if isinstance(meta.get("config"), Mapping) else {}
    params = []
    raw_params = config.get("params") if isinstance(config.get("params"), Mapping) else {}
    for pname, p in raw_params.items():
        p = p if isinstance(p, Mapping) else {}
        ptype = p.get("type")
        desc: dict[str, Any] = {
            "id": slug(underscore(str(pname))), "label": humanize(str(pname)),
            "type": "textarea" if ptype == "large_string" else "input",
            "placeholder": p.get("value", "") or "",
        }
        if ptype == "hash_path":
            desc["_isHashPath"] = True
        if "jinja_supported" in p:
            desc["jinja_supported"] = bool(p["jinja_supported"])
        params.append(desc)
    return ModuleSpec(
        id=underscore(name), module_type="action", name=name, kind="misp-module",
        blocking=bool(config.get("blocking")), support_filters=bool(config.get("support_filters")),
        expect_misp_core_format=bool(config.get("expect_misp_core_format")),
        outputs=1, params=tuple(params), version="0.1",
    )


# MISP's upgrade step enables these; every other logic/action module starts disabled (misp-behaviour.md §3.3).
MISP_DEFAULT_ENABLED = frozenset({
    "generic-if", "distribution-if", "published-if", "organisation-if", "tag-if",
    "concurrent-task", "stop-execution", "webhook", "push-zmq",
})


@dataclass(frozen=True)
class Enablement:
    """Which logic/action modules are enabled (MISP's Redis set ``workflow:modules_enabled``).

    The runner's default is everything enabled: analysts test what a workflow *would* do.
    ``enabled`` (an exact set, e.g. :data:`MISP_DEFAULT_ENABLED`) and ``disabled`` reproduce a
    given MISP instance.
    """

    enabled: frozenset | None = None   # None: every module
    disabled: frozenset = frozenset()

    def is_enabled(self, module_id: str) -> bool:
        if module_id in self.disabled:
            return False
        return self.enabled is None or module_id in self.enabled

    @classmethod
    def parse(cls, enabled: str | None = None, disabled: Iterable[str] = ()) -> Enablement:
        """``enabled``: ``"all"`` (default), ``"misp-default"``, or a comma-separated list (``""``
        enables nothing); ``disabled``: ids (comma-separated lists allowed)."""
        off = frozenset(i.strip() for item in disabled for i in item.split(",") if i.strip())
        if enabled is None or enabled == "all":
            return cls(None, off)
        if enabled == "misp-default":
            return cls(MISP_DEFAULT_ENABLED, off)
        return cls(frozenset(i.strip() for i in enabled.split(",") if i.strip()), off)

    def describe(self) -> str:
        base = "all modules" if self.enabled is None else (
            "MISP's default set" if self.enabled == MISP_DEFAULT_ENABLED else
            ("no modules" if not self.enabled else ", ".join(sorted(self.enabled))))
        return base + (f" except {', '.join(sorted(self.disabled))}" if self.disabled else "")
