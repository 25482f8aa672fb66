"""MISP's "Attach enrichment" node (``attach-enrichment``, v0.3), run by this module server.

For each matching attribute (docs/misp-behaviour.md §10.1 "Matching attributes") and each selected module whose
``mispattributes.input`` lists the attribute's type, the expansion module is queried with
MISP's request body -- ``user`` (when the runner sends one), ``event_id``, ``config`` (the
module's ``meta.config`` names, valued from ``[modules.<module>]``; ``{"_": "_"}`` when it has
none), ``module``, and ``attribute`` (``{<type>: <value>}`` instead for modules without
``mispattributes.format``) -- and the answer's ``results`` (or the whole answer when it has an
``error``) is appended to the attribute's ``enrichment`` list in both copies (MISP's
``_attachEnrichmentData``; not in ``_unfilteredData``, so a later filter reset drops it, as in
MISP). Modules answer in MISP's order; queries run a few at a time
(``[modules.attach_enrichment] parallel_queries``, default 4) with MISP's hover timeout
(``query_timeout``, default 5 s).

Modules are queried "through our own server" (the same lanes, timeouts and error contract as
``POST /query``). A module this server does not have is asked from another misp-modules server
when ``[modules.attach_enrichment] forward_url`` is set (e.g. upstream's, for ``mmdb_lookup``).

Deviations (MISP would crash with a PHP TypeError, documented in the README): a selected module
that is not available, an unreachable forward server or an answer that is not a JSON object
with ``results`` or ``error`` gets ``{"error": ...}`` appended to the attributes it concerns, and
the node fails (result false) with errors naming the module, after enriching everything else.
MISP's ``enrichment-before-query`` trigger is not fired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.attribute_copies import AttributeIndex, json_copy
from misp_modules.lib.declaration import declare
from misp_modules.lib.enrichers import Enrichers, ForwardError, module_options, supported
from misp_modules.lib.node_params import as_list, roaming_object
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty, iter_items
from misp_modules.settings import get_settings

MODULE = "attach_enrichment"
log = logging.getLogger(f"misp-modules.{MODULE}")

node = declare(
    misp_id="attach-enrichment", module_type="action", name="Attach enrichment", version="0.3",
    support_filters=True, expect_misp_core_format=True,
    description="Attach selected enrichment result to Attributes.",
    features="Queries expansion modules of this server (or of [modules.attach_enrichment] forward_url) "
             "with MISP's request body; results are appended to each attribute's `enrichment` list.",
    timeout=600.0,  # a whole event, attribute by attribute: the runner's own deadline applies first
    params=[
        {"id": "modules", "label": "Modules", "type": "picker", "multiple": True, "options": [""],
         "picker_options": []},
    ],
)


def request_body(name: str, entry: Mapping[str, Any], attribute: Mapping[str, Any], event_id: Any,
                 user: Any) -> dict[str, Any]:
    """MISP's enrichment request for one attribute (key order as MISP builds it)."""
    body: dict[str, Any] = {}
    if user is not None:
        body["user"] = user
    body["event_id"] = event_id
    body["config"] = module_options(name, entry)
    body["module"] = name
    body["attribute"] = attribute
    mispattributes = entry.get("mispattributes") or {}
    if not mispattributes.get("format"):
        del body["attribute"]
        for supported in mispattributes.get("input") or []:
            if supported == attribute.get("type"):
                body[supported] = attribute.get("value")
    return body


def handle_result(name: str, answer: Any) -> tuple[Any, str | None]:
    """What MISP appends for an answer, and a node error where MISP would have crashed."""
    if isinstance(answer, dict) and answer.get("error") is not None:
        return answer, None
    if isinstance(answer, dict) and "results" in answer:
        return answer["results"], None
    problem = f"Enrichment module {name!r} answered neither `results` nor `error`"
    return {"error": problem}, problem


@node.handler
async def dict_handler(req: NodeRequest) -> dict[str, Any]:
    selected = req.params["modules"]
    if is_empty(selected):
        return reply(False, errors=["No enrichmnent module selected"])
    wanted = [str(m) for m in as_list(selected, "modules") if m != ""]
    data = json_copy(roaming_object(req.data, MODULE))
    event = data.get("Event")
    event_id = event.get("id") if isinstance(event, dict) else None
    try:
        matching = conditions.matching_attributes(data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[f"Error while executing module {MODULE}: {exc}"])
    if matching is False:
        return reply(True)
    enrichers = await Enrichers.load(list(dict.fromkeys(wanted)), MODULE)
    settings = get_settings()
    query_timeout = float(settings.module_setting(MODULE, "query_timeout", 5.0))
    limit = asyncio.Semaphore(max(1, int(settings.module_setting(MODULE, "parallel_queries", 4))))
    errors: list[str] = list(enrichers.problems)

    async def one(name: str, body: dict) -> Any:
        async with limit:
            try:
                answer = await enrichers.query(name, body, query_timeout)
            except ForwardError as exc:
                return {"error": str(exc)}, f"Enrichment module {name!r}: {exc}"
        return handle_result(name, answer)

    jobs: list[tuple[dict, Any]] = []
    for _, attribute in iter_items(matching):
        if not isinstance(attribute, dict):
            continue
        for name in wanted:
            entry = enrichers.entry(name)
            if entry is None:
                jobs.append((attribute, _ready(({"error": enrichers.unavailable(name)}, enrichers.unavailable(name)))))
            elif supported(entry, attribute):
                jobs.append((attribute, one(name, request_body(name, entry, attribute, event_id, req.raw.get("user")))))
    outcomes = await asyncio.gather(*(job for _, job in jobs))
    index = AttributeIndex(data)
    for (attribute, _), (result, problem) in zip(jobs, outcomes):
        index.append_enrichment(attribute, result)
        if problem and problem not in errors:
            errors.append(problem)
    for problem in errors:
        log.warning("attach-enrichment: %s", problem)
    return reply(not errors, errors=errors, data=data, warnings=lookup_summary(outcomes))


def lookup_summary(outcomes: list[tuple[Any, str | None]]) -> list[str]:
    """What MISP keeps quiet: lookups whose module answered an error are appended as
    enrichment data and the node succeeds (faithful), so say how many failed, and why."""
    failed = [result for result, _ in outcomes if isinstance(result, dict) and result.get("error") is not None]
    if not failed:
        return []
    first = str(failed[0]["error"])
    first = first if len(first) <= 160 else first[:160] + "…"
    if len(failed) == len(outcomes):
        return [f"every lookup failed ({len(failed)} of {len(outcomes)}; first error: {first})"]
    return [f"{len(failed)} of {len(outcomes)} lookups failed (first error: {first})"]


async def _ready(value: Any) -> Any:
    return value
