"""What a module declares in ``/modules`` is what the runner's catalogue reads (one set of defaults)."""

from __future__ import annotations

import pytest

from misp_modules.contract.spec import from_misp_module, from_workflow_meta, workflow_meta


@pytest.mark.parametrize("module_type, logic_kind, outputs", [("logic", None, 2), ("logic", "filter", 1),
                                                               ("logic", "concurrent", 1), ("action", None, 1)])
def test_the_reader_takes_the_writers_defaults(module_type, logic_kind, outputs) -> None:
    meta = workflow_meta(misp_id="x", module_type=module_type, name="X", version="0.2", params=[{"id": "p"}],
                         logic_kind=logic_kind)
    spec = from_workflow_meta("x_mod", meta)
    assert (spec.name, spec.kind, spec.outputs, spec.logic_kind) == ("x_mod", "runner", outputs,
                                                                   (logic_kind or "if") if module_type == "logic" else None)
    assert spec.params == ({"id": "p"},) and spec.version == "0.2"


def test_the_writer_refuses_what_the_runner_could_not_walk() -> None:
    with pytest.raises(ValueError, match="module_type"):
        workflow_meta(misp_id="x", module_type="trigger", name="X", version="0.1", params=[])
    with pytest.raises(ValueError, match="logic_kind"):
        workflow_meta(misp_id="x", module_type="logic", name="X", version="0.1", params=[], logic_kind="loop")


def test_a_misp_module_is_translated_as_misp_translates_it() -> None:
    meta = {"config": {"params": {"Data Extraction Path": {"type": "hash_path", "value": "Event.info"},
                                  "message_template": {"type": "large_string"}}, "support_filters": True}}
    spec = from_misp_module("MyAction", meta)
    assert (spec.id, spec.kind, spec.support_filters) == ("my_action", "misp-module", True)
    assert [dict(p) for p in spec.params] == [
        {"id": "data_extraction_path", "label": "Data Extraction Path", "type": "input", "placeholder": "Event.info",
         "_isHashPath": True},
        {"id": "message_template", "label": "Message Template", "type": "textarea", "placeholder": ""}]
