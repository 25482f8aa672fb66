"""What the intel expansion modules share: MISP's input checks and misp_standard results.

misp_standard expansion modules receive a full attribute (``request["attribute"]``) and answer
``{"results": {"Attribute": [<the input attribute>], "Object": [...]}}`` built with PyMISP, so
objects follow the misp-objects templates shipped with PyMISP (docs/misp-modules-protocol.md §2.2, §5.2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pymisp import MISPEvent, MISPObject

# upstream misp-modules' wording (expansion/__init__.py), which MISP users know
STANDARD_ERROR = ('This module requires an "attribute" field as input, which should contain at least '
                  'a type, a value and an uuid.')

# The input attribute is echoed back; only these fields, because attach-enrichment sends the
# flattened roaming-data copy (``_allTags``, earlier ``enrichment`` results, ...).
_ECHOED = ("id", "event_id", "object_id", "object_relation", "uuid", "type", "category", "value", "to_ids",
           "comment", "distribution", "sharing_group_id", "disable_correlation")


def input_attribute(request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request's attribute when it has a type, a string value and a uuid (else None)."""
    attribute = request.get("attribute") if isinstance(request, Mapping) else None
    if not isinstance(attribute, Mapping):
        return None
    if not all(attribute.get(key) for key in ("type", "value", "uuid")) or not isinstance(attribute["value"], str):
        return None
    return dict(attribute)


def module_config(request: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` as a dict (MISP sends ``[]`` for an empty PHP array)."""
    config = request.get("config")
    return dict(config) if isinstance(config, Mapping) else {}


def misp_results(attribute: Mapping[str, Any], objects: Iterable[MISPObject]) -> dict[str, Any]:
    """``{"Attribute": [input attribute], "Object": [...]}`` as upstream modules serialise it."""
    event = MISPEvent()
    event.add_attribute(**{key: attribute[key] for key in _ECHOED if attribute.get(key) is not None})
    for misp_object in objects:
        event.add_object(misp_object)
    serialised = json.loads(event.to_json())
    return {key: serialised[key] for key in ("Attribute", "Object") if serialised.get(key)}
