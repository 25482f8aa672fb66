"""MISP's "Reload full Event" action (``reload-full-event``, v0.1).

When the trigger produces MISP core format (``trigger.misp_core_format``), the roaming data is
replaced by the event as stored, converted to core format -- which drops filters,
``_unfilteredData``, ``_module`` and every other roaming-only key, as in MISP. Otherwise
nothing happens. Always true, as in MISP, when the event can be read.

Where the stored event comes from: the configured MISP (PyMISP ``get_event``), unless the run
is a dry run -- then MISP does not hold the run's changes, and the runner's stored-event view
(``stored_event``, which does) is used. Without a MISP connection the stored-event view is
used; with neither, the node fails and says so.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import reload_event
from misp_modules.semantics.errors import SemanticsError

node = declare(
    misp_id="reload-full-event", module_type="action", name="Reload full Event", version="0.1",
    expect_misp_core_format=True, needs_stored_event=True,
    description="Reload the full Event from the database and assign it to the roaming data.",
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    if not req.trigger.get("misp_core_format"):
        return reply(True)
    try:
        return reply(True, data=reload_event(req))
    except LookupError as exc:
        return reply(False, errors=[f"reload-full-event: {exc}"])
    except SemanticsError as exc:
        return reply(False, errors=[f"reload-full-event: cannot convert the stored event: {exc}"])
