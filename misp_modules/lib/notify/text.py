"""Cutting a message that is longer than a service accepts into ones it does accept."""

from __future__ import annotations

from collections.abc import Callable

ELLIPSIS = "…"


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Pieces of ``text`` each at most ``limit`` long (as ``measure`` counts), cut at line
    ends where possible, else at a space, else anywhere. Joined, they give back ``text``."""
    if measure(text) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    while measure(rest) > limit:
        cut = _fit(rest, limit, measure)
        window = rest[:cut]
        for sep in ("\n", " "):
            at = window.rfind(sep)
            if at > 0:
                cut = at + 1
                break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def _fit(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """The longest prefix length of ``text`` whose measure is within ``limit`` (at least 1)."""
    if measure is len:
        return max(1, min(limit, len(text)))
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo
