"""MISP's "Stop execution" action (``stop-execution``, v0.2): the only built-in blocking node.

It always fails with its message (default "Execution stopped"), so a blocking walk stops there
(outcome ``blocked``) and the MISP operation behind a blocking trigger is refused. The message
is a Jinja template the runner renders before the call; a result PHP calls ``empty()`` falls back
to the default, as in MISP (``"0"`` included).
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.semantics.php import is_empty

DEFAULT_MESSAGE = "Execution stopped"

node = declare(
    misp_id="stop-execution", module_type="action", name="Stop execution", version="0.2", blocking=True, outputs=0,
    description="Essentially stops the execution for blocking paths. Do nothing for non-blocking paths",
    params=[
        {"id": "message", "label": "Stop message", "type": "input", "default": DEFAULT_MESSAGE,
         "placeholder": DEFAULT_MESSAGE, "jinja_supported": True},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    message = req.params["message"]
    if is_empty(message):
        message = DEFAULT_MESSAGE
    elif not isinstance(message, str):
        message = str(message)
    return reply(False, errors=[message])
