"""Sub-workflows: what MISP's ``run-workflow`` node does after its module has decided
(docs/misp-behaviour.md §16.13, docs/runner.md "Sub-workflows").

The module (``misp_modules/modules/action_mod/run_workflow.py``) answers the labels and the
payload (docs/contract.md §3, ``run_workflows``); here, for each label in order, MISP's
``Workflow::executeWorkflow`` (the 2.4.208 model) on the run's workflow set (the workflow run,
then ``--workflows``):

1. the label's workflow: the ad-hoc workflows' labels ``"<trigger_id> :: <name>"`` (the last
   of a label wins, as MISP's map); an unknown label is PHP's "Undefined array key" warning,
   then ``executeWorkflow(null)``: ``NotFoundException("Invalid workflow")``, caught by MISP's
   engine: the node fails with it (labels before it have run);
2. its trigger node; a disabled ad-hoc trigger (the export's ``enabled`` false, MISP's Redis set
   ``workflow:adhoc_workflow_enabled``) makes MISP return ``true`` from a method typed
   ``array``: a PHP ``TypeError`` ends MISP's run, and the run stops at the node here too (a clear error);
3. the ad-hoc trigger collects the data by its ``scope`` param: ``passed_roaming_data`` ->
   ``[payload]``; ``passed_event_ids`` -> ``[]`` when the payload has an ``Event``, else the
   events of an event REST search with the payload as filters; ``events`` (default) -> the
   events of a REST search with the trigger's ``filters`` (JSON, default ``{}``, read raw:
   MISP does not render it); anything else -> ``[]``. The searches need a MISP (``[misp]`` of
   ``--config``, or ``MISP_URL``/``MISP_KEY``): offline they are a clear error;
4. the workflow of that trigger (the first of the set with it) runs once per collected item, as
   a normal trigger run (ad-hoc triggers are blocking and convert the data to MISP core format);
   its outcome is recorded (nested in the trace and ``--json``) and ignored, as MISP ignores it.

Then the roaming data is reloaded: the event ``Event.id`` of the (filtered) data, from the
configured MISP (not in a dry run: MISP then lacks the run's changes), else the runner's stored
event with every change so far, in MISP core format (``enabledFilters``/``_unfilteredData``
dropped). No ``Event.id``, or an event that cannot be read: MISP's ``TypeError``, a clear error.

Deviation: MISP has no bound on nesting; a workflow that runs itself (directly or through
another) runs until memory or time runs out. Here a run is at most ``--max-subworkflow-depth``
(default 8) levels deep: the node that would go deeper fails with a clear error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from misp_modules.contract.triggers import is_adhoc
from misp_modules.semantics.php import flag, is_empty, json_type, loose_eq
from runner import graph as g
from runner.errors import InputError, RunnerError
from runner.executor import MispCrash, NodeException
from runner.records import NodeRun, SubRun

if TYPE_CHECKING:
    from runner.context import RunContext
    from runner.stored import StoredEvent

TYPE_ERROR = "a PHP TypeError, which ends MISP's run"


class WorkflowSet:
    """The workflows a run can run by label: MISP's ad-hoc workflows (``fetchAdHocWorkflows``)."""

    def __init__(self, workflows: Iterable[g.Workflow]) -> None:
        self.workflows = list(workflows)
        self.by_label: dict[str, g.Workflow] = {}
        for wf in self.workflows:
            if is_adhoc(wf.trigger_id):
                self.by_label[label(wf)] = wf  # MISP's map: the last of a label wins

    def by_trigger(self, trigger_id: str) -> g.Workflow | None:
        """MISP's ``fetchWorkflowByTrigger``: the first workflow whose ``trigger_id`` is ``trigger_id``."""
        return next((wf for wf in self.workflows if wf.trigger_id == trigger_id), None)


def label(workflow: g.Workflow) -> str:
    """MISP's label of an ad-hoc workflow in run-workflow's picker."""
    return f"{workflow.trigger_id} :: {workflow.name}"


def load_workflow_set(paths: Iterable[str]) -> tuple[g.Workflow, ...]:
    """``--workflows``: each path a workflow export (``/workflows/view/<id>.json``, or the list
    ``/workflows/index.json`` gives) or a folder of them (its ``*.json`` files that hold a
    ``Workflow``, in name order; other JSON files there are not workflows and are passed over)."""
    from pathlib import Path

    from runner.jsonio import read_json
    from runner.loader import workflow_from_document

    found: list[g.Workflow] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
            if not files:
                raise InputError(f"--workflows: {path} holds no .json file")
            for file in files:
                doc = read_json(file, "workflow")
                docs = doc if isinstance(doc, list) else [doc]
                if all(isinstance(d, Mapping) and isinstance(d.get("Workflow"), Mapping) for d in docs) and docs:
                    found += [workflow_from_document(d, str(file)) for d in docs]
        elif path.exists():
            doc = read_json(path, "workflow")
            docs = doc if isinstance(doc, list) and len(doc) > 1 else [doc]
            found += [workflow_from_document(d, str(path)) for d in docs]
        else:
            raise InputError(f"--workflows: {path}: no such file or folder")
    return tuple(found)


