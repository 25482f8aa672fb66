"""MISP's "Enrich Event" node (``enrich-event``, v0.2), offline.

MISP runs its event enrichment: every attribute of the stored event (restricted to the node
filter's matches, when the filter matches any) whose type the selected module accepts is sent
to the module (``module``, ``event_id``, ``attribute_uuid``, ``config`` when the module has
settings, and ``attribute`` -- or ``{<type>: <value>}`` for modules without
``mispattributes.format``), and the results are saved in the event as new attributes and objects.

Here the results become ``add_attribute`` / ``add_object`` changes (docs/contract.md §4):
applied to MISP through PyMISP when a MISP connection is configured and the run is not a dry
run, else folded by the runner into its stored-event view. Attributes of a misp_standard answer
that are already in the event (the echoed input attribute) are not added again; simplified
answers (``{"types", "values"}``) add one attribute per value (first type, first category);
``freetext`` results (which MISP runs through its free-text import) are skipped with a note.
Modules are found as for ``attach-enrichment`` (this server, or ``[modules.enrich_event]
forward_url``).

Decisions where MISP crashes or misreports (documented in the README):

- MISP replaces the roaming data with the re-fetched event *without* converting it to core
  format (docs/misp-behaviour.md §15.8: attributes become top-level siblings, ``_AttributeFlattened`` is gone, so
  every later filter finds nothing). Here the new roaming data is the stored event with the
  enrichment added, **converted** to core format, as ``reload-full-event`` gives it.
- An error answer makes MISP's enrichment throw ("Invalid response received from module"),
  after saving the results of the attributes before it. Here the node fails with that message
  and reports the changes made up to that attribute; the roaming data is not replaced.
- A module that is not available is a clear node error (MISP counts 0 attributes added).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.attribute_copies import json_copy
from misp_modules.lib.declaration import declare
from misp_modules.lib.enrichers import Enrichers, ForwardError, module_options, supported
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions, hashpath
from misp_modules.semantics.convert import to_core_format
from misp_modules.semantics.php import is_empty, iter_items
from misp_modules.settings import get_settings

MODULE = "enrich_event"
log = logging.getLogger(f"misp-modules.{MODULE}")

node = declare(
    misp_id="enrich-event", module_type="action", name="Enrich Event", version="0.2",
    support_filters=True, expect_misp_core_format=True, needs_stored_event=True,
    description="Enrich all Attributes contained in the Event with the provided module.",
    features="Results are reported as add_attribute/add_object changes (applied through PyMISP when MISP "
             "is configured); the new roaming data is the enriched event in MISP core format.",
    timeout=600.0,  # a whole event, attribute by attribute: the runner's own deadline applies first
    params=[{"id": "modules", "label": "Modules", "type": "select", "options": [""]}],
)


@node.handler
async def dict_handler(req: NodeRequest) -> dict[str, Any]:
    name = req.params["modules"]
    if is_empty(name):
        return reply(False, errors=["No enrichmnent module selected"])
    name = str(name)
    data = req.data
    restrict: set[str] | None = None
    extracted = conditions.extract_data(data, req.saved_filters["selector"])
    if extracted is False:
        return reply(False)
    matching = conditions.items_matching_condition(extracted, req.saved_filters["value"],
                                                   req.saved_filters["operator"], req.saved_filters["path"])
    if conditions.filters_enabled(req.saved_filters) and is_empty(matching):
        return reply(True)
    if not is_empty(matching):
        restrict = {str(u) for u in hashpath.extract(matching, "{n}.uuid")}

    stored = stored_event(req)
    enrichers = await Enrichers.load([name], MODULE)
    entry = enrichers.entry(name)
    if entry is None:
        return reply(False, errors=enrichers.problems + [enrichers.unavailable(name)])
    timeout_s = float(get_settings().module_setting(MODULE, "query_timeout", 10.0))  # MISP: Enrichment_timeout
    event = stored.get("Event", {})
    known = {a.get("uuid") for a in event_attributes(event)}
    changes: list[dict] = []
    notes: list[dict] = []
    failure: str | None = None
    for attribute in event_attributes(event):
        if restrict is not None and str(attribute.get("uuid")) not in restrict:
            continue
        if not supported(entry, attribute):
            continue
        body = query_body(name, entry, attribute)
        try:
            answer = await enrichers.query(name, body, timeout_s)
        except ForwardError as exc:
            failure = f"{name} service not reachable: {exc}"
            break
        if not isinstance(answer, dict) or "results" not in answer or answer.get("error") is not None:
            said = answer.get("error") if isinstance(answer, dict) else answer
            failure = f"Invalid response received from module {name}: {said}"
            break
        changes += result_changes(event.get("uuid"), answer["results"], known, notes, attribute)
    changes, write_failure = write_back(changes, dry_run=req.dry_run, action="enrich-event")
    if write_failure is not None:
        return reply(False, errors=[write_failure], changes=changes, notes=notes)
    if failure is not None:
        log.warning("enrich-event: %s", failure)
        return reply(False, errors=[failure], changes=changes, notes=notes)
    enriched = to_core_format(ch.apply_changes(stored, [c for c in changes]))
    return reply(True, data=enriched, changes=changes, notes=notes)


def stored_event(req: NodeRequest) -> dict:
    """MISP re-reads its database: the runner's stored-event view, else the (unfiltered) data."""
    if isinstance(req.stored_event, dict) and isinstance(req.stored_event.get("Event"), dict):
        return json_copy(req.stored_event)
    data = req.data if isinstance(req.data, dict) else {}
    if data.get("enabledFilters") and isinstance(data.get("_unfilteredData"), dict):
        data = data["_unfilteredData"]
    return json_copy({"Event": data.get("Event") if isinstance(data.get("Event"), dict) else {}})


