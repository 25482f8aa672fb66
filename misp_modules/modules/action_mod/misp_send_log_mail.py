"""MISP's own "Send Log Mail" node (``send-log-mail``, v0.1) for the runner.

``send-mail`` plus the recipient ``Org admins``: the admins of the organisation of the user in
``Log.user_id`` (silently ignored when that user is unknown), for the ``log-after-save`` trigger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.notify import recipients
from misp_modules.modules.action_mod.misp_send_mail import node as send_mail
from misp_modules.modules.action_mod.misp_send_mail import send_like_misp

MODULE = "misp_send_log_mail"

node = declare(
    misp_id="send-log-mail", module_type="action", name="Send Log Mail", version="0.1",
    description="Allow to send a Mail to a list or recipients, based on a Log trigger. Requires functional "
                "misp-modules to be functional.",
    timeout=60,  # s, the server-side deadline: above the HTTP/SMTP timeouts
    # send-mail's params, the recipients picked among MISP's log recipients
    params=[dict(send_mail.params[0], options=[recipients.ALL_ACCOUNTS, recipients.ALL_ADMINS, recipients.ORG_ADMINS]),
            *send_mail.params[1:]],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    log = req.data.get("Log") if isinstance(req.data, Mapping) else None
    user_id = log.get("user_id") if isinstance(log, Mapping) else None
    return send_like_misp(MODULE, req, log_user_id=user_id)
