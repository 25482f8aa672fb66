"""Reading a node's params, and what is wrong with them, measured against the params MISP declares.

:func:`choice`, :func:`as_list` and :func:`roaming_object` read a value a handler needs, or
raise :class:`~misp_modules.contract.request.ParamError` naming the param (the node fails).
:func:`problems` is for the params MISP reads anyway. MISP never validates params: an unknown operator silently evaluates to false, a list where a
string is expected crashes, a regex that does not compile matches nothing. The built-in node
modules keep MISP's decision and add these messages to the node's errors, each naming the
param, so the workflow author learns why the node went the way it did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from misp_modules.contract.request import ParamError
from misp_modules.semantics import hashpath
from misp_modules.semantics.php import a_json_type

TEXT_TYPES = ("input", "textarea", "hashpath")


def option_values(descriptor: Mapping[str, Any]) -> list[str]:
    """The values a select offers: the keys of a map, the strings of a list, or the ``value``
    of ``{name, value}`` entries (docs/misp-behaviour.md §2.6)."""
    options = descriptor.get("options")
    if isinstance(options, Mapping):
        return [str(k) for k in options]
    values = []
    for option in options or ():
        if isinstance(option, Mapping):
            values.append(str(option.get("value")))
        else:
            values.append(str(option))
    return values


def problems(declared: Sequence[Mapping[str, Any]], params: Mapping[str, Any], *,
             accept: Mapping[str, Iterable[Any]] | None = None, required: Iterable[str] = (),
             check_options: Iterable[str] | None = None) -> list[str]:
    """Messages for every param of ``params`` that MISP would misread.

    ``accept`` lists extra values a select takes (MISP's legacy operators, a default that is not
    an option); ``required`` names params that must not be empty; ``check_options`` restricts
    the option check to those selects (options filled from MISP's database are open lists).
    """
    accept = accept or {}
    found: list[str] = []
    checked = None if check_options is None else set(check_options)
    for descriptor in declared:
        pid = descriptor["id"]
        value = params.get(pid, "")
        kind = descriptor.get("type")
        if pid in required and value in ("", None, [], {}):
            found.append(f"param `{pid}`: required, but empty")
            continue
        if kind == "select" and (checked is None or pid in checked):
            message = _select_problem(descriptor, value, accept.get(pid, ()))
        elif kind == "picker":
            message = _picker_problem(descriptor, value)
        elif kind in TEXT_TYPES:
            message = _text_problem(value)
            if message is None and kind == "hashpath" and isinstance(value, str) and value:
                issue = hashpath.validate(value)
                message = None if issue is None else f"invalid hash path {value!r}: {issue}"
        elif kind == "checkbox" and not isinstance(value, bool):
            message = f"expected true or false, got {a_json_type(value)}"
        else:
            message = None
        if message:
            found.append(f"param `{pid}`: {message}")
    return found


def _select_problem(descriptor: Mapping[str, Any], value: Any, extra: Iterable[Any]) -> str | None:
    allowed = option_values(descriptor)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"expected one of {', '.join(allowed)}, got {a_json_type(value)}"
    accepted = set(allowed) | {str(e) for e in extra}
    if "default" in descriptor:
        accepted.add(str(descriptor["default"]))
    if str(value) not in accepted:
        return f"unsupported value {value!r} (expected one of: {', '.join(allowed)})"
    return None


def _picker_problem(descriptor: Mapping[str, Any], value: Any) -> str | None:
    if descriptor.get("multiple") in (True, "true"):
        if isinstance(value, bool) or not isinstance(value, (list, dict, str, int)):
            return f"expected a list, got {a_json_type(value)}"
        items = value.values() if isinstance(value, dict) else (value if isinstance(value, list) else [])
        odd = [v for v in items if isinstance(v, (list, dict)) or isinstance(v, bool) or v is None]
        if odd:
            return f"expected a list of names or ids, got an item of type {a_json_type(odd[0])}"
        return None
    if isinstance(value, bool) or (value is not None and not isinstance(value, (str, int, list))):
        return f"expected one value, got {a_json_type(value)}"
    return None


def _text_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"expected a string, got {a_json_type(value)}"
    return None


def merge(*groups: Iterable[str]) -> list[str]:
    """Errors from several sources, in order, each once."""
    seen: list[str] = []
    for group in groups:
        for message in group:
            if message not in seen:
                seen.append(message)
    return seen


def choice(params: Mapping[str, Any], pid: str, allowed: Iterable[str]) -> str:
    """The value of a select param, or a :class:`ParamError` naming it and the allowed values."""
    value = params.get(pid)
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ParamError(f"param `{pid}`: unsupported value {value!r} (expected one of: {', '.join(allowed)})")
    return value


def as_list(value: Any, pid: str) -> list:
    """A multiple-picker value: MISP stores a list; old graphs may hold a scalar (wrapped here)."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (str, int, float)):
        return [value]
    raise ParamError(f"param `{pid}`: expected a list, got {a_json_type(value)}")


def roaming_object(data: Any, module: str) -> dict:
    """The roaming data of a node that edits attributes inside ``Event``; anything but a JSON
    object (MISP always sends its decoded roaming data) is a :class:`ParamError` naming it."""
    if not isinstance(data, dict):
        raise ParamError(f"Error while executing module {module}: `data` must be the roaming data "
                         f"(a JSON object), not {a_json_type(data)}")
    return data


def unset_params(req: Any) -> set[str]:
    """The params of ``req`` the node left unset. MISP gives those the default of the module
    file that runs, which can differ by version (filter-tag 0.2/0.3) or release (threat-level-if),
    while the runner fills the declared (newest) default in ``params``; the node's own saved
    ``indexed_params`` tell, when the request carries them (else ``params`` does)."""
    raw = req.raw if isinstance(req.raw, Mapping) else {}
    node = raw.get("node") if isinstance(raw.get("node"), Mapping) else {}
    saved = node["indexed_params"] if "indexed_params" in node else raw.get("params")
    saved = saved if isinstance(saved, Mapping) else {}
    return {pid for pid in req.params if saved.get(pid) is None}
