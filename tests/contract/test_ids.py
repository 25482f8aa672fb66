"""Node ids: the server's name-clash check and the runner's catalogue name a module's node the
same way, MISP's (``Inflector::underscore``, ASCII lowering as in PHP 8)."""

from __future__ import annotations

import pytest

from misp_modules.contract.ids import logic_kind, node_id
from misp_modules.server.misp_nodes import clashing_node_id
from runner.catalog import Catalog


@pytest.mark.parametrize("name, expected", [("testAction", "test_action"), ("TagOperation", "tag_operation"),
                                            ("ÉvénementX", "Événement_x"), ("send-mail", "send-mail")])
def test_node_id_is_misps_underscore(name, expected) -> None:
    assert node_id(name) == expected


def test_the_clash_check_and_the_catalogue_agree_on_non_ascii_names() -> None:
    entry = {"name": "ÉvénementX", "type": "action_mod", "meta": {"module-type": ["action"], "config": {}}}
    assert Catalog.from_modules([entry]).ids() == [node_id("ÉvénementX")] == ["Événement_x"]
    assert clashing_node_id("ÉvénementX") is None
    assert clashing_node_id("TagOperation") == "tag_operation"
    assert clashing_node_id("StopExecution") is None  # stop-execution has a dash: no clash


def test_logic_kind_dispatches_on_misps_ids_first() -> None:
    assert logic_kind("concurrent-task", "if") == "concurrent"
    assert logic_kind("generic-filter-reset", None) == "filter"
    assert logic_kind("my-custom-filter", "filter") == "filter"
    assert logic_kind("my-custom-if", None) == "if"
