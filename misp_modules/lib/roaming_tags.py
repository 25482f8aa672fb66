"""What the 2.5.32 tagging actions share (``tag_country_asn_from_enrichment``,
``tag_cve_from_enrichment``; docs/misp-behaviour.md §16.9, §16.10): the attributes they work
on, the tag attach, and the newest base class's ``_addTag`` on the roaming data.

``_addTag`` appends (no de-duplication) ``{name, relationship_type, local}`` to the attribute's
``Tag`` and ``_allTags`` in ``Event._AttributeFlattened`` and at its place in ``Event.Attribute``
or ``Event.Object[j].Attribute``, and to the ``_unfilteredData`` copies when filters are active.
A missing ``Tag`` starts as ``[]``; a missing ``_allTags`` is PHP's ``array_merge(null, ...)``
``TypeError`` (MISP's run ends), raised here as :class:`PhpTypeError` for the node to report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.attribute_copies import entries, json_copy
from misp_modules.lib.misp_edits import TagBook, attributes_of
from misp_modules.semantics import conditions, hashpath
from misp_modules.semantics.errors import PhpTypeError
from misp_modules.semantics.php import is_array, is_empty


def enrichment_attributes(req: NodeRequest) -> list[dict] | None:
    """The attributes these nodes go through: ``Event._AttributeFlattened.{n}`` of the node
    filter's matches (which normally hold no ``Event``: nothing) or, without a filter, of the
    whole data. None when the filter's selector cannot be extracted (MISP returns false)."""
    items = req.data
    if conditions.filters_enabled(req.saved_filters):
        items = conditions.matching_items(req.data, req.saved_filters)
        if items is False:
            return None
    if not is_array(items):
        return []
    return attributes_of(hashpath.extract(items, "Event._AttributeFlattened.{n}"))


def attach_to_attribute(book: TagBook, attribute: Mapping[str, Any], tags: list[str], local: bool,
                        event_uuid: Any) -> tuple[bool, list[str], list[dict]]:
    """``attachTagsToAttributeAndTouch(id, event_id, {tags, local, relationship_type: ''})``:
    ``(truthy result, names attached, changes)``. Not in the stored MISP texts; read as v2.5.1's
    ``attachTagsFromAttributeAndTouch``: true when every tag is attached or already there, a
    tag already attached is left as it is, a touch when something was attached."""
    held = {a["name"] for a in book.associations("attribute", attribute)}
    ok, changes = book.attach("attribute", attribute, tags, local, "", event_uuid)
    attached = [name for name in tags if name not in held]
    return ok, list(dict.fromkeys(attached)), changes


def add_tags(data: Any, attribute: Mapping[str, Any], names: Iterable[str], local: bool) -> Any:
    """``_addTag(tags, 'attribute', data, attribute)`` on a copy of ``data``."""
    tags = [{"name": name, "relationship_type": "", "local": local} for name in names]
    new = json_copy(data)
    if not isinstance(new, dict):
        return new
    ident = attribute.get("id")
    views = [new]
    unfiltered = new.get("_unfilteredData")
    if not is_empty(new.get("enabledFilters")) and isinstance(unfiltered, dict):
        views.append(unfiltered)
    for view in views:
        for copy in _copies(view, ident):
            copy["Tag"] = _merged(copy.get("Tag", []), tags, "Tag")
            copy["_allTags"] = _merged(copy.get("_allTags"), tags, "_allTags")
    return new


def _copies(view: dict, ident: Any) -> Iterator[dict]:
    """The flattened copy, then the nested one (the last of each with that id, as MISP's fast
    lookups keep the last index)."""
    event = view.get("Event") if isinstance(view.get("Event"), dict) else {}
    flat = [a for _, a in entries(event.get("_AttributeFlattened")) if isinstance(a, dict) and a.get("id") == ident]
    nested = [a for _, a in entries(event.get("Attribute")) if isinstance(a, dict) and a.get("id") == ident]
    for _, obj in entries(event.get("Object")):
        if isinstance(obj, dict):
            nested += [a for _, a in entries(obj.get("Attribute")) if isinstance(a, dict) and a.get("id") == ident]
    for found in (flat, nested):
        if found:
            yield found[-1]


def _merged(current: Any, tags: list[dict], key: str) -> list:
    if not is_array(current):
        raise PhpTypeError(f"array_merge(): Argument #1 ($array) must be of type array, the attribute's "
                           f"`{key}` is missing or not a list")
    return [item for _, item in entries(current)] + [dict(t) for t in tags]
