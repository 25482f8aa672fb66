"""PHP's ``preg_match`` for ``[key=/regex/flags]`` conditions, on the PCRE2 library PHP uses.

Python's ``re`` differs from PCRE in many corners (``\\z``, ``$`` before a final newline, ``/u``,
``\\x{..}``, POSIX classes, ``/U``...), so patterns run on real PCRE2 (the ``pcre2`` bindings),
compiled with the options PHP derives from the modifiers. As in PHP, a pattern that does not
compile is not an exception: ``preg_match`` warns and returns ``false``, so the item does not match.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import pcre2
from pcre2 import _cy as _pcre2_core

log = logging.getLogger(__name__)

# pcre2.h option bits
_ANCHORED = 0x80000000
_ALT_BSUX = 0x00000002
_CASELESS = 0x00000008
_DOLLAR_ENDONLY = 0x00000010
_DOTALL = 0x00000020
_DUPNAMES = 0x00000040
_EXTENDED = 0x00000080
_MULTILINE = 0x00000400
_NO_AUTO_CAPTURE = 0x00002000
_UCP = 0x00020000
_UNGREEDY = 0x00040000
_UTF = 0x00080000
_NEVER_BACKSLASH_C = 0x00100000

_MODIFIERS = {
    "i": _CASELESS, "m": _MULTILINE, "n": _NO_AUTO_CAPTURE, "s": _DOTALL, "x": _EXTENDED,
    "A": _ANCHORED, "D": _DOLLAR_ENDONLY, "S": 0, "X": 0, "U": _UNGREEDY, "u": _UTF | _UCP,
    "J": _DUPNAMES, " ": 0, "\n": 0, "\r": 0,
}
_BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}


class PhpRegexWarning(UserWarning):
    """A warning PHP's ``preg_match`` would emit (the match then fails)."""


@dataclass(frozen=True)
class Regex:
    """A PHP regex literal, compiled; ``error`` is PHP's warning when it cannot be used."""

    source: str
    pattern: Any = None
    error: str | None = None

    def match(self, subject: str) -> bool:
        """``preg_match($source, $subject) === 1``; a broken pattern warns and never matches."""
        if self.pattern is None:
            warnings.warn(str(self.error), PhpRegexWarning, stacklevel=3)
            return False
        try:
            return self.pattern.search(subject.encode("utf-8", "surrogateescape")) is not None
        except pcre2.LibraryError as exc:  # match/backtrack limits: preg_match returns false
            log.warning("preg_match(%r) failed: %s", self.source, exc)
            return False


def _split_literal(source: str) -> tuple[str, str] | str:
    """``(pattern, modifiers)`` of a delimited PHP regex, or PHP's warning text."""
    text = source.lstrip(" \t\n\r\v\f")
    if not text:
        return "preg_match(): Empty regular expression"
    start = text[0]
    if start.isalnum() or start in "\\\0":
        return "preg_match(): Delimiter must not be alphanumeric, backslash, or NUL"
    end = _BRACKETS.get(start, start)
    depth, i = 1, 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            i += 2
            continue
        if ch == end:
            depth -= 1
            if depth <= 0:
                break
        elif ch == start:
            depth += 1
        i += 1
    else:
        kind = "delimiter" if start == end else "matching delimiter"
        return f"preg_match(): No ending {kind} '{end}' found"
    return text[1:i], text[i + 1:]


@functools.lru_cache(maxsize=1024)
def compile_php_regex(source: str) -> Regex:
    """Compile a PHP regex literal such as ``/^tlp:/i`` the way ``preg_match`` does."""
    parts = _split_literal(source)
    if isinstance(parts, str):
        return Regex(source, error=parts)
    body, modifiers = parts
    options = 0
    for modifier in modifiers:
        if modifier == "e":
            return Regex(source, error="preg_match(): The /e modifier is no longer supported, "
                                       "use preg_replace_callback instead")
        if modifier not in _MODIFIERS:
            what = f"Unknown modifier '{modifier}'" if modifier != "\0" else "NUL is not a valid modifier"
            return Regex(source, error=f"preg_match(): {what}")
        options |= _MODIFIERS[modifier]
    try:
        # PHP passes neither ALT_BSUX nor NEVER_BACKSLASH_C, which the bindings add by default.
        code = _pcre2_core.compile(body.encode("utf-8", "surrogateescape"), options,
                                   _ALT_BSUX | _NEVER_BACKSLASH_C | (0 if options & _UTF else _UCP))
        _pcre2_core.jit_compile(code)
    except pcre2.PatternError as exc:
        reason = exc.msg.split("; ", 1)[-1]
        return Regex(source, error=f"preg_match(): Compilation failed: {reason} at offset {exc.pos}")
    return Regex(source, pcre2.Pattern(code, body, 0, True, None))


def preg_match(source: str, subject: str) -> bool:
    """True when PHP's ``preg_match($source, $subject)`` returns 1."""
    return compile_php_regex(source).match(subject)
