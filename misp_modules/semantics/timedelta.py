"""MISP's relative times: ``AppModel::resolveTimeDelta`` and ``setTimestampConditions(..., true)``
(docs/misp-behaviour.md §16.3), against an explicit ``now``.

MISP reads the wall clock (``time()``, and ``strtotime()`` relative to it); here the clock is an
argument, so a run is reproducible (``misp-workflow run --now``). ``30d``/``12h``/``90m``/``45s``
(case-insensitive unit, fractional counts allowed) are ``now - N*unit``; a numeric value is
``(int)``; anything else is PHP's ``strtotime($value, now)``, of which :func:`strtotime`
reads the common forms (dates, ``@epoch``, ``now``/``today``/``yesterday``/..., ``-2 days``,
``1 week ago``, ``+1 month``, ``last month``); what MISP cannot read is ``now + 1``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

from . import php
from .errors import PhpTypeError, SemanticsError

_MULTIPLIERS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class InvalidDateSpecification(SemanticsError):
    """MISP's ``InvalidArgumentException`` (an Exception MISP's ``executeNode`` catches)."""


class Unreadable:
    """Marker result of :func:`strtotime` for a text this library does not read (PHP may)."""


UNREADABLE = Unreadable()


def resolve_time_delta(delta: Any, now: int, notes: list[str] | None = None) -> int | float:
    """``resolveTimeDelta($delta)`` at ``now``. ``notes`` collects what the caller should be told
    (a text PHP's ``strtotime`` might read that this library does not)."""
    if php.is_numeric(delta):
        return php.intval(delta)
    if php.is_array(delta):
        raise PhpTypeError("substr(): Argument #1 ($string) must be of type string, array given")
    text = "" if delta is None else php.to_string(delta)
    last = text[-1:].lower()
    if last in _MULTIPLIERS and not php.is_numeric(last):
        count = text[:-1]
        if not php.is_numeric(count):
            return now + 1  # MISP logs "Invalid time filter format"
        product = php.to_number(count) * _MULTIPLIERS[last]
        if product.__class__ is int and abs(product) >= 2**63:
            product = float(product)
        return now - product
    resolved = strtotime(text, now)
    if resolved is UNREADABLE:
        if notes is not None:
            notes.append(f"`{text}` is not a time this runner reads; it is taken as unreadable (now + 1), as MISP "
                         "takes a value PHP's strtotime() cannot read (PHP reads more forms than this runner)")
        return now + 1
    if resolved is None:
        return now + 1
    assert not isinstance(resolved, Unreadable)
    return resolved


def timestamp_value(value: Any, now: int, notes: list[str] | None = None) -> Any:
    """``setTimestampConditions($value, [], '', true)``: one resolved time, or a sorted pair.

    A list of another size is MISP's ``InvalidArgumentException`` (:class:`InvalidDateSpecification`)."""
    if not php.is_array(value):
        return resolve_time_delta(value, now, notes)
    if php.count(value) != 2:
        raise InvalidDateSpecification("Invalid date specification, must be string or array with two elements")
    items = dict(php.iter_items(value))
    items[0] = resolve_time_delta(items.get(0), now, notes)
    items[1] = resolve_time_delta(items.get(1), now, notes)
    if php.compare(items[0], items[1]) > 0:
        items[0], items[1] = items[1], items[0]
    if list(items) == [0, 1]:
        return [items[0], items[1]]
    return items


# -- strtotime (a subset) ------------------------------------------------------------------------
_UNITS = {
    "sec": ("s", 1), "secs": ("s", 1), "second": ("s", 1), "seconds": ("s", 1),
    "min": ("s", 60), "mins": ("s", 60), "minute": ("s", 60), "minutes": ("s", 60),
    "hour": ("s", 3600), "hours": ("s", 3600),
    "day": ("d", 1), "days": ("d", 1),
    "week": ("d", 7), "weeks": ("d", 7), "fortnight": ("d", 14), "fortnights": ("d", 14),
    "month": ("m", 1), "months": ("m", 1), "year": ("m", 12), "years": ("m", 12),
}
_RELATIVE = re.compile(r"([+-]?)\s*(\d+)\s*([a-z]+)")
_WORD_RELATIVE = re.compile(r"(last|next|this)\s+([a-z]+)")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[t\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
                   r"\s*(z|utc|[+-]\d{2}:?\d{2})?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_KEYWORDS = {"now": None, "today": 0, "midnight": 0, "noon": 12 * 3600, "yesterday": -86400, "tomorrow": 86400}


def strtotime(text: str, now: int) -> int | None | Unreadable:
    """PHP's ``strtotime($text, $now)`` in UTC for the forms listed in the module docstring:
    the time, ``None`` where PHP returns false (an empty text), :data:`UNREADABLE` for any other
    form (PHP reads many more; their outcome is not known here)."""
    s = text.strip().lower()
    if s == "":
        return None
    if re.fullmatch(r"@-?\d+", s):
        return int(s[1:])
    base = dt.datetime.fromtimestamp(now, dt.UTC).replace(tzinfo=None)
    if s in _KEYWORDS:
        offset = _KEYWORDS[s]
        if offset is None:
            return now
        return _epoch(base.replace(hour=0, minute=0, second=0)) + offset
    m = _DATE.fullmatch(s)
    if m:
        return _absolute(m)
    m = _US_DATE.fullmatch(s)
    if m:
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        return _checked(year, month, day, 0, 0, 0, 0)
    return _relative(s, base)


def _epoch(moment: dt.datetime) -> int:
    return calendar.timegm(moment.timetuple())


def _checked(year: int, month: int, day: int, hour: int, minute: int, second: int, offset: int) -> int | None:
    """A date and time as PHP reads it: month 0 / day 0 roll back, a day past the month's end or
    second 60 roll over (2025-02-30 is 2025-03-02); a month above 12, day above 31, hour above
    24 or minute above 59 is PHP's false (None)."""
    if month > 12 or day > 31 or hour > 24 or minute > 59 or second > 60:
        return None
    first = dt.datetime(year - 1, 12, 1) if month == 0 else dt.datetime(year, month, 1)
    moment = first + dt.timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)
    return _epoch(moment) - offset


def _absolute(m: re.Match[str]) -> int | None:
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    hour, minute, second = (int(m.group(i) or 0) for i in (4, 5, 6))
    zone = m.group(7)
    offset = 0
    if zone and zone not in ("z", "utc"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return _checked(year, month, day, hour, minute, second, offset)


def _relative(s: str, base: dt.datetime) -> int | Unreadable:
    """Sequences of ``[+-]N unit`` (``ago`` negates all before it) and ``last/next/this unit``."""
    ago = s.endswith(" ago")
    body = s[:-4].strip() if ago else s
    seconds = days = months = 0
    pos = 0
    matched = False
    while pos < len(body):
        while pos < len(body) and body[pos] == " ":
            pos += 1
        if pos >= len(body):
            break
        m = _RELATIVE.match(body, pos) or _WORD_RELATIVE.match(body, pos)
        if not m:
            return UNREADABLE
        if m.re is _RELATIVE:
            sign = -1 if m.group(1) == "-" else 1
            amount, unit = sign * int(m.group(2)), m.group(3)
        else:
            amount = {"last": -1, "next": 1, "this": 0}[m.group(1)]
            unit = m.group(2)
            if unit.startswith(("week", "fortnight")):
                return UNREADABLE  # PHP: weekday arithmetic ("last week" is not "-1 week")
        if unit not in _UNITS:
            return UNREADABLE
        kind, factor = _UNITS[unit]
        if kind == "s":
            seconds += amount * factor
        elif kind == "d":
            days += amount * factor
        else:
            months += amount * factor
        matched = True
        pos = m.end()
    if not matched:
        return UNREADABLE
    if ago:
        seconds, days, months = -seconds, -days, -months
    month_index = base.month - 1 + months
    year, month = base.year + month_index // 12, month_index % 12 + 1
    # PHP keeps the day of month and rolls over (Jan 31 + 1 month = Mar 3)
    moment = dt.datetime(year, month, 1, base.hour, base.minute, base.second) + dt.timedelta(days=base.day - 1)
    return _epoch(moment) + days * 86400 + seconds
