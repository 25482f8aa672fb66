"""CIRCL BGP Ranking expansion: how malicious is the AS behind this AS number or IP address?

Restores the ``bgpranking`` module upstream misp-modules removed in 2024, with its answer shape
(docs/external-services.md §5.5), so MISP's "Set tag based on BGP Ranking maliciousness level" blueprint works:
an ``asn`` object (``asn``, ``description``, ``country``; ``subnet-announced`` for an IP) and a
``bgp-ranking`` object whose ``position`` attribute (type ``float``, 1 = most malicious AS of the
day) is what ``...[name=bgp-ranking].Attribute.{n}[object_relation=position][value<50]`` tests.
``position`` is left out when BGP Ranking did not rank the AS that day (no false "< 50").

Extension: ``ip-src`` / ``ip-dst`` are resolved to their announcing AS through IP ASN History
(latest routing snapshot) first. Rankings are for yesterday (UTC), computed per query.

Errors (one attribute per call, so every problem is the call's ``error``): unsupported type,
malformed AS number or IP, IP with no routing history, AS unknown to BGP Ranking ("There is no
result about this ASN in BGP Ranking", upstream's wording), service down / HTTP 5xx / rate
limited / timeout / garbage answer, each naming the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymisp import MISPObject

from misp_modules.lib.intel import bgpranking
from misp_modules.lib.intel.bgpranking import AsnOrigin, AsnRanking
from misp_modules.lib.intel.errors import IntelError, NotFound
from misp_modules.lib.intel.expansion import STANDARD_ERROR, input_attribute, misp_results
from misp_modules.settings import SettingsError

misperrors = {"error": "Error"}
mispattributes = {"input": ["AS", "ip-src", "ip-dst"], "format": "misp_standard"}
moduleinfo = {
    "version": "0.2",
    "author": "Raphaël Vinot (upstream), misp-modules-ng",
    "description": "Query BGP Ranking to get the ranking of an Autonomous System number.",
    "module-type": ["expansion", "hover"],
    "name": "BGP Ranking",
    "logo": "",
    "requirements": ["pybgpranking2", "pyipasnhistory"],
    "features": "The module takes an AS number (or an IP address, resolved to the AS announcing it with "
                "CIRCL IP ASN History) and returns an asn object and a bgp-ranking object with yesterday's "
                "ranking, position (1 = most malicious) and date from CIRCL BGP Ranking.",
    "references": ["https://github.com/D4-project/BGP-Ranking/", "https://bgpranking-ng.circl.lu/"],
    "input": "Autonomous system number, or an IP address (ip-src, ip-dst).",
    "output": "An asn object with its description and country, and a bgp-ranking object.",
}
moduleconfig: list[str] = []


def dict_handler(request: dict[str, Any]) -> dict[str, Any]:
    attribute = input_attribute(request)
    if attribute is None:
        return {"error": STANDARD_ERROR}
    if attribute["type"] not in mispattributes["input"]:
        return {"error": "Unsupported attribute type."}
    origin: AsnOrigin | None = None
    try:
        client = bgpranking.get_client()
        if attribute["type"] == "AS":
            ranking = client.ranking(attribute["value"])
        else:
            origin, ranking = client.rank_ip(attribute["value"])
    except NotFound as exc:
        if attribute["type"] == "AS":
            return {"error": "There is no result about this ASN in BGP Ranking"}
        return {"error": str(exc)}
    except (IntelError, SettingsError) as exc:  # a deployment setting the module cannot use
        return {"error": str(exc)}
    asn_obj, ranking_obj = asn_object(ranking, origin), ranking_object(ranking)
    asn_obj.add_reference(attribute["uuid"], "describes" if origin is None else "related-to")
    asn_obj.add_reference(ranking_obj.uuid, "ranked-with")
    return {"results": misp_results(attribute, [asn_obj, ranking_obj])}


def asn_object(ranking: AsnRanking, origin: AsnOrigin | None) -> MISPObject:
    obj = MISPObject("asn")
    obj.add_attribute("asn", type="AS", value=str(ranking.asn))
    obj.add_attribute("description", type="text", value=ranking.name)
    if ranking.country:
        obj.add_attribute("country", type="text", value=ranking.country)
    if origin is not None and origin.prefix:
        obj.add_attribute("subnet-announced", type="ip-src", value=origin.prefix)
    return obj


def ranking_object(ranking: AsnRanking) -> MISPObject:
    obj = MISPObject("bgp-ranking")
    obj.add_attribute("ranking", type="float", value=ranking.rank)
    if ranking.position is not None:
        obj.add_attribute("position", type="float", value=ranking.position)
    try:
        day: Any = datetime.strptime(ranking.date[:10], "%Y-%m-%d")
    except ValueError:  # an odd date echoed by a mirror: keep it as the service wrote it
        day = ranking.date
    obj.add_attribute("date", type="datetime", value=day)
    obj.add_attribute("address-family", type="text", value=ranking.address_family)
    return obj


def introspection() -> dict[str, Any]:
    return mispattributes


def version() -> dict[str, Any]:
    moduleinfo["config"] = moduleconfig
    return moduleinfo
