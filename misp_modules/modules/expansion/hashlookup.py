"""CIRCL hashlookup expansion: is this file hash part of a known set (NSRL, OS packages, ...)?

Same name, input and answer as upstream misp-modules' ``hashlookup``, so MISP's enrichment menu,
hover and the workflow blueprints that filter on
``enrichment.{n}.Object.{n}.Attribute.{n}[object_relation=FileName].type == "filename"`` work
unchanged: the ``hashlookup`` object comes first and keeps relation ``FileName`` typed
``filename``. One lookup per call; the ``hashlookup_curation`` action does whole events in bulk.

Errors (one attribute per call, so every problem is the call's ``error``): unsupported type
"md5 or sha1 or sha256 is missing." and unknown hash "Non existing hash" (upstream's wording,
which the blueprints' filters rely on by not matching), malformed hash (checked before any
request), service down / HTTP 5xx / rate limited / timeout / garbage answer, each named.
"""

from __future__ import annotations

from typing import Any

from pymisp import MISPObject

from misp_modules.lib.intel import hashlookup
from misp_modules.lib.intel.errors import IntelError
from misp_modules.lib.intel.expansion import STANDARD_ERROR, input_attribute, misp_results, module_config
from misp_modules.settings import SettingsError

misperrors = {"error": "Error"}
mispattributes = {"input": ["md5", "sha1", "sha256"], "format": "misp_standard"}
moduleinfo = {
    "version": "2",
    "author": "Alexandre Dulaunoy (upstream), misp-modules-ng",
    "description": "An expansion module to query the CIRCL hashlookup services to find it if a hash is part "
                   "of a known set such as NSRL.",
    "module-type": ["expansion", "hover"],
    "name": "CIRCL Hashlookup Lookup",
    "logo": "circl.png",
    "requirements": ["pyhashlookup"],
    "features": "The module takes a file hash (MD5, SHA-1, SHA-256) and queries CIRCL hashlookup (or the "
                "instance set in custom_API / [services] hashlookup). A known hash returns a hashlookup "
                "object (hashes, FileName, FileSize, source, KnownMalicious when present) related to the "
                "input attribute; an unknown hash returns the error 'Non existing hash'.",
    "references": ["https://www.circl.lu/services/hashlookup/"],
    "input": "File hashes (MD5, SHA-1, SHA-256)",
    "output": "Object with the filename associated hashes if the hash is part of a known set.",
}
moduleconfig = ["custom_API"]

# record field → (object relation, MISP attribute type), in upstream's order; SHA-1 always present
OBJECT_FIELDS = (
    ("source", "source", "text"),
    ("KnownMalicious", "KnownMalicious", "text"),
    ("MD5", "MD5", "md5"),
    ("SHA-1", "SHA-1", "sha1"),
    ("SHA-256", "SHA-256", "sha256"),
    ("SSDEEP", "SSDEEP", "ssdeep"),
    ("TLSH", "TLSH", "tlsh"),
    ("FileName", "FileName", "filename"),
    ("FileSize", "FileSize", "size-in-bytes"),
)


def dict_handler(request: dict[str, Any]) -> dict[str, Any]:
    attribute = input_attribute(request)
    if attribute is None:
        return {"error": STANDARD_ERROR}
    if attribute["type"] not in mispattributes["input"]:
        return {"error": "md5 or sha1 or sha256 is missing."}
    custom_api = module_config(request).get("custom_API")
    try:
        client = hashlookup.get_client(custom_api if isinstance(custom_api, str) and custom_api else None)
        record = client.lookup(attribute["type"], attribute["value"])
    except (IntelError, SettingsError) as exc:  # a deployment setting the module cannot use
        return {"error": str(exc)}
    if record is None:
        return {"error": "Non existing hash"}
    if not record or "SHA-1" not in record:
        return {"error": "Empty result"}
    return {"results": misp_results(attribute, [hashlookup_object(record, attribute["uuid"])])}


def hashlookup_object(record: dict[str, Any], attribute_uuid: str) -> MISPObject:
    obj = MISPObject("hashlookup")
    for field, relation, misp_type in OBJECT_FIELDS:
        if record.get(field) not in (None, ""):
            obj.add_attribute(relation, type=misp_type, value=str(record[field]))
    obj.add_reference(attribute_uuid, "related-to")
    return obj


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    moduleinfo["config"] = moduleconfig
    return moduleinfo
