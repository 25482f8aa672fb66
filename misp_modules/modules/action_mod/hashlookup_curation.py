"""Curate file hashes known to CIRCL hashlookup: known-good files lose their IDS flag and get a tag.

The seed's "remove to_ids flag for attribute having a match in hashlookup", as one workflow
action over a whole event. All hash attributes of the data (or of ``filteredItems``) are looked
up together through hashlookup's bulk endpoints (MD5, SHA-1; SHA-256 has none and goes through
bounded concurrent lookups), instead of one request per attribute as ``attach-enrichment`` with
the ``hashlookup`` expansion does.

A file is known-good when hashlookup knows it, does not flag it ``KnownMalicious`` and its
``hashlookup:trust`` is at least ``minimum_trust``. For each known-good attribute:
``to_ids`` is set to false (in the returned roaming data, both copies, and as a ``set`` change)
when it was true, and ``tag`` is attached (a change only: MISP's tag actions never edit the
roaming data). Changes are applied to MISP through PyMISP when a MISP connection is configured
(and the run is not a dry run), otherwise reported for the runner.

Errors: the service down / HTTP 5xx / rate limited / timing out fails the whole node
(``error``) and changes nothing, because a half-curated event cannot be told from a curated
one. A malformed hash does not stop the others: it is listed in ``notes`` (with the attribute
uuid) and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import ParamError
from misp_modules.lib.attribute_copies import AttributeIndex, json_copy, target_attributes
from misp_modules.lib.declaration import DRY_RUN_PARAM, declare_action, param
from misp_modules.lib.intel import hashlookup
from misp_modules.lib.intel.errors import IntelError, InvalidValue
from misp_modules.lib.misp_edits import TagBook, event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.lib.notify.action import ActionRequest
from misp_modules.semantics.php import flag
from misp_modules.settings import SettingsError, get_settings

MODULE = "hashlookup_curation"
DEFAULT_TAG = 'misp-workflow:analysis="known-file-hash"'
log = logging.getLogger(f"misp-modules.{MODULE}")

# attribute type → the hash algorithm of its (last) value part
HASH_TYPES = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "filename|md5": "md5",
              "filename|sha1": "sha1", "filename|sha256": "sha256", "malware-sample": "md5"}

node = declare_action(
    module=MODULE, name="Hashlookup curation", version="1.0",
    description="Remove the IDS flag from file hashes CIRCL hashlookup knows as legitimate (NSRL and "
                "other known-file sets) and tag them. Looks up all hashes of the event at once (bulk). "
                "Service failures fail the node without changing anything; malformed hashes are "
                "listed in the answer's notes and skipped.",
    logo="circl.png",
    requirements=["pyhashlookup", "a MISP URL and API key to apply the changes (else they are reported)"],
    features="Attribute types md5, sha1, sha256, filename|md5, filename|sha1, filename|sha256, "
             "malware-sample. Files flagged KnownMalicious, or below the minimum trust, are left alone.",
    references=["https://www.circl.lu/services/hashlookup/"],
    input="Workflow roaming data (an event in MISP core format), filtered items when node filters are set",
    output="to_ids=false and a tag on known-good file hashes",
    expect_misp_core_format=True,
    params={
        "tag": param("string", f"Tag attached to known-good files (empty: {DEFAULT_TAG}, or the "
                               "[modules.hashlookup_curation] tag setting)", DEFAULT_TAG),
        "tag_locality": param("string", "local or global (empty: local)", "local"),
        "minimum_trust": param("string", "Minimum hashlookup:trust (0-100; 50 means no opinion) for a file to "
                                         "count as known-good (empty: 0, any known file)", "0"),
        "dry_run": DRY_RUN_PARAM,
    },
)


@node.handler
def dict_handler(req: ActionRequest) -> dict[str, Any]:
    tag, local, minimum_trust = curation_params(req)
    dry_run = req.dry_run  # checked before any lookup
    data = json_copy(req.data) if isinstance(req.data, dict) else {}
    targets = [(a, HASH_TYPES[a.get("type")]) for a in target_attributes(data, req.raw.get("filteredItems"))
               if a.get("type") in HASH_TYPES]
    pairs = [(algo, hash_part(a)) for a, algo in targets]
    try:
        answers = hashlookup.get_client().lookup_many(pairs)
    except (IntelError, SettingsError) as exc:  # a deployment setting the module cannot use
        log.warning("%s: nothing curated: %s", MODULE, exc)
        return reply(False, errors=[str(exc)])

    index = AttributeIndex(data)
    book = TagBook(data)
    changes: list[dict] = []
    notes: list[dict] = []
    data_changed = False
    for (attribute, _algo), pair in zip(targets, pairs):
        answer = answers[pair]
        if isinstance(answer, InvalidValue):
            notes.append({"uuid": attribute.get("uuid"), "value": attribute.get("value"), "note": str(answer)})
            continue
        if not known_good(answer, minimum_trust):
            continue
        uuid = attribute.get("uuid")
        edits = []
        if flag(attribute.get("to_ids")):
            index.override(attribute, {**attribute, "to_ids": False})
            edits.append(ch.set_field("attribute", uuid, "to_ids", False))
            data_changed = True
        if tag:  # a tag already on the attribute is no change (MISP's attachTagsToAttributeAndTouch)
            edits += [c for c in book.attach("attribute", attribute, [tag], local, None)[1] if c["op"] != "touch"]
        if edits:  # MISP touches what it changed: new timestamp, event unpublished
            changes += edits + [ch.touch("attribute", uuid, event_uuid=event_of(data).get("uuid"))]
    for note in notes:
        log.info("%s: skipped %s: %s", MODULE, note["uuid"], note["note"])
    changes, failure = write_back(changes, dry_run=dry_run, action=MODULE)
    if failure is not None:
        return reply(False, errors=[failure], changes=changes, notes=notes)
    return reply(True, **({"dry_run": True} if dry_run else {}), data=data if data_changed else None, changes=changes, notes=notes)


def curation_params(req: ActionRequest) -> tuple[str, bool, int]:
    settings = get_settings()
    tag = req.get("tag") or settings.module_setting(MODULE, "tag", DEFAULT_TAG)
    locality = req.choice("tag_locality", ("local", "global"),
                          str(settings.module_setting(MODULE, "tag_locality", "local")))
    raw_trust = req.get("minimum_trust") or str(settings.module_setting(MODULE, "minimum_trust", 0))
    try:
        minimum_trust = int(raw_trust)
    except ValueError:
        raise ParamError(f"param `minimum_trust`: expected an integer from 0 to 100, got {raw_trust!r}") from None
    if not 0 <= minimum_trust <= 100:
        raise ParamError(f"param `minimum_trust`: expected an integer from 0 to 100, got {minimum_trust}")
    return tag, locality == "local", minimum_trust


def hash_part(attribute: Mapping[str, Any]) -> str:
    """The hash of a hash attribute (the part after ``|`` for filename|hash types)."""
    value = attribute.get("value")
    value = value if isinstance(value, str) else ""
    return value.rsplit("|", 1)[-1] if "|" in attribute.get("type", "") or attribute.get("type") == "malware-sample" else value


def known_good(record: Any, minimum_trust: int) -> bool:
    if not isinstance(record, Mapping) or not record or record.get("KnownMalicious"):
        return False
    try:
        trust = int(record.get("hashlookup:trust", 50))
    except (TypeError, ValueError):
        trust = 50
    return trust >= minimum_trust