def event_attributes(event: Mapping[str, Any]) -> list[dict]:
    """The event's attributes, object attributes included (MISP fetches the event flattened)."""
    if "_AttributeFlattened" in event:
        return [a for _, a in iter_items(event["_AttributeFlattened"]) if isinstance(a, dict)]
    found = [a for _, a in iter_items(event.get("Attribute") or []) if isinstance(a, dict)]
    for _, obj in iter_items(event.get("Object") or []):
        if isinstance(obj, dict):
            found += [a for _, a in iter_items(obj.get("Attribute") or []) if isinstance(a, dict)]
    return found


def query_body(name: str, entry: Mapping[str, Any], attribute: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"module": name, "event_id": attribute.get("event_id"),
                            "attribute_uuid": attribute.get("uuid")}
    options = module_options(name, entry)
    if options != {"_": "_"}:
        body["config"] = options
    clean = {k: v for k, v in attribute.items() if k not in ("enrichment", "_allTags", "warnings")}
    if (entry.get("mispattributes") or {}).get("format") == "misp_standard":
        body["attribute"] = clean
    else:
        body[str(attribute.get("type"))] = attribute.get("value")
    return body


def result_changes(event_uuid: Any, results: Any, known: set, notes: list[dict],
                   source: Mapping[str, Any]) -> list[dict]:
    """``add_attribute``/``add_object`` changes for one module answer's ``results``."""
    changes: list[dict] = []
    if isinstance(results, dict):  # misp_standard
        for attribute in results.get("Attribute") or []:
            if isinstance(attribute, dict) and attribute.get("uuid") not in known:
                known.add(attribute.get("uuid"))
                changes.append(ch.add_attribute(event_uuid, attribute))
        for obj in results.get("Object") or []:
            if isinstance(obj, dict):
                changes.append(ch.add_object(event_uuid, obj))
        return changes
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict):
            continue
        types = result.get("types", result.get("type"))
        types = [types] if isinstance(types, str) else list(types or [])
        values = result.get("values")
        values = [values] if isinstance(values, (str, int, float)) else list(values or [])
        categories = result.get("categories")
        categories = [categories] if isinstance(categories, str) else list(categories or [])
        if not types:
            continue
        if types[0] == "freetext":
            notes.append({"uuid": source.get("uuid"), "note": "freetext results are not imported offline"})
            continue
        for value in values:
            if value in (None, ""):
                continue
            attribute = {"type": types[0], "value": value}
            if categories:
                attribute["category"] = categories[0]
            for key in ("comment", "to_ids", "distribution"):
                if key in result:
                    attribute[key] = result[key]
            changes.append(ch.add_attribute(event_uuid, attribute))
    return changes