# -- the node ------------------------------------------------------------------------------------

def run_directive(ctx: RunContext, run: NodeRun, directive: Mapping[str, Any], roaming: Any) -> None:
    """Steps 4-5 of ``run-workflow`` for the node ``run``; :class:`NodeException` where MISP
    throws an exception its engine catches (the node fails: "Error while executing module
    run-workflow. Error: ..."), :class:`MispCrash` where MISP's run dies (a PHP ``TypeError``;
    also the depth bound, where MISP's never ends): the run stops at the node."""
    wset: WorkflowSet = ctx.workflow_set
    payload = directive.get("payload", [])
    input_data = directive.get("input_data")
    for name in directive.get("labels") or []:
        wf = wset.by_label.get(name)
        if wf is None:
            known = ", ".join(f"`{k}`" for k in sorted(wset.by_label)) or "none (give --workflows)"
            run.warnings.append(f"Undefined array key \"{name}\": no ad-hoc workflow of this run has that label "
                                f"(known: {known}); MISP then runs workflow null")
            raise NodeException("Invalid workflow")
        _execute_workflow(ctx, run, name, wf, payload, input_data)
    _reload(ctx, run, roaming)


def _execute_workflow(ctx: RunContext, run: NodeRun, name: str, wf: g.Workflow, payload: Any,
                      input_data: Any) -> None:
    """MISP's ``executeWorkflow(id, payload)``."""
    first = wf.first_trigger()
    if first is None:
        raise MispCrash(f"workflow `{wf.name}` ({wf.id}) has no trigger node: MISP's executeWorkflow returns false "
                            f"where its return type is array, {TYPE_ERROR}")
    _, tnode = first
    tid = g.module_id(tnode)
    if not is_adhoc(tid):  # not reachable through a label (only ad-hoc workflows have one)
        _spawn(ctx, run, SubRun(label=name, workflow=wf, trigger=tid, scope=None, input=input_data, items=1, item=0),
               wf, payload)
        return
    if not _enabled(wf, tnode):
        raise MispCrash(f"the ad-hoc workflow `{name}` is disabled: MISP's executeWorkflow returns true where its "
                            f"return type is array, {TYPE_ERROR} (enable the workflow in MISP, or set "
                            "`\"enabled\": true` in its export)")
    params = g.indexed_params(tnode)
    scope = params.get("scope") if isinstance(params, Mapping) else None
    scope = "events" if scope is None else scope
    items = _collect(ctx, wf, scope, params if isinstance(params, Mapping) else {}, payload)
    target = ctx.workflow_set.by_trigger(tid) or wf  # executeWorkflowForTrigger: the trigger's first workflow
    if not items:
        run.subworkflows.append(SubRun(label=name, workflow=target, trigger=tid, scope=str(scope), input=input_data))
        return
    for i, item in enumerate(items):
        record = SubRun(label=name, workflow=target, trigger=tid, scope=str(scope), input=input_data, item=i,
                        items=len(items))
        _spawn(ctx, run, record, target, item)


def _enabled(wf: g.Workflow, tnode: Mapping) -> bool:
    """An ad-hoc workflow's trigger is enabled: the export's ``enabled`` (MISP writes it from its
    Redis set), else the trigger node's ``disabled``; a hand-made export with neither is enabled
    (the runner's default for every module)."""
    if "enabled" in wf.record:
        return flag(wf.record.get("enabled"))
    data = g.node_data(tnode)
    return not flag(data.get("disabled")) if "disabled" in data else True


def _collect(ctx: RunContext, wf: g.Workflow, scope: Any, params: Mapping, payload: Any) -> list:
    """``AdHocTrigger::collectData``: the items the workflow runs on, one run each."""
    if loose_eq(scope, "passed_roaming_data"):
        return [payload]
    if loose_eq(scope, "passed_event_ids"):
        if isinstance(payload, Mapping) and not is_empty(payload.get("Event")):
            return []  # MISP: "Passed filter is an Event and not restSearch filters"
        filters = payload if isinstance(payload, Mapping) else {}
        return _search(ctx, wf, filters, "passed_event_ids, the payload as filters")
    if loose_eq(scope, "events"):
        raw = params.get("filters")
        raw = "{}" if raw is None else raw
        if not isinstance(raw, str):
            raise MispCrash(f"the ad-hoc trigger's `filters` of `{wf.name}` is a JSON {json_type(raw)}, not a JSON "
                                f"text: MISP's JsonTool::decode takes a string, {TYPE_ERROR}")
        try:
            filters = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError as exc:
            raise NodeException(f"Syntax error in the `filters` of the ad-hoc trigger of `{wf.name}`: {exc}") from None
        if filters == []:
            filters = {}
        if not isinstance(filters, dict):
            raise MispCrash(f"the `filters` of the ad-hoc trigger of `{wf.name}` decode to a JSON "
                                f"{json_type(filters)}, not an object: MISP's getEvents takes an array, {TYPE_ERROR}")
        return _search(ctx, wf, filters, "events, the trigger's filters")
    return []


