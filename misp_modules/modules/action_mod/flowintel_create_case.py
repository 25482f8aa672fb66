"""MISP's "Flowintel :: Create case" action (``flowintel-create-case``, v0.5; docs/misp-behaviour.md §16.11).

Configuration (``[modules.flowintel_create_case]``):

* ``send_request`` (default ``false``): off, the node does what MISP's does -- it never creates a
  case (below). On, it does what MISP's code would do on an HTTP answer: POST the case to
  Flowintel and, unless ``create-reference`` is ``no``, add a ``flowintel-case`` object to the
  event;
* ``request_timeout`` (default 30 s), ``ca_bundle``, ``outbound_allow``: the HTTP kit's keys. The
  Flowintel URL comes from the node, so the egress rules apply: an internal Flowintel must be
  allowed in ``outbound_allow`` (here or in ``[server]``);
* MISP's ``Security.rest_client_enable_arbitrary_urls`` is ``[modules.misp_webhook]
  rest_client_enable_arbitrary_urls`` (default false), shared with MISP's webhook nodes.

MISP's behaviour (the module extends MISP's webhook): an empty ``url`` or ``apikey`` fails with
``No URL or API Key``; the arbitrary-URLs setting off fails with the webhook's error. Otherwise
MISP's webhook ``exec`` calls this module's request builder with the webhook's
``request_method`` param, which this module does not declare: the method is ``null``, the
sender sends **no request** and returns nothing, and the builder calls ``isOk()`` on it -- a PHP
``Error`` no ``catch`` takes: the run ends. Here (``send_request`` off, the default) the node
fails with an error saying so; nothing is sent.

With ``send_request`` on (a deviation, opt-in): ``POST <url>/api/case/create_with_event`` with
MISP's webhook headers plus ``X-API-KEY``, body ``{title, description, ticket_id, event,
origin_url}`` (title: ``case-name`` -- its default ``{{ Event.info }}`` rendered, as MISP's newer
base class renders defaults -- or ``Event.info`` when empty). A 2xx answer's ``case_id`` becomes
an ``add_object`` change (the ``flowintel-case`` object, MISP's fields), written through PyMISP
when a MISP is configured; result true. Failures in MISP's webhook words (401/403
``Authentication failed.``, another status quoting the body, redacted and bounded; a transport
error naming the reason, never the URL or key). Deviations there: one attempt, the HTTP kit's
timeout; an answer without a ``case_id`` fails the node (MISP would save a link ending in
``/case/``); a write MISP refuses fails the node (MISP drops the save's errors). A dry run still
sends the case (as webhook nodes send) but writes nothing to MISP.
"""

from __future__ import annotations

from typing import Any

import requests

from misp_modules.contract import changes as ch
from misp_modules.contract.jinja import render_or_empty
from misp_modules.contract.reply import misp_crash, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.http import HttpPolicy, shorten
from misp_modules.lib.misp_edits import event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.lib.notify import webhook
from misp_modules.lib.redact import redact
from misp_modules.modules.action_mod.misp_webhook import arbitrary_urls_enabled
from misp_modules.semantics import php
from misp_modules.settings import get_settings

MODULE = "flowintel_create_case"
DEFAULT_CASE_NAME = "{{ Event.info }}"
NO_URL_OR_KEY = "No URL or API Key"
MISP_CRASH = ("flowintel-create-case: MISP's run would end here (PHP Error: Call to a member function isOk() on "
              "null): MISP's webhook calls this node's request builder with the undeclared `request_method` "
              "param, null, so no request is sent and no case is created. Set [modules.flowintel_create_case] "
              "send_request = true to send the request MISP's code means to send")
ENDPOINT = "/api/case/create_with_event"
TEMPLATE_UUID = "19df57c7-b315-4fd2-84e5-d81ab221425e"

node = declare(
    misp_id="flowintel-create-case", module_type="action", name="Flowintel :: Create case", version="0.5",
    # MISP's description string, copied there from the MS Teams module
    description="Perform callbacks to the MS Teams webhook provided by the \"Incoming Webhook\" connector",
    timeout=60,  # s, the server-side deadline: above the per-request timeout
    params=[
        {"id": "url", "label": "Flowintel URL", "type": "input", "placeholder": "https://flowintel-url.test"},
        {"id": "apikey", "label": "Flowintel API Key", "type": "input",
         "placeholder": "W4PWn54LzJ71TY55PzxChVBl4tyPuIkMPZ5iC0hRrSkQGfjF0pTYLp6CnHBP"},  # MISP's example
        {"id": "create-reference", "label": "Create reference", "type": "select", "default": "yes",
         "options": {"yes": "Reference the case in the Event", "no": "Do not reference the case"}},
        {"id": "case-name", "label": "Case name", "type": "textarea", "default": DEFAULT_CASE_NAME,
         "placeholder": DEFAULT_CASE_NAME, "jinja_supported": True},
    ],
)


