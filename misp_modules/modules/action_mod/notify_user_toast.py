"""MISP's "Notify User Toast" action (``notify-user-toast``, v0.1, newer than MISP 2.5.1;
docs/misp-behaviour.md §16.14).

MISP shows a toast to the user whose action started the run (its *initiator user*, not the
workflow user). Outside MISP there is no UI: the toast is the node's ``toasts`` entry, in the
trace and the ``--json`` document. The runner's ``--initiator-user`` names that user.

MISP's quirks kept: the header is always prefixed ``[notify-user-toast] `` (MISP means the
trigger's name but reads a property that does not exist, so it writes the module's id); the
variant is used as given, even one that is not among the options; header and body both empty
fail the node with ``The toast text is empty.`` (PHP ``empty()``: ``"0"`` counts as empty).

Where MISP crashes, a clear error: with no initiator user (a run MISP starts itself, e.g. from a
scheduled or ad-hoc trigger), MISP's ``createNotificationToast`` gets a non-array and throws a
PHP ``TypeError`` that ends the run; here the node fails and says so.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import misp_crash, reply, toast
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.semantics.php import is_empty

MODULE = "notify-user-toast"
HEADER_PREFIX = f"[{MODULE}] "  # MISP: `[` . $this->getTriggerNode . `] `, a property that does not exist
EMPTY_TEXT = "The toast text is empty."
PLACEHOLDER = "The **template** will be rendered using *Jinja2*!"
NO_INITIATOR = ("no initiator user (the user whose action started the run; runner: --initiator-user): MISP's run "
                "would end here (PHP TypeError: createNotificationToast() needs a user array)")

node = declare(
    misp_id=MODULE, module_type="action", name="Notify User Toast", version="0.1",
    description="Allow to send a toast in the UI to the user that initiated the workflow.",
    params=[
        {"id": "variant", "label": "Variant", "type": "select", "default": "info",
         "options": {"danger": "danger", "warning": "warning", "info": "info"}},
        {"id": "toast_header", "label": "Toast Header", "type": "textarea", "placeholder": PLACEHOLDER,
         "jinja_supported": True},
        {"id": "toast_body", "label": "Toast Body", "type": "textarea", "placeholder": PLACEHOLDER,
         "jinja_supported": True},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    header, body = req.params["toast_header"], req.params["toast_body"]
    if is_empty(header) and is_empty(body):  # PHP empty(): "0" is empty too
        return reply(False, errors=[EMPTY_TEXT])
    if req.initiator_user is None:
        return misp_crash(NO_INITIATOR)
    return reply(True, toasts=[toast(req.params["variant"], HEADER_PREFIX + _text(header), _text(body))])


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)
