"""MISP's own "MS Teams Webhook" node (``ms-teams-webhook``, v0.5) for the runner.

MISP posts the whole roaming data as a form field ``text=<JSON>`` through its webhook code, so
the arbitrary-URL gate (``[modules.misp_webhook] rest_client_enable_arbitrary_urls``) and
MISP's result strings apply; ``data_extraction_path`` is declared but, as in MISP, unused.
Teams Workflows webhooks accept the request (202) but cannot use it: the ``ms_teams`` module
posts a real card.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.node_params import choice
from misp_modules.lib.notify import webhook
from misp_modules.modules.action_mod.misp_webhook import run_webhook
from misp_modules.semantics import php

node = declare(
    misp_id="ms-teams-webhook", module_type="action", name="MS Teams Webhook", version="0.5",
    description="Perform callbacks to the MS Teams webhook provided by the \"Incoming Webhook\" connector",
    timeout=60,  # s, the server-side deadline: above the HTTP/SMTP timeouts
    secret_params=("url",),  # the Teams webhook URL is the credential (masked in logs and errors)
    params=[
        {"id": "url", "label": "MS Teams Webhook URL", "type": "input",
         "placeholder": "https://example.com/webhook"},
        {"id": "content_type", "label": "Content type", "type": "select", "default": "form",
         "options": {"form": "application/x-www-form-urlencoded"}},
        {"id": "data_extraction_path", "label": "Data extraction path", "type": "hashpath", "default": "",
         "placeholder": "Attribute.{n}.AttributeTag.{n}.Tag.name"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return run_webhook(webhook.WebhookCall(
        url=str(req.params["url"] or ""),
        method="post",
        content_type=choice(req.params, "content_type", ("form",)),
        payload={"text": php.dumps(req.data)},
    ))
