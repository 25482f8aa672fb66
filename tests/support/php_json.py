"""Comparing JSON values the way PHP's encoding tells them apart (``{}`` is not ``[]``)."""

from __future__ import annotations

from typing import Any


class Pairs(list):
    """A JSON object kept as its ordered (key, value) pairs, to tell ``{}`` from ``[]``."""

    def __init__(self, pairs: list) -> None:
        super().__init__(pairs)


def canonical(value: Any) -> Any:
    """A comparable form of a JSON value that keeps what PHP's encoding distinguishes."""
    if isinstance(value, Pairs):
        return ("map", tuple((k, canonical(v)) for k, v in value))
    if isinstance(value, list):
        return ("list", tuple(canonical(v) for v in value))
    if isinstance(value, bool) or value is None:
        return ("const", value)
    return (type(value).__name__, value)
