"""MISP's trigger catalogue (docs/misp-behaviour.md §4.1) and what a trigger does before the walk.

A trigger decides three things: whether the run is blocking, how the raw data becomes roaming
data (normalisation, §4.3, done by ``misp_modules.semantics.convert``), and, for
``tag-attached-after-save`` only, whether the run happens at all (§4.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.graph import EMPTY_FILTERS


@dataclass(frozen=True)
class Trigger:
    id: str
    name: str
    scope: str
    blocking: bool
    misp_core_format: bool
    overhead: int  # 1 low, 2 medium, 3 high
    required_key: str | None = None  # the top-level key the raw data must carry (CLI input check)
    description: str = ""

    @property
    def for_path(self) -> str:
        return "blocking" if self.blocking else "non-blocking"

    def node_data(self) -> dict:
        """The trigger module config MISP copies into a trigger node's ``data``."""
        return {
            "id": self.id, "scope": self.scope, "name": self.name, "description": self.description,
            "icon": "", "inputs": 0, "outputs": 1, "blocking": self.blocking,
            "misp_core_format": self.misp_core_format, "trigger_overhead": self.overhead,
            "trigger_overhead_message": "", "is_misp_module": False, "is_custom": False,
            "expect_misp_core_format": False, "version": "0.1", "icon_class": "",
            "multiple_output_connection": False, "support_filters": False,
            "saved_filters": dict(EMPTY_FILTERS), "module_type": "trigger",
            "html_template": "trigger", "disabled": False, "indexed_params": [],
        }


def _t(id_, name, scope, blocking, core, overhead, required=None, description=""):
    return Trigger(id_, name, scope, blocking, core, overhead, required, description)


TRIGGERS: dict[str, Trigger] = {t.id: t for t in (
    _t("attribute-after-save", "Attribute After Save", "attribute", False, True, 3, "Attribute"),
    _t("enrichment-before-query", "Enrichment Before Query", "others", True, True, 1, "Event"),
    _t("event-after-save", "Event After Save", "event", False, True, 3, "Event"),
    _t("event-after-save-new", "Event After Save New", "event", False, True, 1, "Event"),
    _t("event-after-save-new-from-pull", "Event After Save New From Pull", "event", False, True, 1, "Event"),
    _t("event-before-save", "Event Before Save", "event", True, True, 3, "Event"),
    _t("event-publish", "Event Publish", "event", True, True, 1, "Event",
       "This trigger is called just before a MISP Event starts the publishing process"),
    _t("event-report-after-save", "Event Report After Save", "event-report", False, True, 1, "EventReport"),
    _t("log-after-save", "Log After Save", "log", False, False, 3, "Log"),
    _t("object-after-save", "Object After Save", "object", False, True, 3, "Object"),
    _t("post-after-save", "Post After Save", "post", False, False, 1, "Post"),
    _t("shadow-attribute-after-save", "Shadow Attribute After Save", "shadow-attribute", False, True, 2,
       "ShadowAttribute"),
    _t("shadow-attribute-before-save", "Shadow Attribute Before Save", "shadow-attribute", True, True, 2,
       "ShadowAttribute"),
    _t("sighting-after-save", "Sighting After Save", "sighting", False, True, 2, "Sighting"),
    _t("tag-attached-after-save", "Tag Attached After Save", "tag", False, True, 3, "Tag"),
    _t("user-after-save", "User After Save", "user", False, False, 1),
    _t("user-before-save", "User Before Save", "user", True, False, 1),
)}

DEFAULT_TRIGGER = "event-publish"
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


def get_trigger(trigger_id: str) -> Trigger | None:
    return TRIGGERS.get(trigger_id)


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
