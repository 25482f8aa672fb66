"""MISP's "Tag attribute with CVE information" action (``tag_cve_from_enrichment``, v0.1, MISP
2.5.32; docs/misp-behaviour.md §16.10).

For each ``vulnerability`` attribute, GETs its CVE record from CIRCL vulnerability-lookup
(``[services] vulnerability_lookup``, default ``https://vulnerability.circl.lu``;
``misp_modules.lib.intel.vulnerability_lookup``), tags the attribute ``CVSS:<score>`` and
``misp:threat-level="high-risk|medium-risk|low-risk"`` (``CVSS:unknown`` /
``"unknown-risk"`` without a score; the TTP tag ``Vulnerabilities - T1588.006`` only when
``add_vulnerability_ttp`` is exactly ``yes`` -- its default ``'1'`` is not), and appends
``CVE Summary: <summary>`` to its comment. Tags and the comment edit are ``attach_tag``/``set``/
``touch`` changes, written through PyMISP when a MISP is configured.

MISP's quirks kept:

* the node extends MISP's webhook and runs its ``exec`` first: every run carries one error,
  ``URL not provided.`` (the node has no ``url``), or the arbitrary-URLs one when
  ``[modules.misp_webhook] rest_client_enable_arbitrary_urls`` (MISP's
  ``Security.rest_client_enable_arbitrary_urls``) is off, the default. The node still runs, and
  with a true result the error is listed but blocks nothing;
* an answer other than 200 adds ``Request failed with HTTP <code>: <body>`` and skips the
  attribute; an unknown CVE (``{}``) is tagged ``CVSS:unknown``/``unknown-risk`` and gets
  ``CVE Summary: No summary found``;
* the comment is appended once success is true *for any attribute so far*, and the data then
  returned is the data as read at the start plus the comment edits: the tags this run added to
  the roaming data are dropped from it (they are in MISP);
* with a node filter the attributes are ``Event._AttributeFlattened`` of the matches, which
  normally have none: nothing is done.

Deviations: an unreachable service or a timeout is the exception MISP's engine catches (node
error ``Error while executing module ...``); the changes made for earlier attributes are still
written to MISP. A failed answer's body is quoted up to 1000 characters (MISP: all of it).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import EMPTY_SELECTION, misp_crash, misp_exception, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.attribute_copies import AttributeIndex, json_copy
from misp_modules.lib.declaration import declare
from misp_modules.lib.http import OutboundError, shorten
from misp_modules.lib.intel.vulnerability_lookup import fetch_cve
from misp_modules.lib.misp_edits import TagBook, event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.lib.notify import webhook
from misp_modules.lib.roaming_tags import add_tags, attach_to_attribute, enrichment_attributes
from misp_modules.modules.action_mod.misp_webhook import arbitrary_urls_enabled
from misp_modules.semantics import php
from misp_modules.semantics.errors import SemanticsError

MODULE = "tag_cve_from_enrichment"
CVSS_KEYS = ("cvssV3_1", "cvssV4", "cvssV3", "cvssV2")
THREAT_HIGH, THREAT_MEDIUM = 7.0, 4.0
VULNERABILITY_TTP = 'misp-galaxy:mitre-attack-pattern="Vulnerabilities - T1588.006"'
NO_SUMMARY = "No summary found"
COMMENT_LIMIT = 65535
BODY_QUOTE_LIMIT = 1000

node = declare(
    misp_id=MODULE, module_type="action", name="Tag attribute with CVE information", version="0.1",
    support_filters=True, needs_stored_event=True, timeout=120,
    description="Tag an attribute based on CVE information extracted from CVE premium (not via an enrichment "
                "module). The CVSS score is used to create relevant tags, and the CVE summary is appended to "
                "the attribute comment.",
    params=[
        {"id": "locality", "label": "Tag locality", "type": "select",
         "options": {"local": "Local", "global": "Global"}, "default": "local"},
        {"id": "add_vulnerability_ttp", "label": "Add vulnerability TTP (T1588.006)", "type": "select",
         "default": "1", "options": {"no": "No", "yes": "Yes"}},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    webhook_error = webhook.NO_URL if arbitrary_urls_enabled() else webhook.ARBITRARY_URLS_OFF
    errors = [webhook_error, *node_params.problems(node.params, req.params)]
    try:
        attributes = enrichment_attributes(req)
    except SemanticsError as exc:
        return misp_crash(f"{MODULE}: MISP's run would end here (PHP error): {exc}", errors=errors)
    if attributes is None:
        return reply(False, errors=errors, changes=[])
    p = req.params
    local = p["locality"] == "local"
    book = TagBook(req.data, req.stored_event)
    event_uuid = event_of(req.data).get("uuid")
    read = json_copy(req.data)  # the data as read at the start: what the comment edits go into
    current, changes, success = req.data, [], False
    try:
        for attribute in attributes:
            if attribute.get("type") != "vulnerability" or php.is_empty(attribute.get("value")):
                continue
            answer = fetch_cve(php.to_string(attribute["value"]), MODULE)
            if answer.status != 200:
                errors.append(f"Request failed with HTTP {answer.status}: {shorten(answer.body, BODY_QUOTE_LIMIT)}")
                continue
            record = decode_record(answer.body)
            summary, score = cve_summary(record), cvss_score(record)
            ok, attached, more = attach_to_attribute(book, attribute, cve_tags(score, p["add_vulnerability_ttp"]),
                                                     local, event_uuid)
            changes += more
            if ok:
                current = add_tags(current, attribute, attached, local)
            success = success or ok
            comment = attribute.get("comment")
            if success and php_trim(summary) and "CVE Summary:" not in php.to_string(comment or ""):
                text = php_trim(f"{php.to_string(comment if comment is not None else '')} CVE Summary: {summary}")
                edited = {k: v for k, v in attribute.items() if k != "timestamp"}
                edited["comment"] = text[:COMMENT_LIMIT]
                changes += [ch.set_field("attribute", attribute.get("uuid"), "comment", edited["comment"]),
                            ch.touch("attribute", attribute.get("uuid"), event_uuid=event_uuid)]
                read = override(read, attribute, edited)
                current = read
    except OutboundError as exc:
        written, failure = write_back(changes, dry_run=req.dry_run, action=MODULE)
        if failure is not None:
            return reply(False, errors=[*errors, str(exc), failure], changes=written)
        return {**misp_exception(str(exc)), "errors": errors, "changes": written}
    except SemanticsError as exc:
        return misp_crash(f"{MODULE}: MISP's run would end here (PHP error): {exc}", errors=errors)
    changes, failure = write_back(changes, dry_run=req.dry_run, action=MODULE)
    if failure is not None:
        return reply(False, errors=[*errors, failure], changes=changes)
    warnings = [] if success or attributes else [EMPTY_SELECTION]
    return reply(success, errors=errors, data=current if current is not req.data else None, changes=changes,
                 warnings=warnings)


def decode_record(body: str) -> Any:
    """MISP's reading of the body: JSON; failing that, the text unwrapped from double quotes
    (``\\"`` to ``"``, backslashes stripped), then its first line starting with ``{`` that is
    JSON, then the cleaned text as JSON, else ``{}``."""
    try:
        return php.loads(body)
    except ValueError:
        pass
    clean = php_trim(body)
    if len(clean) >= 2 and clean[0] == '"' and clean[-1] == '"':
        clean = _stripslashes(clean[1:-1].replace('\\"', '"'))
    for line in clean.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = php_trim(line)
        if line.startswith("{"):
            try:
                return php.loads(line)
            except ValueError:
                continue
    try:
        decoded = php.loads(clean)
    except ValueError:
        decoded = None
    return decoded if php.truthy(decoded) else {}


def cve_summary(record: Any) -> str:
    """The first English description (``lang``/``language`` ``en``, ``eng``, ``en-*``), else the
    first description, else ``No summary found``."""
    cna = _dig(record, "containers", "cna")
    descriptions: list[Any] = []
    for found in (_dig(cna, "descriptions"), _dig(record, "description", "description_data")):
        if isinstance(found, (list, dict)):
            descriptions += php.array_values(found)
    single = _dig(cna, "description")
    if isinstance(single, (list, dict)):
        descriptions += php.array_values(single)
    elif isinstance(single, str) and single != "":
        descriptions.append({"value": single})
    legacy = _dig(record, "x_legacyV4Record", "description", "description_data")
    if not descriptions and isinstance(legacy, (list, dict)):
        descriptions = php.array_values(legacy)
    for item in descriptions:
        if not isinstance(item, dict):
            continue
        lang = php_trim(php.to_string(_first_set(item, "lang", "language", default=""))).lower()
        value = _first_set(item, "value", "description")
        if value is None:
            continue
        if lang in ("en", "eng") or lang.startswith("en"):
            return php_trim(php.to_string(value))
    if descriptions:
        first = descriptions[0]
        fallback = _first_set(first, "value", "description", default=NO_SUMMARY) if isinstance(first, dict) else NO_SUMMARY
        return php_trim(php.to_string(fallback))
    return NO_SUMMARY


def cvss_score(record: Any) -> Any:
    """The first ``baseScore`` under ``containers.cna.metrics[*][key]`` (keys in MISP's order,
    metric by metric), else under ``containers.adp[*].metrics[*][key]``; None when none."""
    containers = _dig(record, "containers")
    holders = [_dig(containers, "cna")]
    adp = _dig(containers, "adp")
    holders += php.array_values(adp) if isinstance(adp, (list, dict)) else []
    for holder in holders:
        metrics = _dig(holder, "metrics")
        for metric in php.array_values(metrics) if isinstance(metrics, (list, dict)) else []:
            for key in CVSS_KEYS:
                score = _dig(metric, key, "baseScore")
                if score is not None:
                    return score
    return None


def cve_tags(score: Any, ttp: Any) -> list[str]:
    tags = [VULNERABILITY_TTP] if ttp == "yes" else []
    if php.is_numeric(score):
        number = float(php.to_number(score))
        level = "high-risk" if number >= THREAT_HIGH else "medium-risk" if number >= THREAT_MEDIUM else "low-risk"
        tags += [f"CVSS:{php.to_string(score)}", f'misp:threat-level="{level}"']
    else:
        tags += ["CVSS:unknown", 'misp:threat-level="unknown-risk"']
    return list(dict.fromkeys(tags))


def override(data: Any, old: dict, new: dict) -> Any:
    """The newest base class's ``_overrideAttribute``: the attribute's copies in the data and, when
    filters are active, in ``_unfilteredData``."""
    if not isinstance(data, dict):
        return data
    AttributeIndex(data).override(old, new)
    unfiltered = data.get("_unfilteredData")
    if not php.is_empty(data.get("enabledFilters")) and isinstance(unfiltered, dict):
        AttributeIndex(unfiltered).override(old, new)
    return data


def php_trim(text: str) -> str:
    return text.strip(" \t\n\r\0\x0b")


def _stripslashes(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append("\0" if text[i + 1] == "0" else text[i + 1])
            i += 2
        elif text[i] == "\\":
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _first_set(item: dict, *keys: str, default: Any = None) -> Any:
    """PHP's ``$a[k1] ?? $a[k2] ?? default``."""
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return default

