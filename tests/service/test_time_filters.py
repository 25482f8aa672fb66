"""The runs filters' times: one reading for the API and the pages (a naive date is UTC)."""

import pytest

from runner.service.api import unix_time


def test_a_unix_time_and_dates_with_and_without_a_zone():
    assert unix_time("1700000000.5") == 1700000000.5
    assert unix_time("2026-01-02T03:04") == 1767323040.0
    assert unix_time("2026-01-02T05:04+02:00") == 1767323040.0
    assert unix_time("") is None and unix_time(None) is None


def test_anything_else_is_refused():
    with pytest.raises(ValueError):
        unix_time("yesterday")
