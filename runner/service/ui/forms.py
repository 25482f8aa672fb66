"""A module's query form, built from what ``GET /modules`` says about it, and the query it sends.

Three families (docs/contract.md §1), three shapes of request, as the MISP training sends them
to ``/query`` by hand ("stateless module execution"):

* workflow modules (``meta.misp_workflow``): MISP's param descriptors (``select`` with options,
  ``picker`` lists, ``input``/``textarea``/``hashpath`` text), the node's filter for modules that
  honour one, and the roaming data; always ``dry_run`` (they report changes, never write);
* MISP-facing action modules (``meta.config.params``): upstream's ``{name: {type, description,
  value}}`` (``value`` is a placeholder), and the roaming data;
* expansion modules: the attribute (a type of ``mispattributes.input`` and a value: as an
  ``attribute`` object for ``misp_standard`` modules, else as ``{type: value}``) and the
  module's ``config`` keys (``meta.config``).

Fields whose name reads as a credential (``misp_modules.lib.redact.is_secret_key``) are
password inputs, never written back into a page.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from misp_modules.lib.redact import is_secret_key

FILTER_KEYS = ("selector", "value", "operator", "path")


class FormError(ValueError):
    """A value the form cannot turn into a query (the message names the field)."""


@dataclass
class Field:
    name: str                     # the form field: param:<id>, config:<key>, filter:<key>
    label: str
    kind: str                     # select | text | textarea | lines | password
    value: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    help: str = ""
    placeholder: str = ""


@dataclass
class ModuleForm:
    name: str
    type: str
    family: str                   # workflow | action | expansion | other
    title: str
    description: str
    fields: list[Field]
    takes_data: bool
    core_format: bool = False
    attribute_types: list[str] = field(default_factory=list)
    standard_format: bool = False


def family(entry: Mapping[str, Any]) -> str:
    meta = entry.get("meta") or {}
    if isinstance(meta.get("misp_workflow"), Mapping):
        return "workflow"
    if entry.get("type") == "action_mod":
        return "action"
    if entry.get("type") == "expansion":
        return "expansion"
    return "other"


def _options(raw: Any) -> list[tuple[str, str]]:
    if isinstance(raw, Mapping):
        return [(str(k), str(v)) for k, v in raw.items()]
    if isinstance(raw, list):
        out = []
        for item in raw:
            if isinstance(item, Mapping):
                out.append((str(item.get("value", item.get("name", ""))), str(item.get("name", item.get("value", "")))))
            else:
                out.append((str(item), str(item)))
        return out
    return []


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(map(str, value))
    return str(value)


def form_for(entry: Mapping[str, Any]) -> ModuleForm:
    meta = entry.get("meta") or {}
    kind = family(entry)
    fields: list[Field] = []
    standard, types, core = False, [], False
    if kind == "workflow":
        wf = meta["misp_workflow"]
        core = bool(wf.get("expect_misp_core_format"))
        for param in wf.get("params") or ():
            pid = str(param.get("id") or param.get("label") or "")
            if not pid:
                continue
            ptype = str(param.get("type") or "input")
            help_text = " ".join(filter(None, [str(param.get("description") or ""),
                                               "Jinja template" if param.get("jinja_supported") else ""]))
            if ptype == "select":
                fields.append(Field(f"param:{pid}", str(param.get("label") or pid), "select",
                                    _text(param.get("default")), _options(param.get("options")), help_text))
            elif ptype == "picker" and param.get("multiple"):
                fields.append(Field(f"param:{pid}", str(param.get("label") or pid), "lines", _text(param.get("default")),
                                    help="one value per line" + (f"; {help_text}" if help_text else ""),
                                    placeholder=_text(param.get("placeholder"))))
            else:
                fields.append(Field(f"param:{pid}", str(param.get("label") or pid),
                                    "password" if is_secret_key(pid) else "textarea" if ptype == "textarea" else "text",
                                    _text(param.get("default")), help=help_text,
                                    placeholder=_text(param.get("placeholder"))))
        if wf.get("support_filters"):
            fields += [Field(f"filter:{k}", f"Filter {k}", "text", help="the node's filter (saved_filters)")
                       for k in FILTER_KEYS]
    elif kind == "action":
        config = meta.get("config") or {}
        core = bool(config.get("expect_misp_core_format"))
        for name, spec in (config.get("params") or {}).items():
            spec = spec if isinstance(spec, Mapping) else {}
            ptype = str(spec.get("type") or "string")
            fields.append(Field(f"param:{name}", str(name), "password" if is_secret_key(name) else
                                "textarea" if ptype == "large_string" else "text",
                                help=str(spec.get("description") or ""), placeholder=_text(spec.get("value"))))
    elif kind == "expansion":
        attrs = entry.get("mispattributes") or {}
        types = [str(t) for t in attrs.get("input") or ()]
        standard = attrs.get("format") == "misp_standard"
        for name in meta.get("config") or ():
            fields.append(Field(f"config:{name}", str(name), "password" if is_secret_key(name) else "text",
                                help="module setting (config)"))
    return ModuleForm(str(entry.get("name")), str(entry.get("type")), kind, str(meta.get("name") or entry.get("name")),
                      str(meta.get("description") or ""), fields, kind in ("workflow", "action"), core, types, standard)


def query(form: ModuleForm, values: Mapping[str, str], data: Any = None, attribute_type: str = "",
          attribute_value: str = "") -> dict[str, Any]:
    """The ``/query`` body for the submitted ``values`` (field name -> text)."""
    body: dict[str, Any] = {"module": form.name}
    params: dict[str, Any] = {}
    config: dict[str, Any] = {}
    filters: dict[str, str] = {}
    for f in form.fields:
        raw = values.get(f.name, "")
        if f.kind == "lines":
            value: Any = [line.strip() for line in raw.splitlines() if line.strip()]
        else:
            value = raw
        if f.name.startswith("param:"):
            params[f.name[6:]] = value
        elif f.name.startswith("config:"):
            if value != "":
                config[f.name[7:]] = value
        elif f.name.startswith("filter:"):
            filters[f.name[7:]] = value
    if form.family == "expansion":
        if attribute_type not in form.attribute_types:
            raise FormError(f"attribute type: choose one of {', '.join(form.attribute_types) or 'none'}")
        if not attribute_value.strip():
            raise FormError("attribute value: give the value to look up")
        if form.standard_format:
            body["attribute"] = {"type": attribute_type, "value": attribute_value.strip(), "uuid": str(uuid.uuid4())}
        else:
            body[attribute_type] = attribute_value.strip()
        if config:
            body["config"] = config
        return body
    body["data"] = data if data is not None else {}
    body["params"] = params or []
    if form.family == "workflow":
        body["node"] = {"id": "ui", "saved_filters": {k: filters.get(k, "") for k in FILTER_KEYS},
                        "indexed_params": params}
        body["dry_run"] = True
    return body
