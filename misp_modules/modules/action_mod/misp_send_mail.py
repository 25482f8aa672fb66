"""MISP's own "Send Mail" node (``send-mail``, v0.1) for the runner.

MISP's rules: "No recipient set." when the picker is empty, "The mail template is empty." when
the (runner-rendered) subject is empty, ``All accounts`` / ``All admins`` / listed users'
e-mails resolved from MISP's users (PyMISP when MISP is configured, else
``[modules.send_mail] users``), false without an error when nothing is selected, one e-mail
per user. Mail goes out over SMTP (``[modules.send_mail]``) instead of MISP's mailer, so no
GPG/S/MIME; a failed delivery is reported (MISP ignores its mailer's result).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.http import OutboundError
from misp_modules.lib.node_params import as_list
from misp_modules.lib.notify import mail, recipients

MODULE = "misp_send_mail"
RECIPIENT_OPTIONS = [recipients.ALL_ACCOUNTS, recipients.ALL_ADMINS]

node = declare(
    misp_id="send-mail", module_type="action", name="Send Mail", version="0.1",
    description="Allow to send a Mail to a list or recipients",
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    params=[
        {"id": "recipients", "label": "Recipients", "type": "picker", "multiple": True,
         "options": RECIPIENT_OPTIONS, "default": [recipients.ALL_ADMINS], "placeholder": "Pick a user"},
        {"id": "mail_template_subject", "label": "Mail template subject", "type": "textarea",
         "placeholder": "The **template** will be rendered using *Jinja2*!", "jinja_supported": True},
        {"id": "mail_template_body", "label": "Mail template body", "type": "textarea",
         "placeholder": "The **template** will be rendered using *Jinja2*!", "jinja_supported": True},
    ],
)


def send_like_misp(module: str, req: NodeRequest, *, log_user_id: Any = None) -> dict[str, Any]:
    """``Module_send_mail::exec`` (shared with send-log-mail)."""
    selection = [str(r) for r in as_list(req.params["recipients"], "recipients")]
    if not selection:
        return reply(False, errors=["No recipient set."])
    subject = req.params["mail_template_subject"]
    if not subject:
        return reply(False, errors=["The mail template is empty."])
    try:
        found = recipients.directory(module)  # MISP only mails its users: use them whenever known
        to = recipients.resolve(selection, found[0] if found else None, log_user_id=log_user_id)
        if to is None:
            return reply(False)
        if to:
            mail.send(mail.SmtpConfig.for_module(module), to, str(subject), str(req.params["mail_template_body"]))
    except OutboundError as exc:
        return reply(False, errors=[str(exc)])
    return reply(True)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return send_like_misp(MODULE, req)
