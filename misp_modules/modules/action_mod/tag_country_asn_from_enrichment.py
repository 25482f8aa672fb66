"""MISP's "Tag attribute with country and ASN" action (``tag_country_asn_from_enrichment``, v0.1,
MISP 2.5.32; docs/misp-behaviour.md §16.9).

Reads each attribute's ``enrichment`` (what earlier enrichment nodes appended, MISP format) and
tags the attribute ``country:"<COUNTRY>"``, ``asn_number:"<digits>"``, ``asn_org:"<org>"`` and
``country_code:"<code>"`` -- each only when its value is not PHP-``empty`` (``"0"`` counts as
empty). The attach is MISP's (``attach_tag`` + ``touch`` changes, written through PyMISP when a
MISP is configured; a tag already attached is kept); the attached tags are also appended to
the attribute's ``Tag``/``_allTags`` in the returned roaming data (the newest base class's
``_addTag``, no de-duplication). True when any attach succeeded; no error strings.

Quirk kept: with a node filter the attributes are ``Event._AttributeFlattened`` *of the
matches*, which normally have no ``Event``: such a node tags nothing and fails.
"""

from __future__ import annotations

import re
from typing import Any

from misp_modules.contract.reply import EMPTY_SELECTION, misp_crash, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import TagBook, event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.lib.roaming_tags import add_tags, attach_to_attribute, enrichment_attributes
from misp_modules.semantics import hashpath
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty

MODULE = "tag_country_asn_from_enrichment"

node = declare(
    misp_id=MODULE, module_type="action", name="Tag attribute with country and ASN", version="0.1",
    support_filters=True, needs_stored_event=True,
    description="Tag attributes based on country and ASN information extracted from enrichment data.",
    params=[
        {"id": "locality", "label": "Tag Locality", "type": "select",
         "options": {"local": "Local", "global": "Global"}, "default": "local"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    errors = node_params.problems(node.params, req.params)
    try:
        attributes = enrichment_attributes(req)
    except SemanticsError as exc:
        return misp_crash(f"{MODULE}: MISP's run would end here (PHP error): {exc}", errors=errors)
    if attributes is None:
        return reply(False, errors=errors, changes=[])
    local = req.params["locality"] == "local"
    book = TagBook(req.data, req.stored_event)
    event_uuid = event_of(req.data).get("uuid")
    data, changes, success = req.data, [], False
    try:
        for attribute in attributes:
            tags = country_asn_tags(attribute)
            if not tags:
                continue
            ok, attached, more = attach_to_attribute(book, attribute, tags, local, event_uuid)
            changes += more
            if ok:
                data = add_tags(data, attribute, attached, local)
            success = success or ok
    except SemanticsError as exc:
        return misp_crash(f"{MODULE}: MISP's run would end here (PHP error): {exc}", errors=errors)
    changes, failure = write_back(changes, dry_run=req.dry_run, action=MODULE)
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    warnings = [] if success or attributes else [EMPTY_SELECTION]
    return reply(success, errors=errors, data=data if data is not req.data else None, changes=changes,
                 warnings=warnings)


def country_asn_tags(attribute: dict) -> list[str]:
    """The tags MISP derives from the attribute's enrichment, in MISP's order, de-duplicated."""
    def values(relation: str, where: str = "both") -> list[Any]:
        found = []
        if where in ("both", "objects"):
            found.append(_extract(attribute, f"enrichment.{{n}}.Object.{{n}}.Attribute.{{n}}[object_relation={relation}].value"))
        if where in ("both", "attributes"):
            found.append(_extract(attribute, f"enrichment.{{n}}.Attribute.{{n}}[object_relation={relation}].value"))
        return found

    country = php_trim(first_non_empty(values("country")) or "")
    country_code = first_non_empty(values("countrycode"))
    asn = first_non_empty([*values("asn"), *values("ASN", "objects")])
    match = re.search(r"\d+", asn, re.A) if not is_empty(asn) and asn is not None else None
    asn = match.group(0) if match else None
    org = first_non_empty(values("ASNOrganization"))
    if is_empty(org):
        descriptions = values("description", "objects")[0] or values("description", "attributes")[0]
        org = organisation_from(descriptions) or org
    tags = []
    if not is_empty(country):
        tags.append(f'country:"{ascii_upper(country)}"')
    if not is_empty(asn):
        tags.append(f'asn_number:"{asn}"')
    if not is_empty(org):
        tags.append('asn_org:"' + str(org).replace('"', "'") + '"')
    if not is_empty(country_code):
        tags.append(f'country_code:"{country_code}"')
    return list(dict.fromkeys(tags))


# MISP's two patterns for an organisation inside a description (PCRE without /u: ASCII classes)
ORG_NAMED = re.compile(r'ASNOrganization\s*[:\-]?\s*"?([A-Za-z0-9\-\._\s]+?)"?(\.|$)', re.I | re.A)
ORG_AFTER_ASN = re.compile(r"\bASN(?:Organization|Org)?\b.*?([A-Z][A-Za-z0-9\-\._\s]+)", re.I | re.A)


def organisation_from(descriptions: list[Any]) -> str | None:
    for text in descriptions:
        if not isinstance(text, str) or text.strip() == "":
            continue
        for pattern in (ORG_NAMED, ORG_AFTER_ASN):
            found = pattern.search(text)
            if found:
                return php_trim(found.group(1))
    return None


def first_non_empty(lists: list[list[Any]]) -> str | None:
    """``firstNonEmpty``: the first string that is not blank, trimmed."""
    for values in lists:
        for value in values:
            if isinstance(value, str) and php_trim(value) != "":
                return php_trim(value)
    return None


def php_trim(text: str) -> str:
    """PHP's ``trim``: spaces, tabs, newlines, NUL and vertical tab only."""
    return text.strip(" \t\n\r\0\x0b")


def ascii_upper(text: str) -> str:
    """PHP 8's ``strtoupper``: ASCII letters only."""
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)


def _extract(attribute: dict, path: str) -> list[Any]:
    found = hashpath.extract(attribute, path)
    return found if isinstance(found, list) else list(found.values()) if isinstance(found, dict) else []