def send_request_enabled() -> bool:
    return get_settings().module_setting(MODULE, "send_request", False) is True


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    p = req.params
    url, apikey = p["url"], p["apikey"]
    if php.is_empty(url) or php.is_empty(apikey):
        return reply(False, errors=[NO_URL_OR_KEY])
    if not arbitrary_urls_enabled():
        return reply(False, errors=[webhook.ARBITRARY_URLS_OFF])
    if not send_request_enabled():
        return misp_crash(MISP_CRASH)
    base, key = php.to_string(url), php.to_string(apikey)
    event = event_of(req.data)
    title = case_title(p["case-name"], req.data, event)
    call = webhook.WebhookCall(url=base + ENDPOINT, method="post", content_type="json",
                               payload=case_body(title, event, req.data), headers={"X-API-KEY": key})
    policy = HttpPolicy.for_module(MODULE, timeout=30.0, gated=True)  # the address comes from the node
    try:
        response = webhook.send(call, policy, retry=False)
    except requests.RequestException as exc:
        return reply(False, errors=[redact(webhook.misp_transport_error(exc), call.secrets())])
    ok, error = webhook.misp_result(response, call)
    if not ok:
        return reply(False, errors=[error or "Flowintel refused the case"])
    case_id = answered_case_id(response)
    if case_id is None:
        body = redact(shorten(response.text, webhook.BODY_QUOTE_LIMIT), call.secrets())
        return reply(False, errors=[f"Flowintel answered HTTP {response.status_code} without a case_id, so no "
                                    f"reference can be made (MISP would save a link ending in /case/). "
                                    f"Body returned: {body}"])
    if p["create-reference"] == "no":
        return reply(True, changes=[])
    changes = [ch.add_object(event.get("uuid"), case_object(base, case_id, title))]
    changes, failure = write_back(changes, dry_run=req.dry_run, action=MODULE)
    if failure is not None:
        return reply(False, errors=[failure], changes=changes)
    return reply(True, changes=changes)


def case_title(value: Any, data: Any, event: dict) -> Any:
    """The case name: the default template rendered over the data (MISP's newer base class renders
    a Jinja param's default; the runner rendered a value the node sets), else ``Event.info``."""
    if value == DEFAULT_CASE_NAME:
        value = render_or_empty(value, data)
    return event.get("info") if php.is_empty(value) else value


def case_body(title: Any, event: dict, data: Any) -> dict[str, Any]:
    """What MISP's request builder posts."""
    env = data.get("_env") if isinstance(data, dict) else None
    uuid = event.get("uuid")
    return {"title": title,
            "description": f"Case created for MISP Event {php.to_string(uuid) if uuid is not None else ''}",
            "ticket_id": uuid, "event": data,
            "origin_url": env.get("baseurl") if isinstance(env, dict) else None}


def answered_case_id(response: requests.Response) -> Any:
    try:
        answer = php.loads(response.text)
    except ValueError:
        return None
    case_id = answer.get("case_id") if isinstance(answer, dict) else None
    return None if case_id is None or isinstance(case_id, (dict, list)) else case_id


def htmlspecialchars(text: str) -> str:
    """PHP 8's ``htmlspecialchars`` (ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML401)."""
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#039;")
            .replace("<", "&lt;").replace(">", "&gt;"))


def case_object(url: str, case_id: Any, title: Any) -> dict[str, Any]:
    """The ``flowintel-case`` object MISP's builder saves in the event."""
    case = php.to_string(case_id)
    return {
        "name": "flowintel-case", "meta-category": "misc", "description": "A case as defined by flowintel.",
        "template_version": 5, "template_uuid": TEMPLATE_UUID,
        "Attribute": [
            {"type": "link", "category": "External analysis", "object_relation": "flowintel-url", "to_ids": 0,
             "value": f"{htmlspecialchars(url)}/case/{case}"},
            {"type": "text", "category": "Other", "object_relation": "case-uuid", "to_ids": 0, "value": case},
            {"type": "text", "category": "Other", "object_relation": "title", "to_ids": 0,
             "value": php.to_string(title) if title is not None else ""},
        ],
    }
