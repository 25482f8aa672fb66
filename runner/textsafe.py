"""Text that came from an event or a workflow, made safe for a terminal and a log file.

Event infos, tag names, node names and module errors are data: a raw ESC, CR or NUL in them
would reach the analyst's terminal (colours, cursor moves, a line overwritten by ``\\r``) or
forge a ``workflow-execution.log`` line. Control characters are written as escapes
(``\\x1b``, ``\\r``, ``\\n``, ``\\u0085``), as Python's ``repr`` would, and nothing else changes.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with its control characters escaped; ``keep_newlines``: a message that spans
    lines by design (MISP's log messages) keeps its line breaks."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub(_escape, text) if pattern.search(text) else text
