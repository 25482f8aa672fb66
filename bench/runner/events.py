"""Events of any size for the runner benchmark, grown from a real MISP event.

Attributes are copied round-robin from ``long_event.json`` (370 attributes of 21 types), given
the database fields MISP stores (``id``, ``event_id``, ``object_id``, ``distribution``, ...),
unique uuids and, for hashes, unique values derived from a seed (``hash_value``) so a hashlookup
fake can know some of them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "tests" / "data" / "events"  # PyMISP's test events
_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def hash_value(kind: str, i: int) -> str:
    return _HASHES[kind](f"bench-{i}".encode()).hexdigest()


def make_event(n: int, *, event_tags: list[str] | None = None, red_attribute: int | None = None) -> dict[str, Any]:
    """``{"Event": ...}`` with ``n`` attributes; ``red_attribute``: index of one attribute tagged
    ``PAP:RED`` (so a PAP/TLP guard blocks)."""
    base = json.loads((EVENTS / "long_event.json").read_text())["Event"]
    templates = base["Attribute"]
    tag_names = event_tags if event_tags is not None else ["tlp:amber", "type:OSINT"]
    event = {k: copy.deepcopy(v) for k, v in base.items() if k != "Attribute"}
    event.update({"id": "4242", "org_id": "1", "orgc_id": "1", "distribution": "1", "sharing_group_id": "0",
                  "published": False, "uuid": str(uuid.UUID(int=4242)),
                  "Org": {"id": "1", "name": "ORGNAME", "uuid": str(uuid.UUID(int=1))},
                  "Tag": [{"id": str(10 + i), "name": t, "colour": "#000000", "exportable": True, "local": 0}
                          for i, t in enumerate(tag_names)]})
    event["Orgc"] = {"id": "1", "name": "ORGNAME", "uuid": str(uuid.UUID(int=1))}
    attributes = []
    for i in range(n):
        attr = dict(templates[i % len(templates)])
        kind = attr["type"].split("|")[-1]
        if kind in _HASHES:
            value = hash_value(kind, i)
            attr["value"] = f"file-{i}.bin|{value}" if "|" in attr["type"] else value
        else:
            attr["value"] = f"{attr['value']}-{i}"
        attr.update({"id": str(100000 + i), "event_id": "4242", "object_id": "0", "distribution": "5",
                     "sharing_group_id": "0", "uuid": str(uuid.UUID(int=10**6 + i)), "deleted": False,
                     "disable_correlation": False, "Tag": []})
        if i == red_attribute:
            attr["Tag"] = [{"id": "99", "name": "PAP:RED", "colour": "#cc0033", "exportable": True, "local": 0}]
        attributes.append(attr)
    event["Attribute"] = attributes
    return {"Event": event}