def _search(ctx: RunContext, wf: g.Workflow, filters: Mapping, what: str) -> list:
    """The events of ``Event::restSearch`` (JSON) with ``filters``, from the configured MISP."""
    from runner import sources

    if not sources.misp_configured():
        raise NodeException(f"the ad-hoc trigger of `{wf.name}` collects events with a REST search (scope {what}: "
                            f"{orjson.dumps(filters).decode()[:200]}), which needs a MISP: configure one ([misp] url "
                            "and key of --config, or MISP_URL/MISP_KEY); offline, use the scope "
                            "passed_roaming_data")
    try:
        return sources.search_events(dict(filters))
    except (InputError, RunnerError) as exc:
        raise NodeException(str(exc)) from None


def _spawn(ctx: RunContext, run: NodeRun, record: SubRun, wf: g.Workflow, item: Any) -> None:
    limit = ctx.options.max_subworkflow_depth
    if ctx.depth + 1 > limit:
        raise MispCrash(f"the sub-workflow `{record.label}` would run {ctx.depth + 1} levels deep, past the "
                            f"--max-subworkflow-depth bound ({limit}): a workflow that runs itself, directly or "
                            "through another, never ends in MISP, which has no bound")
    run.subworkflows.append(record)
    record.payload = item
    try:
        record.result = ctx.spawn(wf, item, record.trigger, _shared_stored(ctx.stored, item))
    except InputError as exc:  # e.g. a sub-workflow with a cycle, an unknown trigger
        raise NodeException(f"the sub-workflow `{record.label}` cannot run: {exc}") from None
    walk = record.result.walk
    if walk is not None and walk.aborted is not None:  # MISP runs it in the same process: its death is the parent's
        raise MispCrash(f"the sub-workflow `{record.label}` ended MISP's run: {walk.aborted}")


def _event_keys(data: Any) -> set[str]:
    event = data.get("Event") if isinstance(data, Mapping) else None
    if not isinstance(event, Mapping):
        return set()
    return {f"{k}:{event[k]}" for k in ("id", "uuid") if not is_empty(event.get(k))}


def _shared_stored(stored: StoredEvent, item: Any) -> StoredEvent | None:
    """The parent's stored event when the sub-run is on the same event (one MISP database),
    else None (the sub-run's own, from its data)."""
    mine = _event_keys(stored.snapshot())
    return stored if mine and mine & _event_keys(item) else None


def _reload(ctx: RunContext, run: NodeRun, roaming: Any) -> None:
    """MISP's ``reloadRoamingData``."""
    from misp_modules.semantics.convert import reloaded
    from runner import sources

    view = roaming.get_data()
    event = view.get("Event") if isinstance(view, Mapping) else None
    eid = event.get("id") if isinstance(event, Mapping) else None
    if eid is None or eid == "":
        raise MispCrash(f"reloading the roaming data: it holds no Event.id, so MISP's fetchEvent finds no event "
                            f"and its conversion gets null, {TYPE_ERROR}")
    if sources.misp_configured() and not ctx.options.dry_run:
        try:
            stored = sources.fetch_event(str(eid))
        except (InputError, RunnerError) as exc:
            raise MispCrash(f"reloading event {eid}: {exc} ({TYPE_ERROR} in MISP)") from None
    else:
        stored = ctx.stored.snapshot()
        held = stored.get("Event") if isinstance(stored, Mapping) else None
        if not isinstance(held, Mapping) or str(held.get("id")) != str(eid):
            have = held.get("id") if isinstance(held, Mapping) else None
            raise MispCrash(f"reloading event {eid}: the runner's stored event is event {have} and no MISP is "
                                f"configured to read event {eid} from; in MISP a missing event is {TYPE_ERROR}")
    try:
        data = reloaded(stored)
    except Exception as exc:  # noqa: BLE001 - a stored event the converter refuses
        raise NodeException(f"reloading event {eid}: cannot convert it to MISP core format: {exc}") from None
    roaming.set_data(data)
    run.data_changed = True
