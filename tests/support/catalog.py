"""A module catalog for unit tests of the runner, built with the real declaration
(``misp_modules.lib.declaration.declare``) the runner-only modules use, so it has their shape."""

from __future__ import annotations

from misp_modules.lib.declaration import declare
from runner.catalog import Catalog


def _entry(name: str, **kw) -> dict:
    node = declare(description=name, name=name, **kw)
    return {"name": name.replace("-", "_"), "type": "logic_mod" if kw["module_type"] == "logic" else "action_mod",
            "mispattributes": {}, "meta": node.version()}


ENTRIES = [
    _entry("tag-if", misp_id="tag-if", module_type="logic"),
    _entry("generic-if", misp_id="generic-if", module_type="logic"),
    _entry("concurrent-task", misp_id="concurrent-task", module_type="logic", logic_kind="concurrent",
           multiple_output_connection=True),
    _entry("generic-filter-data", misp_id="generic-filter-data", module_type="logic", logic_kind="filter"),
    _entry("stop-execution", misp_id="stop-execution", module_type="action", blocking=True, outputs=0,
           params=[{"id": "message", "label": "Message", "type": "input", "default": "Execution stopped",
                    "jinja_supported": True}]),
    _entry("webhook", misp_id="webhook", module_type="action",
           params=[{"id": "url", "label": "URL", "type": "input", "jinja_supported": True}]),
    _entry("push-zmq", misp_id="push-zmq", module_type="action",
           params=[{"id": "data_extraction_path", "label": "Data extraction path", "type": "hashpath",
                    "default": ""}]),
    _entry("send-mail", misp_id="send-mail", module_type="action"),
    _entry("tag_operation", misp_id="tag_operation", module_type="action", support_filters=True,
           expect_misp_core_format=True),
    _entry("reload-full-event", misp_id="reload-full-event", module_type="action", expect_misp_core_format=True,
           needs_stored_event=True),
]


def catalog() -> Catalog:
    return Catalog.from_modules(ENTRIES)
