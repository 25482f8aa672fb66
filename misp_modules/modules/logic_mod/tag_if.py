"""MISP's "IF :: Tag" logic node (``tag-if``, v0.4).

The tag names of the scope (``event``: ``Event.Tag``; ``attribute``: every flattened
attribute's ``Tag``; ``event_attribute``: their ``_allTags``, event tags included) are tested
against the selected tags plus the selected galaxy clusters (picked without their
``misp-galaxy:`` prefix, added back here). MISP's quirks stay: ``in_and`` is false as soon as a
selected tag appears twice in the extraction, ``not_in_and`` compares in order.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.request import NodeRequest
from misp_modules.lib.declaration import declare
from misp_modules.lib.logic_nodes import decide

CONDITIONS = {"in_or": "Is tagged with any (OR)", "in_and": "Is tagged with all (AND)",
              "not_in_or": "Is not tagged with any (OR)", "not_in_and": "Is not tagged with all (AND)"}

node = declare(
    misp_id="tag-if", module_type="logic", name="IF :: Tag", version="0.4", expect_misp_core_format=True,
    description="Tag IF / ELSE condition block. The `then` output will be used if the encoded "
                "conditions is satisfied, otherwise the `else` output will be used.",
    params=[  # defaults: the rule's (misp_modules.semantics.decisions.DEFAULTS)
        {"id": "scope", "label": "Scope", "type": "select",
         "options": {"event": "Event", "attribute": "Attribute", "event_attribute": "Inherited Attribute"}},
        {"id": "condition", "label": "Condition", "type": "select", "options": CONDITIONS},
        {"id": "tags", "label": "Tags", "type": "picker", "multiple": True, "options": [],
         "placeholder": "Pick a tag"},
        {"id": "clusters", "label": "Galaxy Clusters", "type": "picker", "multiple": True, "options": [],
         "placeholder": "Pick a Galaxy Cluster"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    return decide(node, req)
