"""MISP's own "Telegram Send Alert" node (``telegram-send-alert``, v0.1) for the runner.

As MISP: one JSON POST ``{"chat_id", "text", "parse_mode": "HTML"}`` to ``sendMessage`` with
the text the runner rendered, no escaping, no splitting, no retry, no arbitrary-URL gate;
200-206 is success, 401 gives "Authentication failed", other statuses "Something went wrong
with the request: <body>". Deviations: the Bot API base is ``[services] telegram`` (MISP
hard-codes api.telegram.org), the timeout ``[modules.misp_telegram_send_alert]
request_timeout`` (30 s), and a transport failure is a clear node error where MISP crashes.
"""

from __future__ import annotations

from typing import Any

import requests

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.http import HttpPolicy, transport_reason
from misp_modules.lib.notify import telegram
from misp_modules.lib.notify.webhook import USER_AGENT
from misp_modules.lib.redact import redact

MODULE = "misp_telegram_send_alert"

node = declare(
    misp_id="telegram-send-alert", module_type="action", name="Telegram Send Alert", version="0.1",
    description="Send a message alert to a Telegram channel",
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    params=[
        {"id": "bot_token", "label": "Telegram Bot Token", "type": "input", "placeholder": "bot123:ABC"},
        {"id": "chat_id", "label": "Chat ID", "type": "input", "placeholder": "123456789"},
        {"id": "message_body_template", "label": "Message Body Template", "type": "textarea",
         "placeholder": "New event: {{ Event.info }}", "jinja_supported": True},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    token, chat_id, text = (str(req.params[k] or "") for k in ("bot_token", "chat_id", "message_body_template"))
    url = f"{telegram.base_url()}{token}/sendMessage"
    policy = HttpPolicy.for_module(MODULE, timeout=30.0)
    try:
        response = requests.post(url, json={"chat_id": chat_id, "text": text, "parse_mode": "HTML"},
                                 headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                                 timeout=policy.timeout, verify=policy.verify)
    except requests.RequestException as exc:
        reason = "timed out" if isinstance(exc, requests.Timeout) else transport_reason(exc)
        return reply(False, errors=[f"Something went wrong while sending the request: {reason}"])
    if 200 <= response.status_code <= 206:
        return reply(True)
    if response.status_code == 401:
        return reply(False, errors=["Authentication failed"])
    return reply(False, errors=[redact(f"Something went wrong with the request: {response.text}", [token])])
