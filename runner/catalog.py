"""The modules a run can use, read from the module server's ``GET /modules`` (docs/misp-behaviour.md §3.4, §11.1),
and which of them are enabled.

Two families, both found only through ``/modules`` (there is no hand-kept table), each read by
``misp_modules.contract.spec``: runner-only modules declare the MISP node they implement in
``meta.misp_workflow`` (MISP's built-in logic and action nodes), MISP-facing action modules are
translated the way MISP's ``Module_misp_module`` does it. As in MISP, misp-modules are merged
over the built-in action table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from misp_modules.contract.spec import ModuleSpec, from_misp_module, from_workflow_meta


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
                    spec = from_workflow_meta(name, meta["misp_workflow"])
                    builtin[(spec.module_type, spec.id)] = spec
                elif "action" in types and action_services:
                    spec = from_misp_module(name, meta)
                    misp_modules[(spec.module_type, spec.id)] = spec
            except (TypeError, ValueError, KeyError) as exc:
                problems.append(f"module `{name}`: unreadable workflow metadata ({exc})")
            if "expansion" in types or "hover" in types:
                expansions.add(name)
        return cls({**builtin, **misp_modules}, frozenset(expansions), problems)


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
