"""MISP's warninglist check (``Warninglist::checkForWarning``/``checkValue``) over the MISP
warninglists shipped with ``pymispwarninglists``, offline.

The lists come from pymispwarninglists (the misp-warninglists repository, as MISP imports it);
the matching is MISP's, not pymispwarninglists' ``search``, because a workflow must flag the same
values MISP flags:

- ``string``: exact match; ``hostname``: the value's host (``a/b`` → ``a``, ``x://a/b`` → ``a``,
  trailing dots dropped) or any parent domain, against entries lower-cased and dot-trimmed (the
  value itself is not lower-cased, as in MISP); ``substring``: entry contained in the value;
  ``regex``: PHP ``preg_match`` (an invalid pattern never matches); ``cidr``: MISP's ``CidrTool``
  (IPv4: the shortest listed mask containing the IP; IPv6: the last mask group that does).
- Composite values (``type|type`` and ``malware-sample``) are checked part by part.
- A list applies to an attribute when its ``matching_attributes`` (``ALL`` when empty) has the type.
- Only attributes with ``to_ids`` are checked unless ``warning_for_all`` (``MISP.warning_for_all``).

MISP stores no category for the default lists, so every list has ``false_positive`` (the DB
default), which is what the curation blueprint filters on. List ids are MISP database ids there;
offline they are positions in name order, 1-based (stable for a given pymispwarninglists).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from misp_modules.semantics.php import truthy
from misp_modules.semantics.preg import preg_match

CATEGORY = "false_positive"


@functools.lru_cache(maxsize=8192)
def _parse_ip(address: str) -> tuple[int, int] | None:
    """(version, integer) of an IP address, or None (every cidr list parses the same value)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return ip.version, int(ip)


@dataclass
class _Cidrs:
    """MISP's CidrTool. IPv4 entries are kept as written and MISP looks up the canonical
    ``a.b.c.d/n`` of each mask from the shortest listed one up, so only canonically written
    entries can match and the widest match wins; IPv6 entries are grouped by mask and the last
    matching group wins (MISP's loop has no early exit across groups)."""

    ipv4: dict[tuple[int, int], str] = field(default_factory=dict)  # (network int, bits) → entry
    ipv4_masks: tuple[int, ...] = ()
    ipv6: dict[int, list[int]] = field(default_factory=dict)        # bits → entry address ints

    @classmethod
    def build(cls, entries: Iterable[str]) -> _Cidrs:
        cidrs = cls()
        masks: set[int] = set()
        minimum = 33
        for entry in entries:
            address, _, mask = entry.partition("/")
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                continue
            maximum = 32 if ip.version == 4 else 128
            if mask and (not mask.isdigit() or int(mask) > maximum):
                continue
            bits = int(mask) if mask else maximum
            if ip.version == 4:
                minimum = min(minimum, bits)
                written = entry if mask else f"{entry}/32"
                if written == f"{ip}/{bits}":  # what MISP's needle can equal
                    cidrs.ipv4[(int(ip), bits)] = written
                    masks.add(bits)
            else:
                cidrs.ipv6.setdefault(bits, []).append(int(ip))
        cidrs.ipv4_masks = tuple(sorted(b for b in masks if b >= minimum))
        return cidrs

    def contains(self, value: str) -> str | None:
        address, _, value_mask = value.partition("/")
        parsed = _parse_ip(address)
        if parsed is None:
            return None
        version, number = parsed
        match = None
        if version == 4:
            for bits in self.ipv4_masks:
                found = self.ipv4.get((number & ((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF), bits))
                if found is not None:
                    match = found
                    break
        else:
            for bits, networks in self.ipv6.items():
                mask = ((1 << bits) - 1) << (128 - bits) if bits else 0
                for net in networks:
                    if net & mask == number & mask:
                        match = f"{ipaddress.IPv6Address(net).compressed}/{bits}"
                        break
        if match and value_mask.isdigit() and int(value_mask) < int(match.rsplit("/", 1)[1]):
            return None
        return match


@dataclass
class Warninglist:
    id: int
    name: str
    type: str
    types: tuple[str, ...]
    entries: Any  # set (string, hostname), list (substring, regex) or _Cidrs
    category: str = CATEGORY

    def applies_to(self, attribute_type: Any) -> bool:
        return "ALL" in self.types or attribute_type in self.types

    def check_value(self, value: Any, attribute_type: Any) -> tuple[str, str] | None:
        """MISP's ``checkValue``: ``(matched entry, value part that matched)`` or None."""
        text = "" if value is None else str(value)
        parts = text.split("|", 1) if attribute_type == "malware-sample" or "|" in str(attribute_type) else [text]
        for part in parts:
            found = self._match(part)
            if found is not None:
                return found, part
        return None

    def _match(self, value: str) -> str | None:
        if self.type == "cidr":
            return self.entries.contains(value)
        if self.type == "string":
            return value if value in self.entries else None
        if self.type == "substring":
            return next((e for e in self.entries if e in value), None)
        if self.type == "hostname":
            pieces = value.split("/")
            host = pieces[2] if "//" in value else pieces[0]
            rebuilt = ""
            for piece in reversed(host.rstrip(".").split(".")):
                # PHP's empty() is also true for "0": "a.0" restarts at "a" (kept)
                rebuilt = piece if rebuilt in ("", "0") else f"{piece}.{rebuilt}"
                if rebuilt in self.entries:
                    return rebuilt
            return None
        if self.type == "regex":
            return next((e for e in self.entries if preg_match(e, value)), None)
        return None


def _build(position: int, raw: Mapping[str, Any]) -> Warninglist:
    kind = raw.get("type", "string")
    kind = kind[0] if isinstance(kind, list) else kind
    values = [str(v) for v in (raw.get("list") or []) if v]
    if kind == "hostname":
        entries: Any = {v.strip(".").lower() for v in values}
    elif kind == "string":
        entries = set(values)
    elif kind == "cidr":
        entries = _Cidrs.build(values)
    else:
        entries = values
    types = tuple(raw.get("matching_attributes") or ("ALL",))
    return Warninglist(position, raw["name"], kind, types, entries)


@functools.lru_cache(maxsize=1)
def all_lists() -> tuple[Warninglist, ...]:
    """Every list shipped with pymispwarninglists, in name order (loaded once: ~120 lists)."""
    from pymispwarninglists import WarningLists

    loaded = WarningLists()
    raws = sorted((wl.warninglist for wl in loaded.values()), key=lambda raw: raw["name"])
    return tuple(_build(i, raw) for i, raw in enumerate(raws, start=1))


def check_for_warning(attribute: Mapping[str, Any], lists: Iterable[Warninglist], warning_for_all: bool = False) -> dict:
    """MISP's ``checkForWarning``: the attribute with a hit appended to ``warnings`` per matching list."""
    result = dict(attribute)
    if not (truthy(attribute.get("to_ids")) or warning_for_all):
        return result
    for wl in lists:
        if not wl.applies_to(attribute.get("type")):
            continue
        found = wl.check_value(attribute.get("value"), attribute.get("type"))
        if found is not None:
            warnings = list(result.get("warnings") or [])
            warnings.append({"match": found[0], "value": found[1], "warninglist_id": wl.id,
                             "warninglist_name": wl.name, "warninglist_category": wl.category})
            result["warnings"] = warnings
    return result
