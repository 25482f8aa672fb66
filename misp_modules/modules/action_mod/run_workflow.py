"""MISP's "Run Workflow" action (``run-workflow``, v0.1; docs/misp-behaviour.md §16.13).

Runs ad-hoc workflows (their ``trigger_id`` starts with ``adhoc_``) chosen by label,
``"<trigger_id> :: <name>"``. MISP's module does everything inside its ``exec()``; here the work
is split along the contract (docs/contract.md §3, ``run_workflows``): this module computes what
MISP computes before running anything, and the runner, which holds the workflows
(``misp-workflow run --workflows``), runs them and reloads the data (docs/runner.md,
"Sub-workflows").

What this module decides, as MISP's ``exec`` (steps 2-3):

* no workflow selected (an empty ``workflows``): error ``No workflow selected``, false;
* the payload, by ``input_data``: ``nothing`` -> ``[]``; ``roaming_data`` -> the (filtered)
  roaming data; ``event_ids`` -> ``{"eventid": <uuids>}``; anything else, the default ``yes``
  included (not one of the options), -> ``[]``;
* the uuids of ``event_ids``: the node filter's selector is extracted and its condition applied
  even when the filters are off (a selector that cannot be extracted: false, no error); with
  filters on and no match, the uuids are the value ``true`` (so the payload is
  ``{"eventid": true}``); with filters on and matches, the ``uuid`` of each match, whatever the
  selector selected (attributes give attribute uuids); with filters off, ``[Event.uuid]``; an
  empty list: false, no error.

Then it answers true with the directive ``run_workflows: {"labels", "payload", "input_data"}``.
A ``workflows`` value that is not a list (one label as a string) runs nothing: PHP's ``foreach``
over a string only warns; the data is still reloaded.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.semantics import conditions, hashpath
from misp_modules.semantics.php import is_empty, loose_eq

MODULE = "run-workflow"
INPUT_OPTIONS = {
    "nothing": "No data passed",
    "roaming_data": "Roaming Data (Data of this Workflow)",
    "event_ids": "Event IDs from filters or Extracted from Roaming Data",
}

node = declare(
    misp_id=MODULE, module_type="action", name="Run Workflow", version="0.1",
    support_filters=True, expect_misp_core_format=True,
    description="Run a Workflow.",
    params=[
        # MISP fills the options with the ad-hoc workflows' labels, sorted; the runner knows them
        {"id": "workflows", "label": "Workflows", "type": "picker", "options": [], "multiple": True},
        {"id": "input_data", "label": "Select Data passed to Workflow", "type": "select",
         "options": INPUT_OPTIONS, "default": "yes"},
    ],
)


def event_uuids(req: NodeRequest) -> Any:
    """MISP's ``getEventUUIDS``: a list of uuids, ``True`` (filters on, nothing matched) or
    ``False`` (a selector that cannot be extracted)."""
    filters = req.saved_filters
    extracted = conditions.extract_data(req.data, filters.get("selector", ""))
    if extracted is False:
        return False
    matching = conditions.items_matching_condition(extracted, filters.get("value", ""),
                                                   filters.get("operator", ""), filters.get("path", ""))
    enabled = conditions.filters_enabled(filters)
    if enabled and is_empty(matching):
        return True  # MISP: "Filters are enabled and no matching items was found"
    if enabled:
        return conditions.extract_data(matching, "{n}.uuid")
    return hashpath.extract(req.data, "Event.uuid")


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    labels = req.params.get("workflows")
    input_data = req.params.get("input_data")
    if is_empty(labels):
        return reply(False, errors=["No workflow selected"])
    payload: Any = []
    if loose_eq(input_data, "nothing"):
        payload = []
    elif loose_eq(input_data, "roaming_data"):
        payload = req.data
    elif loose_eq(input_data, "event_ids"):
        uuids = event_uuids(req)
        if is_empty(uuids):
            return reply(False)
        payload = {"eventid": uuids}
    warnings = []
    if not isinstance(labels, list):
        warnings.append(f"`workflows` is not a list of labels ({type(labels).__name__}): MISP's foreach over it "
                        "only warns, so no workflow runs")
        labels = []
    if not any(loose_eq(input_data, option) for option in INPUT_OPTIONS):
        warnings.append(f"input_data {input_data!r} is not one of {', '.join(INPUT_OPTIONS)}: MISP passes no data "
                        "([]); its own default, 'yes', is not an option either")
    return reply(True, warnings=warnings,
                 run_workflows={"labels": [str(label) for label in labels], "payload": payload,
                                "input_data": input_data})
