"""Tag network indicators whose AS ranks among the most malicious in CIRCL BGP Ranking.

The seed's "attach tag on attribute having a low value (<50) in BGP Ranking", as one workflow
action over a whole event: every ``AS`` attribute, and every IP attribute (``ip-src``,
``ip-dst``, ``ip-src|port``, ``ip-dst|port``, ``domain|ip``) resolved to its announcing AS with IP
ASN History, is ranked with yesterday's BGP Ranking. Distinct IPs and ASes are looked up once
each, concurrently with a bound (``[modules.bgpranking] parallel_requests``), and cached.

An attribute whose AS has a ``position`` below ``threshold`` (position 1 = the most malicious
AS of the day; the blueprint's ``[value<50]``) gets ``tag``. Tags are reported as changes only
(MISP's tag actions never edit the roaming data) and applied to MISP through PyMISP when a MISP
connection is configured and the run is not a dry run.

Errors: a failing service (down, HTTP 5xx, rate limited, timeout) fails the whole node and tags
nothing. Values that cannot be ranked do not stop the others: a malformed AS number or IP, an IP
without routing history, an AS unknown to BGP Ranking are listed in ``notes`` with the attribute
uuid (and logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import ParamError
from misp_modules.lib.attribute_copies import target_attributes
from misp_modules.lib.declaration import DRY_RUN_PARAM, declare_action, param
from misp_modules.lib.intel import bgpranking
from misp_modules.lib.intel.bgpranking import parse_asn, parse_ip
from misp_modules.lib.intel.errors import IntelError, LookupIssue
from misp_modules.lib.misp_edits import TagBook, event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.lib.notify.action import ActionRequest
from misp_modules.settings import SettingsError, get_settings

MODULE = "bgpranking_curation"
DEFAULT_TAG = 'adversary:infrastructure-state="active"'
DEFAULT_THRESHOLD = 50
log = logging.getLogger(f"misp-modules.{MODULE}")

IP_TYPES = ("ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip")

node = declare_action(
    module=MODULE, name="BGP Ranking curation", version="1.0",
    description="Tag AS numbers and IP addresses whose autonomous system ranks below a threshold in CIRCL "
                "BGP Ranking (position 1 = most malicious AS of the day). IPs are resolved to their AS with "
                "CIRCL IP ASN History. Service failures fail the node without tagging anything; values "
                "that cannot be ranked are listed in the answer's notes and skipped.",
    logo="circl.png",
    requirements=["pybgpranking2", "pyipasnhistory",
                  "a MISP URL and API key to apply the changes (else they are reported)"],
    features="Attribute types AS, ip-src, ip-dst, ip-src|port, ip-dst|port, domain|ip. Each distinct IP and "
             "AS is looked up once, concurrently (bounded), with yesterday's ranking.",
    references=["https://github.com/D4-project/BGP-Ranking/", "https://github.com/D4-project/IPASN-History"],
    input="Workflow roaming data (an event in MISP core format), filtered items when node filters are set",
    output="A tag on attributes of badly ranked autonomous systems",
    expect_misp_core_format=True,
    params={
        "threshold": param("string", f"Tag when the AS position is below this (empty: {DEFAULT_THRESHOLD}, "
                                     "or the [modules.bgpranking_curation] threshold setting)",
                           str(DEFAULT_THRESHOLD)),
        "tag": param("string", f"Tag to attach (empty: {DEFAULT_TAG}, or the tag setting)", DEFAULT_TAG),
        "tag_locality": param("string", "local or global (empty: local)", "local"),
        "dry_run": DRY_RUN_PARAM,
    },
)


@node.handler
def dict_handler(req: ActionRequest) -> dict[str, Any]:
    threshold, tag, local = curation_params(req)
    dry_run = req.dry_run  # checked before any lookup
    data = req.data if isinstance(req.data, dict) else {}
    notes: list[dict] = []

    def note(attribute: Mapping[str, Any], issue: Exception) -> None:
        notes.append({"uuid": attribute.get("uuid"), "value": attribute.get("value"), "note": str(issue)})

    # attribute → (asn, address family) or an IP still to resolve
    wanted: list[tuple[dict, Any]] = []
    for attribute in target_attributes(data, req.raw.get("filteredItems")):
        kind = attribute.get("type")
        try:
            if kind == "AS":
                wanted.append((attribute, (parse_asn(attribute.get("value")), "v4")))
            elif kind in IP_TYPES:
                wanted.append((attribute, parse_ip(ip_part(attribute))))
        except LookupIssue as issue:
            note(attribute, issue)
    try:
        client = bgpranking.get_client()
        origins = client.origins(key for _, key in wanted if isinstance(key, str))
        ranked: list[tuple[dict, tuple[int, str]]] = []
        for attribute, key in wanted:
            origin = origins.get(key) if isinstance(key, str) else None
            if isinstance(origin, LookupIssue):
                note(attribute, origin)
            elif origin is not None:
                ranked.append((attribute, (origin.asn, "v6" if ":" in origin.ip else "v4")))
            else:
                ranked.append((attribute, key))
        rankings = client.rankings(pair for _, pair in ranked)
    except (IntelError, SettingsError) as exc:  # a deployment setting the module cannot use
        log.warning("%s: nothing tagged: %s", MODULE, exc)
        return reply(False, errors=[str(exc)])

    changes: list[dict] = []
    book = TagBook(data)  # a tag already on the attribute is no change, as in MISP
    event_uuid = event_of(data).get("uuid")
    for attribute, pair in ranked:
        ranking = rankings[pair]
        if isinstance(ranking, LookupIssue):
            note(attribute, ranking)
        elif ranking.position is not None and ranking.position < threshold:
            changes += book.attach("attribute", attribute, [tag], local, None, event_uuid)[1]
    for item in notes:
        log.info("%s: skipped %s: %s", MODULE, item["uuid"], item["note"])
    changes, failure = write_back(changes, dry_run=dry_run, action=MODULE)
    if failure is not None:
        return reply(False, errors=[failure], changes=changes, notes=notes)
    return reply(True, **({"dry_run": True} if dry_run else {}), changes=changes, notes=notes)


def curation_params(req: ActionRequest) -> tuple[int, str, bool]:
    settings = get_settings()
    raw = req.get("threshold") or str(settings.module_setting(MODULE, "threshold", DEFAULT_THRESHOLD))
    try:
        threshold = int(raw)
    except ValueError:
        raise ParamError(f"param `threshold`: expected a positive integer (an AS position), got {raw!r}") from None
    if threshold < 1:
        raise ParamError(f"param `threshold`: expected a positive integer (an AS position), got {threshold}")
    tag = req.get("tag") or settings.module_setting(MODULE, "tag", DEFAULT_TAG)
    locality = req.choice("tag_locality", ("local", "global"),
                          str(settings.module_setting(MODULE, "tag_locality", "local")))
    return threshold, tag, locality == "local"


def ip_part(attribute: Mapping[str, Any]) -> Any:
    """The IP of ``ip-src``/``ip-dst`` (before ``|port``) or ``domain|ip`` (after the domain)."""
    value = attribute.get("value")
    if not isinstance(value, str) or "|" not in attribute.get("type", ""):
        return value
    domain_first = attribute["type"] == "domain|ip"
    return value.split("|", 1)[1] if domain_first else value.rsplit("|", 1)[0]
