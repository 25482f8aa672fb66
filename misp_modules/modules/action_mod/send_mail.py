"""E-mail a summary of the workflow's data, with a Jinja subject and body, over SMTP.

Recipients are addresses plus MISP's "All accounts" / "All admins" (resolved from MISP's users
through PyMISP when MISP is configured, else from ``[modules.send_mail] users``; see
lib/notify/recipients.py). Each recipient gets their own e-mail. SMTP settings (host, port,
STARTTLS/TLS, login, sender) are deployment settings in ``[modules.send_mail]``, never params.
"""

import re
from email.utils import parseaddr

from misp_modules.contract.request import ParamError
from misp_modules.lib.declaration import declare_action, param
from misp_modules.lib.notify import mail, recipients
from misp_modules.lib.notify.action import ActionRequest
from misp_modules.lib.notify.summary import PLAIN_TEMPLATE, SUBJECT_TEMPLATE

MODULE = "send_mail"

node = declare_action(
    module=MODULE, name="Send mail", version="1.0",
    description="E-mail the event to addresses or to MISP's users (All accounts, All admins). Subject and "
                "body are Jinja templates over the workflow data; empty: a summary of the event (info, "
                "threat level, tags, counts, matching attributes).",
    requirements=["An SMTP server and a sender address in [modules.send_mail]"],
    features="SMTP with STARTTLS or TLS and login; one e-mail per recipient; MISP user groups as recipients.",
    input="Workflow roaming data",
    output="E-mails",
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    # renders user templates: in worker processes, where a heavy template (its garbage collections
    # included) never shares the GIL with the event loop (docs/server.md, "Isolation")
    isolation="process",
    params={
        "recipients": param("string", "Addresses, comma separated; or All accounts / All admins (MISP's users)",
                            "soc@example.org, All admins"),
        "mail_template_subject": param("large_string", "Jinja template of the subject; empty: [MISP] <event title>",
                                       "[MISP] {{ Event.info }}"),
        "mail_template_body": param("large_string", "Jinja template of the body (plain text); empty: an event summary",
                                    ""),
        "data_extraction_path": param("hash_path", "Hash path of values to list in the default body",
                                      "Event.Tag.{n}.name"),
    },
)


@node.sender
def dict_handler(req: ActionRequest) -> None:
    wanted = [r.strip() for r in re.split(r"[,;\n]", req.require("recipients", "at least one address")) if r.strip()]
    malformed = [r for r in wanted if r not in recipients.KEYWORDS and not _is_address(r)]
    if malformed:
        raise ParamError(f"param `recipients`: not an e-mail address: {', '.join(map(repr, malformed))}")
    found = recipients.directory(MODULE) if any(r.strip() in recipients.KEYWORDS for r in wanted) else None
    to = recipients.resolve(wanted, found[0] if found else None, only_users=False)
    if not to:
        raise ParamError("param `recipients`: nobody to send to (no MISP user matches)")
    context = req.context()
    subject = req.render("mail_template_subject", SUBJECT_TEMPLATE, context=context).strip()
    if not subject:
        raise ParamError("param `mail_template_subject` rendered an empty subject")
    body = req.render("mail_template_body", PLAIN_TEMPLATE, context=context)
    mail.send(mail.SmtpConfig.for_module(MODULE), to, subject, body)


# One address: no spaces, brackets, quotes or separators; a single "@" with text on both sides.
_ADDRESS = re.compile(r'[^\s@<>()\[\],;:"\\]+@[^\s@<>()\[\],;:"\\]+')


def _is_address(entry: str) -> bool:
    """``a@b`` or ``Name <a@b>``. SMTP libraries read whatever they can out of anything else
    ("a@exa mple.org" was sent to ``a@exa``, "@@@" to the empty address): refuse it instead."""
    _name, address = parseaddr(entry)
    return bool(_ADDRESS.fullmatch(address)) and (entry == address or entry.endswith(f"<{address}>"))
