"""MISP's "Attribute comment operation" action (``Module_attribute_comment_operation``, v0.1).

Sets the matching attributes' ``comment`` to the ``comment`` param, with the mechanics of the
IDS-flag operation (edited attributes lose ``timestamp`` and replace their copies in the
returned roaming data; ``set``/``touch`` changes for the database).

The comment is a Jinja template. Faithful to MISP (docs/misp-behaviour.md §8, §15.9): the runner renders it
*once*, against the whole roaming data, before the call, so ``__currentAttribute`` is undefined
and every attribute gets the same text. Opt-in (``[modules.attribute_comment_operation]
render_per_attribute = true``): the raw template (``node.indexed_params.comment``) is rendered
per attribute with ``__currentAttribute`` set, the way a param is rendered
(``misp_modules.contract.jinja``) -- what the MISP blueprints using it intend.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract import jinja
from misp_modules.contract.reply import EMPTY_SELECTION, reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import edit_attributes
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.settings import get_settings

MODULE = "attribute_comment_operation"

node = declare(
    misp_id="Module_attribute_comment_operation", module_type="action", name="Attribute comment operation",
    version="0.1", support_filters=True, expect_misp_core_format=True,
    description="Set the Attribute's comment to the selected value",
    # renders user templates: in worker processes, never sharing the GIL with the event loop
    isolation="process",
    params=[
        {"id": "comment", "label": "Comment", "type": "textarea", "placeholder": "Comment to be set",
         "jinja_supported": True},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    errors = node_params.problems(node.params, req.params)
    try:
        items = conditions.matching_attributes(req.data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[*errors, f"Error while executing module {MODULE}: {exc}"])
    if items is False:
        return reply(True, errors=errors)
    comment = req.params["comment"]
    template = req.indexed_params.get("comment")
    per_attribute = bool(get_settings().module_setting(MODULE, "render_per_attribute", False))

    def edit(attribute: dict) -> dict:
        if attribute.get("comment") == comment and not per_attribute:
            return attribute
        text = comment
        if per_attribute and isinstance(template, str) and template:
            context = dict(req.data) if isinstance(req.data, dict) else {}
            text = jinja.render_or_empty(template, {**context, "__currentAttribute": attribute})
        return {**attribute, "comment": text}

    success, data, changes = edit_attributes(req.data, items, edit, ("comment",))
    if not success:
        return reply(False, errors=errors, warnings=[EMPTY_SELECTION])
    changes, failure = write_back(changes, dry_run=req.dry_run, action="Module_attribute_comment_operation")
    if failure is not None:
        return reply(False, errors=[*errors, failure], data=data, changes=changes)
    return reply(True, errors=errors, data=data, changes=changes)
