"""MISP's "Publish Event" action (``publish-event``, v0.1).

Publishes the roaming data's event in MISP, through PyMISP. Without a MISP connection the node
fails with an error saying what to configure -- except in a dry run, where the ``publish``
change is only reported (the runner's stored-event view then shows the event published).
MISP's nested ``event-publish`` trigger is MISP's business: a publish refused by a blocking
workflow comes back as MISP's error and fails the node, as in MISP. No roaming data change.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract import changes as ch
from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import event_of
from misp_modules.lib.misp_writes import write_back

node = declare(
    misp_id="publish-event", module_type="action", name="Publish Event", version="0.1",
    description="Publish an Event in the context of the workflow",
    features="Publishes through PyMISP (needs [misp] url and key); dry runs only report the change.",
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    event = event_of(req.data)
    target = event.get("uuid") or event.get("id")
    if target in (None, ""):
        return reply(False, errors=["publish-event: the roaming data holds no event (no Event.uuid or Event.id)"])
    changes, failure = write_back([ch.publish(str(target))], dry_run=req.dry_run, action="publish-event",
                                  required=True)
    if failure is not None:
        return reply(False, errors=[failure], changes=changes)
    return reply(True, changes=changes)
