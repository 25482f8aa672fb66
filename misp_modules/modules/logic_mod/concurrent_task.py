"""MISP's "Concurrent Task" logic node (``concurrent-task``, v0.1).

The runner queues one background walk per connection of ``output_1`` and, before each, sets
``__node_id_to_exec`` in the roaming data and calls this module, which removes the key and
returns the data -- the snapshot the branch starts from (docs/misp-behaviour.md §5.5, §5.6). It follows no output
in the current walk.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare

node = declare(
    misp_id="concurrent-task", module_type="logic", name="Concurrent Task", version="0.1",
    logic_kind="concurrent", multiple_output_connection=True,
    description="Allow breaking the execution process and running concurrent tasks. You can connect "
                "multiple nodes the `concurrent` output.",
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    data = req.data
    if isinstance(data, dict) and "__node_id_to_exec" in data:
        data = {k: v for k, v in data.items() if k != "__node_id_to_exec"}
    answer = reply(True, data=data)
    answer["output"] = None
    return answer
