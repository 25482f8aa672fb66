"""The log entry MISP's caller writes when a blocking run fails (``executeTrigger``, misp-behaviour.md §4.2),
from the logging descriptor the caller passes (the walk conformance cases' ``logging``)."""

from __future__ import annotations

import pytest

from misp_modules.contract.triggers import get_trigger
from runner.triggers import caller_log

EVENT = {"Event": {"id": "7", "uuid": "e-7"}}
PUBLISH = get_trigger("event-publish")


def test_without_a_descriptor_the_runner_passes_what_misps_caller_does():
    entry = caller_log(PUBLISH, EVENT, ["e1", "e2"])
    assert entry == {"action": "publish", "model": "Event", "model_id": "7",
                     "title": "Publishing stopped by a blocking workflow.", "change": "Returned message: e1, e2"}
    before_save = caller_log(get_trigger("event-before-save"), EVENT, [])
    assert (before_save["model_id"], before_save["title"]) == (
        0, "The workflow `event-before-save` prevented the saving of event (e-7)")


@pytest.mark.parametrize("logging, expected", [
    ({}, None),                                                     # empty: MISP writes nothing
    ({"message": "Custom"}, {"action": None, "model": None, "model_id": None, "title": "Custom"}),
    ({"model": "Event", "id": "9"}, {"action": None, "model": "Event", "model_id": "9",
                                     "title": "Error while executing workflow."}),
    ({"model": "Event", "action": "x", "id": 1, "message": ""}, {"action": "x", "model": "Event", "model_id": 1,
                                                                "title": "Error while executing workflow."}),
])
def test_a_given_descriptor_is_used_as_misp_uses_it(logging, expected):
    entry = caller_log(PUBLISH, EVENT, ["e"], logging)
    if expected is None:
        assert entry is None
    else:
        assert entry == {**expected, "change": "Returned message: e"}


def test_written_for_a_failure_without_errors_and_never_for_non_blocking_triggers():
    assert caller_log(PUBLISH, EVENT, [])["change"] == "Returned message: "
    assert caller_log(get_trigger("event-after-save-new"), EVENT, ["e"], {"message": "m"}) is None
