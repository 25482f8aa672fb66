"""What a trigger does before the walk and after a failed run (docs/misp-behaviour.md §4).

A trigger (its table: ``misp_modules.contract.triggers``) decides whether the run is blocking,
how the raw data becomes roaming data (normalisation, §4.3, done by
``misp_modules.semantics.convert``), for ``tag-attached-after-save`` only whether the run happens
at all (§4.4), and what MISP's caller logs when a blocking run fails (§4.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from misp_modules.contract.triggers import Trigger

DEFAULT_FAILURE_TITLE = "Error while executing workflow."  # MISP's executeTrigger, when the caller gives none

# What the MISP caller writes to its log when a blocking run fails (misp-behaviour.md §4.2).
_CALLER_LOG = {
    "event-publish": ("publish", "Event", "Publishing stopped by a blocking workflow."),
    "event-before-save": ("add", "Event", "The workflow `event-before-save` prevented the saving of event ({uuid})"),
    "enrichment-before-query": ("execute_workflow", "Workflow",
                                "The workflow `enrichment-before-query` prevented attribute `{attribute_id}` "
                                "(from event `{event_id}`) to query the module `{module}`"),
    "shadow-attribute-before-save": ("add", "ShadowAttribute",
                                     "The workflow `shadow-attribute-before-save` prevented the saving of this proposal."),
    "user-before-save": ("edit", "User", "The workflow `user-before-save` prevented the saving of user {user_id}"),
}


class TriggerDataError(ValueError):
    """Data the trigger cannot take; the message completes "the data ..." or "<file> ..."."""


def trigger_data(trigger: Trigger, raw: Any) -> Any:
    """``raw`` as ``trigger`` takes it: a bare event (PyMISP's ``MISPEvent.to_json()``, without its
    wrapper) gets its ``Event`` key; :class:`TriggerDataError` when it is not an object, or lacks
    the key the trigger needs (``Event`` for event triggers)."""
    from misp_modules.semantics.convert import is_bare_event
    from misp_modules.semantics.php import json_type

    required = trigger.required_key
    if required == "Event" and is_bare_event(raw):
        raw = {"Event": raw}
    if not isinstance(raw, Mapping):
        raise TriggerDataError(f"holds a JSON {json_type(raw)}, expected an object")
    if required and required not in raw:
        keys = ", ".join(sorted(map(str, raw))[:6]) or "none"
        raise TriggerDataError(f"has no `{required}` key, which trigger `{trigger.id}` needs (top-level keys: {keys})")
    return raw


def normalize(trigger: Trigger, raw: Any) -> Any:
    """The roaming data for ``raw`` (misp-behaviour.md §4.3). Raises ``NormalizationError`` like MISP fails."""
    from misp_modules.semantics import convert

    return convert.normalize_for_trigger(trigger.id, raw)


def condition_holds(trigger: Trigger, trigger_params: Mapping[str, Any], raw: Any) -> bool:
    """The trigger's own ``exec`` on the raw data (misp-behaviour.md §4.4); only tag-attached-after-save has one."""
    if trigger.id != "tag-attached-after-save":
        return True
    from misp_modules.semantics.php import is_empty as empty
    from misp_modules.semantics.php import loose_eq

    def param(name: str, default: str) -> Any:
        value = trigger_params.get(name)
        return default if value is None else value

    scope, locality, tag_name = param("scope", "event"), param("locality", "local"), param("tag", "")
    tag = raw.get("Tag") if isinstance(raw, Mapping) else None
    tag = tag if isinstance(tag, Mapping) else {}
    on_attribute = not empty(tag.get("attribute_id"))
    is_local = not empty(tag.get("local"))
    if scope == "attribute" and not on_attribute:
        return False
    if scope == "event" and on_attribute:
        return False
    if locality == "local" and not is_local:
        return False
    if locality == "global" and is_local:
        return False
    if not empty(tag_name) and not loose_eq(tag.get("name"), tag_name):
        return False
    return True


def caller_log(trigger: Trigger, raw: Any, errors: list[str], logging: Mapping | None = None) -> dict | None:
    """The log entry MISP's caller writes when a blocking run fails (misp-behaviour.md §4.2), or None.

    MISP's ``executeTrigger`` writes it whenever the run of a blocking trigger fails, errors or
    not, from the logging descriptor its caller passes: an empty descriptor writes nothing, a
    missing key is null, an empty ``message`` is "Error while executing workflow.". Without a
    descriptor (``logging=None``) the runner passes what MISP's own caller of the trigger does.
    """
    if not trigger.blocking:
        return None
    change = "Returned message: " + ", ".join(errors)
    if logging is not None:
        if not logging:
            return None
        return {"action": logging.get("action"), "model": logging.get("model"), "model_id": logging.get("id"),
                "title": logging.get("message") or DEFAULT_FAILURE_TITLE, "change": change}
    action, model, title = _CALLER_LOG.get(trigger.id, ("execute_workflow", "Workflow", ""))
    raw = raw if isinstance(raw, Mapping) else {}
    event = raw.get("Event") if isinstance(raw.get("Event"), Mapping) else {}
    model_id: Any = event.get("id", 0)
    if trigger.id == "enrichment-before-query":
        model_id = 0
        attributes = event.get("Attribute") or raw.get("Attribute") or []
        attribute = attributes[0] if isinstance(attributes, list) and attributes else (
            attributes if isinstance(attributes, Mapping) else {})
        title = title.format(attribute_id=attribute.get("id", ""), event_id=event.get("id", ""),
                             module=raw.get("_module", ""))
    elif trigger.id == "event-before-save":
        model_id = 0
        title = title.format(uuid=event.get("uuid", ""))
    elif trigger.id == "user-before-save":
        model_id = raw.get("id", 0)
        title = title.format(user_id=model_id)
    elif trigger.id == "shadow-attribute-before-save":
        shadow = raw.get("ShadowAttribute") if isinstance(raw.get("ShadowAttribute"), Mapping) else {}
        model_id = shadow.get("id", 0)
    return {"action": action, "model": model, "model_id": model_id, "title": title or DEFAULT_FAILURE_TITLE,
            "change": change}
