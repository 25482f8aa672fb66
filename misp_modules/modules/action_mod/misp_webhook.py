"""MISP's own "Webhook" node (``webhook``, v0.7) for the runner, with MISP's params and errors.

The runner renders ``url``, ``payload`` and ``headers`` (Jinja) before the call, as MISP does.
Like MISP, it refuses to run unless arbitrary URLs are allowed: the mirror of
``Security.rest_client_enable_arbitrary_urls`` is ``[modules.misp_webhook]
rest_client_enable_arbitrary_urls`` (default false, as in MISP). One attempt, no retry, MISP's
result mapping (200-206 ok). Deviation: the timeout is ``[modules.misp_webhook]
request_timeout`` (default 30 s) instead of MISP's 300 s fallback, and a transport error names
the reason without the URL. The MISP-facing counterpart is ``http_webhook``.
"""

from __future__ import annotations

from typing import Any

import requests

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.http import HttpPolicy
from misp_modules.lib.node_params import choice
from misp_modules.lib.notify import webhook
from misp_modules.settings import get_settings

MODULE = "misp_webhook"

node = declare(
    misp_id="webhook", module_type="action", name="Webhook", version="0.7",
    description="Allow to perform custom callbacks to the provided URL",
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    secret_params=("url", "headers"),  # credentials whose param names do not say so (masked in logs and errors)
    params=[
        {"id": "url", "label": "URL", "type": "input", "placeholder": "https://example.com/test",
         "jinja_supported": True},
        {"id": "content_type", "label": "Content type", "type": "select", "default": "json",
         "options": {"json": "application/json", "form": "application/x-www-form-urlencoded"}},
        {"id": "request_method", "label": "HTTP Request Method", "type": "select", "default": "post",
         "options": {"post": "POST", "get": "GET", "put": "PUT", "delete": "DELETE"}},
        {"id": "self_signed", "label": "Self-signed certificates", "type": "select", "default": "deny",
         "options": {"deny": "Deny self-signed certificates", "allow": "Allow self-signed certificates"}},
        {"id": "payload", "label": "Payload (leave empty for roaming data)", "type": "textarea", "default": "",
         "jinja_supported": True},
        {"id": "headers", "label": "Headers", "type": "textarea", "placeholder": "Authorization: foobar",
         "jinja_supported": True},
    ],
)


def arbitrary_urls_enabled() -> bool:
    """The mirror of MISP's ``Security.rest_client_enable_arbitrary_urls`` (one setting for the
    webhook family, as in MISP)."""
    return get_settings().module_setting(MODULE, "rest_client_enable_arbitrary_urls", False) is True


def run_webhook(call: webhook.WebhookCall) -> dict[str, Any]:
    """MISP's ``Module_webhook::exec`` once the call is built (shared with ms-teams-webhook)."""
    if not arbitrary_urls_enabled():
        return reply(False, errors=[webhook.ARBITRARY_URLS_OFF])
    if not call.url:
        return reply(False, errors=[webhook.NO_URL])
    policy = HttpPolicy.for_module(MODULE, timeout=30.0)
    try:
        response = webhook.send(call, policy, retry=False)
    except requests.RequestException as exc:
        return reply(False, errors=[webhook.misp_transport_error(exc)])
    ok, error = webhook.misp_result(response, call)
    return reply(ok, errors=[error] if error else [])


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    params = req.params
    payload = params["payload"] if isinstance(params["payload"], str) and params["payload"] else req.data
    return run_webhook(webhook.WebhookCall(
        url=str(params["url"] or ""),
        method=choice(params, "request_method", webhook.METHODS),
        content_type=choice(params, "content_type", webhook.CONTENT_TYPES),
        payload=payload,
        headers=webhook.parse_headers(params["headers"] if isinstance(params["headers"], str) else ""),
        allow_self_signed=choice(params, "self_signed", ("deny", "allow")) == "allow",
    ))
