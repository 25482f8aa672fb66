"""Call any HTTP endpoint from a MISP workflow: MISP's webhook node as a misp-module.

Named ``http_webhook`` because a MISP-facing action called ``webhook`` would replace MISP's
own ``webhook`` node in the editor (MISP ids misp-modules by ``Inflector::underscore(name)``);
the runner-only ``misp_webhook`` module is MISP's node itself. Same request as MISP's node
(method, json/form body, ``Name: value`` headers, empty payload → the roaming data as JSON),
with the URL, payload and headers rendered here as Jinja templates over the workflow data.
TLS is verified; ``[modules.http_webhook] ca_bundle`` trusts a private CA and
``self_signed = allow`` turns verification off for one node. HTTP 429 is retried within bounds.
"""

from misp_modules.contract.request import ParamError
from misp_modules.lib.declaration import declare_action, param
from misp_modules.lib.http import HttpPolicy, status_failure, target_of
from misp_modules.lib.notify import webhook
from misp_modules.lib.notify.action import ActionRequest, check_url

MODULE = "http_webhook"

node = declare_action(
    module=MODULE, name="HTTP webhook", version="1.0",
    description="Send the workflow data (or a Jinja-rendered payload) to a URL with POST, GET, PUT or "
                "DELETE, as JSON or a form. URL, payload and headers are Jinja templates over the "
                "workflow data (Event, data, filteredItems, matchingData, summary).",
    features="MISP's webhook request; TLS verification with an optional CA bundle; bounded retry on 429.",
    references=["https://www.misp-project.org/2022/07/27/MISP-Workflows.html"],
    input="Workflow roaming data",
    output="An HTTP request to the URL",
    support_filters=False,
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    # renders user templates: in worker processes, where a heavy template (its garbage collections
    # included) never shares the GIL with the event loop (docs/server.md, "Isolation")
    isolation="process",
    # credentials whose param names do not say so: masked in -d logs, errors and tracebacks
    secret_params=("url", "headers"),
    params={
        "url": param("string", "URL to call (Jinja template)", "https://example.org/hook"),
        "request_method": param("string", "post (default), get, put or delete", "post"),
        "content_type": param("string", "json (default) or form", "json"),
        "headers": param("large_string", "Extra headers, one 'Name: value' per line (Jinja template)",
                         "Authorization: Bearer ..."),
        "payload": param("large_string", "Body (Jinja template); empty: the workflow data as JSON", ""),
        "self_signed": param("string", "deny (default: verify TLS) or allow (accept any certificate)", "deny"),
    },
)


@node.sender
def dict_handler(req: ActionRequest) -> None:
    context = req.context()
    url = req.render("url", "", context=context).strip()
    if not url:
        raise ParamError("param `url` is empty: set the URL to call")
    if not url.lower().startswith(("http://", "https://")):
        raise ParamError("param `url` must be an http:// or https:// URL")
    check_url("url", url)
    payload = req.render("payload", "", context=context)
    call = webhook.WebhookCall(
        url=url,
        method=req.choice("request_method", webhook.METHODS, "post"),
        content_type=req.choice("content_type", webhook.CONTENT_TYPES, "json"),
        payload=payload if payload else req.data,
        headers=webhook.parse_headers(req.render("headers", "", context=context)),
        allow_self_signed=req.choice("self_signed", ("deny", "allow"), "deny") == "allow",
    )
    response = webhook.send(call, HttpPolicy.for_module(MODULE, gated=True))
    if not 200 <= response.status_code <= 206:
        raise status_failure(response, service="Webhook", target=target_of(url),
                             secrets=[url, *(call.headers or {}).values()])
