"""MISP's trigger table (docs/misp-behaviour.md §4.1): what each trigger is, whether its run blocks
the MISP operation behind it, and whether it hands the workflow MISP core format.

The server needs the ids (a module must not take one), the runner the whole table (what a run
does before the walk, ``runner.triggers``), the automation service the required data keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from misp_modules.contract.request import EMPTY_FILTERS


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

    def node_data(self) -> dict[str, Any]:
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


def _t(id_: str, name: str, scope: str, blocking: bool, core: bool, overhead: int, required: str | None = None,
       description: str = "") -> Trigger:
    return Trigger(id_, name, scope, blocking, core, overhead, required, description)


TRIGGERS: dict[str, Trigger] = {t.id: t for t in (
    _t("analyst-data-after-save", "Analyst Data After Save", "analyst-data", False, True, 1, None,
       "This trigger is called after an Analyst Data has been saved in the database"),
    _t("attribute-after-save", "Attribute After Save", "attribute", False, True, 3, "Attribute"),
    _t("enrichment-before-query", "Enrichment Before Query", "others", True, True, 1, "Event"),
    _t("event-after-save", "Event After Save", "event", False, True, 3, "Event"),
    _t("event-after-save-new", "Event After Save New", "event", False, True, 1, "Event"),
    _t("event-after-save-new-from-pull", "Event After Save New From Pull", "event", False, True, 1, "Event"),
    _t("event-before-delete", "Event Before Delete", "event", True, True, 1, "Event",
       "This trigger is called before an Event is about to be deleted from the database"),
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

TRIGGER_IDS = frozenset(TRIGGERS)
DEFAULT_TRIGGER = "event-publish"


ADHOC_PREFIX = "adhoc_"


def is_adhoc(trigger_id: object) -> bool:
    """MISP's ``isAdHocTrigger``: an ad-hoc workflow's trigger id starts with ``adhoc_``."""
    return isinstance(trigger_id, str) and trigger_id.startswith(ADHOC_PREFIX)


def adhoc_trigger(trigger_id: str) -> Trigger:
    """The trigger of an ad-hoc workflow (MISP's ``AdHocTrigger`` class, one per workflow, named by
    its ``trigger_id``): blocking (the class's flag; the editor's config says otherwise, the run
    reads the class), MISP core format (``normalizeData`` converts the data)."""
    from misp_modules.semantics.inflector import humanize

    return Trigger(trigger_id, f"Ad-Hoc Trigger {humanize(trigger_id)}", "adhoc", True, True, 1, None,
                   "Ad-Hoc trigger to be called manually")


def get_trigger(trigger_id: str) -> Trigger | None:
    """The trigger ``trigger_id``: one of MISP's table, or an ad-hoc workflow's (``adhoc_*``)."""
    found = TRIGGERS.get(trigger_id)
    if found is None and is_adhoc(trigger_id):
        return adhoc_trigger(trigger_id)
    return found
