"""MISP's "Attach decay score" action (``attach-decay-score``, v0.1).

For each matching attribute (the node filter's matches, else every flattened attribute) MISP
searches the attribute by UUID with ``includeDecayScore`` and the selected decaying models, and
replaces it in the roaming data with what the search returns (the attribute with its
``decay_score``). Decaying models and their scores live in MISP, so this needs a MISP
connection (PyMISP ``search(controller="attributes")``); it only reads. The changed roaming
data is returned.
"""

from __future__ import annotations

from typing import Any

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.attribute_copies import AttributeIndex, json_copy
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp import MispNotConfigured, MispUnreachable, get_misp
from misp_modules.lib.misp_edits import attributes_of, event_of
from misp_modules.lib.node_params import as_list
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.php import is_empty

node = declare(
    misp_id="attach-decay-score", module_type="action", name="Attach decay score", version="0.1",
    support_filters=True, expect_misp_core_format=True,
    description="Attach selected decaying model score to Attributes.",
    features="Reads the scores from MISP through PyMISP (needs [misp] url and key).",
    params=[
        {"id": "decayingmodels", "label": "Decaying Model", "type": "picker", "multiple": True, "options": {},
         "placeholder": "Pick a Decaying Model"},
    ],
)


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    models = req.params["decayingmodels"]
    if is_empty(models):
        return reply(False, errors=["No decaying model selected (param `decayingmodels`)"])
    errors = node_params.problems(node.params, req.params)
    if errors:
        return reply(False, errors=errors)
    try:
        items = conditions.matching_attributes(req.data, req.saved_filters)
    except SemanticsError as exc:
        return reply(False, errors=[f"Error while executing module attach-decay-score: {exc}"])
    if items is False:
        return reply(True)
    try:
        misp = get_misp("attach-decay-score")
    except (MispNotConfigured, MispUnreachable) as exc:
        return reply(False, errors=[str(exc)])
    data = json_copy(req.data)
    index = AttributeIndex({"Event": event_of(data)})
    model_ids = as_list(models, "decayingmodels")
    for attribute in attributes_of(items):
        try:
            answer = misp.search(controller="attributes", uuid=attribute.get("uuid"), include_decay_score=True,
                                 decayingModel=model_ids, pythonify=False)
        except Exception as exc:  # noqa: BLE001 - PyMISP and requests errors, reported with context
            return reply(False, errors=[f"attach-decay-score: searching attribute {attribute.get('uuid')} in "
                                        f"MISP failed: {type(exc).__name__}: {exc}"])
        if isinstance(answer, dict) and answer.get("errors"):
            return reply(False, errors=[f"attach-decay-score: MISP refused the search for attribute "
                                        f"{attribute.get('uuid')}: {answer['errors']}"])
        found = answer.get("Attribute") if isinstance(answer, dict) else None
        if isinstance(found, list) and found and isinstance(found[0], dict):
            index.override(attribute, found[0])
    return reply(True, data=data)
