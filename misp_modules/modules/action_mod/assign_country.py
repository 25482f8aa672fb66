"""MISP's "Assign country" node (``assign_country``, v0.2), offline.

Reads country names at ``hash_path`` (typically from an enrichment, e.g.
``enrichment.{n}.Object.0.Attribute.{n}[object_relation=country].value``), finds the "Country"
galaxy clusters whose value equals one of them (case-insensitive; clusters from
pymispgalaxies, the misp-galaxy data MISP imports) and attaches their tags
(``misp-galaxy:country="<value>"``) to the event (scope ``event``: countries of all matching
attributes) or to each attribute (scope ``attribute``). As in MISP the roaming data is not
changed: the tags are ``changes`` (docs/contract.md §4), applied to MISP through PyMISP when a
MISP connection is configured and the run is not a dry run.

Tags already attached count as done (relationship type updated), as in MISP's
``attachTagsTo…AndTouch`` (lib/misp_edits.TagBook); a country found twice is attached once.
MISP quirks kept: with node filters set, event scope looks for ``Event.id`` in the filtered
items (which are attributes), finds none and attaches nothing (false); ``galaxy_name`` is
unused; an attribute-scope result is the last attribute's.
"""

from __future__ import annotations

import functools
from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import TagBook, event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions, hashpath
from misp_modules.semantics.php import is_array, loose_eq

node = declare(
    misp_id="assign_country", module_type="action", name="Assign country", version="0.2", support_filters=True,
    expect_misp_core_format=True,
    description="Add or remove country Galaxy Cluster based on provided data",
    features="Country galaxy clusters from pymispgalaxies (offline); tags reported as changes.",
    references=["https://github.com/MISP/misp-galaxy/blob/main/clusters/country.json"],
    params=[
        {"id": "scope", "label": "Scope", "type": "select",
         "options": {"event": "Event", "attribute": "Attributes"}, "default": "event"},
        {"id": "hash_path", "label": "Country Hash path", "type": "hashpath",
         "placeholder": "enrichment.{n}.{n}.values.0", "default": "enrichment.{n}.{n}.values.0"},
        {"id": "locality", "label": "Tag Locality", "type": "select",
         "options": {"local": "Local", "global": "Global"}, "default": "local"},
        {"id": "galaxy_name", "label": "Galaxy Name", "type": "select", "options": {"country": "country"},
         "placeholder": "Pick a galaxy name"},
        {"id": "relationship_type", "label": "Relationship Type", "type": "input", "display_on": {"action": "add"}},
    ],
)


@functools.lru_cache(maxsize=1)
def country_clusters() -> tuple[tuple[str, str], ...]:
    """``(value, tag_name)`` of every "Country" galaxy cluster, in the galaxy's order."""
    from pymispgalaxies import Cluster

    cluster = Cluster("country")
    return tuple((value, f'misp-galaxy:{cluster.type}="{value}"') for value in cluster.keys())


def country_tags(countries: list[Any]) -> list[str]:
    """MISP's ``guessTagFromPath``: one tag per (country, cluster) pair with equal lower-cased names."""
    tags = []
    for country in countries:
        wanted = str(country).lower() if not isinstance(country, (dict, list)) else None
        for value, tag in country_clusters():
            if wanted is not None and value.lower() == wanted:
                tags.append(tag)
    return tags


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    data = req.data
    path = req.params["hash_path"] if isinstance(req.params["hash_path"], str) else ""
    if conditions.filters_enabled(req.saved_filters):
        items = conditions.matching_items(data, req.saved_filters)
        if items is False:
            return reply(False)
    else:
        items = data
    attributes = hashpath.extract(items, "Event._AttributeFlattened.{n}") if is_array(items) else []
    local = loose_eq(req.params["locality"], "local")
    relationship = req.params["relationship_type"] or None
    book = TagBook(data, req.stored_event)
    changes: list[dict] = []
    result = False
    if loose_eq(req.params["scope"], "event"):
        if not path.startswith("{n}."):
            path = "{n}." + path
        tags = country_tags(unique(hashpath.extract(attributes, path)))
        event = event_of(items)
        if event.get("uuid") is not None:
            result, changes = book.attach("event", event, tags, local, relationship)
    else:
        event_uuid = event_of(data).get("uuid")
        for attribute in attributes:
            if not isinstance(attribute, dict):
                continue
            tags = country_tags(hashpath.extract(attribute, path))
            result, more = book.attach("attribute", attribute, tags, local, relationship, event_uuid)
            changes += more
    changes, failure = write_back(changes, dry_run=req.dry_run, action="assign_country")
    if failure is not None:
        return reply(False, errors=[failure], changes=changes)
    return reply(result, changes=changes)


def unique(values: list[Any]) -> list[Any]:
    """PHP's ``array_unique`` (string comparison, first occurrence kept)."""
    seen: set[str] = set()
    kept = []
    for value in values:
        key = str(value) if not isinstance(value, (dict, list)) else repr(value)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept
