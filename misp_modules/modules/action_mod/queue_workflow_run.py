"""Hand work over from a MISP workflow to the automation service (``misp-workflow serve``).

MISP's automation training: keep the blocking decision in MISP's workflow and run the rest
(curation, enrichment pipelines) outside it, started by the workflow. This action node queues
a run of a named workflow of the service with the node's roaming data (``POST /api/runs``)
and answers as soon as the run is durably queued, so MISP's workflow does not wait for the
pipeline. The node fails (MISP logs the error) only when the run could not be queued.

Deployment settings: ``[services] automation`` (the service's API, e.g.
``http://127.0.0.1:8780``) and ``[modules.queue_workflow_run] token`` (one of its
``[api] tokens``; a secret, never logged), ``request_timeout`` (default 5 s).
"""

from misp_modules.contract.request import ParamError
from misp_modules.lib.declaration import declare_action, param
from misp_modules.lib.http import HttpPolicy, send_with_retry, status_failure, target_of
from misp_modules.lib.notify.action import ActionRequest
from misp_modules.settings import SettingsError, get_settings

MODULE = "queue_workflow_run"

node = declare_action(
    module=MODULE, name="Queue workflow run", version="1.0",
    description="Queue a run of a workflow of the misp-workflow automation service with this node's data and "
                "go on at once: MISP's workflow starts the pipeline without waiting for it.",
    requirements=["The automation service (misp-workflow serve) and one of its API tokens"],
    features="The run is durably queued before the node answers; the service runs it with MISP's semantics "
             "and writes its changes back to MISP once.",
    references=["https://www.misp-project.org/2022/07/27/MISP-Workflows.html"],
    input="Workflow roaming data (an event)",
    output="A queued run of the named workflow",
    support_filters=False,
    timeout=15,  # s: one short HTTP call
    params={
        "workflow": param("string", "Name of the service's workflow to run (its file name without .json)",
                          "curate-hashes"),
        "trigger": param("string", "Trigger to run it for (workflows exported for a trigger need none)",
                         "event-after-save"),
    },
)


@node.sender
def dict_handler(req: ActionRequest) -> None:
    workflow = req.require("workflow", "the name of the workflow to run")
    settings = get_settings()
    base = settings.services.get("automation")
    if not base:
        raise SettingsError("[services] automation is not set: the automation service's API URL, "
                            "e.g. http://127.0.0.1:8780")
    token = settings.module_setting(MODULE, "token")
    if not token:
        raise SettingsError(f"[modules.{MODULE}] token is not set: one of the service's [api] tokens")
    data = req.data
    if not isinstance(data, dict):
        raise ParamError("the node's data is not an object: nothing to queue")
    body = {"workflow": workflow, "data": data, "source": "action"}
    if req.get("trigger"):
        body["trigger"] = req.get("trigger")
    policy = HttpPolicy.for_module(MODULE, max_retries=0)
    url = base.rstrip("/") + "/api/runs"
    session = policy.session()
    target = target_of(url)
    response = send_with_retry(lambda: session.post(url, json=body, timeout=policy.timeout,
                                                    headers={"Authorization": f"Bearer {token}"}),
                               policy, service="automation service", target=target, secrets=[token])
    if response.status_code != 202:
        raise status_failure(response, service="automation service", target=target, secrets=[token],
                             meanings={401: "the token was refused ([modules.queue_workflow_run] token)",
                                       404: "the service has no such workflow"})
