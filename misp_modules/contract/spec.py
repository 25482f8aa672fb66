"""What ``/modules`` says about a workflow node (docs/contract.md §1), written by the server's
modules and read by the runner's catalogue with the same defaults.

Two families:

* runner-only modules declare the MISP node they implement in ``meta.misp_workflow``
  (:func:`workflow_meta` writes it, :func:`from_workflow_meta` reads it);
* MISP-facing action modules (``meta["module-type"]`` contains ``"action"``) keep upstream's
  ``meta.config``, which MISP's ``Module_misp_module`` translates (docs/misp-behaviour.md §11.1):
  id ``underscore(name)``, one input param per key of ``config.params`` with id
  ``slug(underscore(key))`` and label ``humanize(key)``, the param's ``value`` only a
  placeholder (:func:`from_misp_module`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from misp_modules.contract.ids import LOGIC_KINDS, node_id
from misp_modules.semantics.inflector import humanize, param_id

MODULE_TYPES = ("logic", "action")


@dataclass(frozen=True)
class ModuleSpec:
    """A workflow node as the runner runs it."""

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
    params: tuple[Mapping[str, Any], ...] = ()  # MISP param descriptors, in declaration order
    version: str = "0.1"

    @property
    def is_misp_module(self) -> bool:
        return self.kind == "misp-module"


def _shape(module_type: str, logic_kind: str | None, outputs: int | None) -> tuple[str | None, int]:
    """``(logic_kind, outputs)`` with the defaults: a logic node is ``if`` unless it says
    otherwise, an IF has two outputs (then, else), anything else one."""
    if module_type not in MODULE_TYPES:
        raise ValueError(f"module_type must be 'logic' or 'action', not {module_type!r}")
    logic_kind = (logic_kind or "if") if module_type == "logic" else None
    return logic_kind, (2 if logic_kind == "if" else 1) if outputs is None else outputs


def workflow_meta(*, misp_id: str, module_type: str, name: str, version: str,
                  params: Sequence[Mapping[str, Any]], blocking: bool = False, support_filters: bool = False,
                  expect_misp_core_format: bool = False, multiple_output_connection: bool = False,
                  outputs: int | None = None, logic_kind: str | None = None,
                  needs_stored_event: bool = False) -> dict[str, Any]:
    """``meta.misp_workflow`` of a runner-only module: the MISP node it implements (``name`` is
    MISP's display name, ``params`` MISP's param descriptors with their defaults)."""
    if logic_kind is not None and logic_kind not in LOGIC_KINDS:
        raise ValueError(f"logic_kind must be one of {', '.join(LOGIC_KINDS)}, not {logic_kind!r}")
    logic_kind, outputs = _shape(module_type, logic_kind, outputs)
    meta: dict[str, Any] = {
        "id": misp_id, "module_type": module_type, "name": name, "version": version, "blocking": blocking,
        "support_filters": support_filters, "expect_misp_core_format": expect_misp_core_format,
        "multiple_output_connection": multiple_output_connection, "outputs": outputs,
        "needs_stored_event": needs_stored_event, "params": [dict(p) for p in params],
    }
    if module_type == "logic":
        meta["logic_kind"] = logic_kind
    return meta


def from_workflow_meta(module_name: str, meta: Mapping[str, Any]) -> ModuleSpec:
    """The spec of runner-only module ``module_name`` from its ``misp_workflow``; ``TypeError``,
    ``ValueError`` or ``KeyError`` for metadata that cannot be read."""
    module_type = meta["module_type"]
    logic_kind, outputs = _shape(module_type, meta.get("logic_kind"), meta.get("outputs"))
    return ModuleSpec(
        id=str(meta["id"]), module_type=module_type, name=module_name, kind="runner",
        blocking=bool(meta.get("blocking")), support_filters=bool(meta.get("support_filters")),
        expect_misp_core_format=bool(meta.get("expect_misp_core_format")),
        multiple_output_connection=bool(meta.get("multiple_output_connection")),
        outputs=int(outputs), logic_kind=logic_kind, needs_stored_event=bool(meta.get("needs_stored_event")),
        params=tuple(dict(p) for p in meta.get("params") or () if isinstance(p, Mapping) and "id" in p),
        version=str(meta.get("version", "0.1")),
    )


def from_misp_module(module_name: str, meta: Mapping[str, Any]) -> ModuleSpec:
    """The node MISP makes of the MISP-facing action ``module_name`` (its ``meta.config``)."""
    config = meta.get("config")
    if not isinstance(config, Mapping):
        config = {}
    raw_params = config.get("params")
    if not isinstance(raw_params, Mapping):
        raw_params = {}
    params = []
    for pname, p in raw_params.items():
        p = p if isinstance(p, Mapping) else {}
        ptype = p.get("type")
        desc: dict[str, Any] = {
            "id": param_id(str(pname)), "label": humanize(str(pname)),
            "type": "textarea" if ptype == "large_string" else "input",
            "placeholder": p.get("value", "") or "",
        }
        if ptype == "hash_path":
            desc["_isHashPath"] = True
        if "jinja_supported" in p:
            desc["jinja_supported"] = bool(p["jinja_supported"])
        params.append(desc)
    return ModuleSpec(
        id=node_id(module_name), module_type="action", name=module_name, kind="misp-module",
        blocking=bool(config.get("blocking")), support_filters=bool(config.get("support_filters")),
        expect_misp_core_format=bool(config.get("expect_misp_core_format")),
        outputs=1, params=tuple(params), version="0.1",
    )
