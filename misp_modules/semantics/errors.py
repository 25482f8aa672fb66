"""Exceptions of the semantics library: where MISP's PHP would crash, we raise one of these.

Every message names what was being evaluated (the path, the operator, the module) and why it
failed, so a workflow author can fix the workflow. The PHP class each one stands for is listed
in docs/semantics.md ("Exceptions").
"""

from __future__ import annotations


class SemanticsError(Exception):
    """Base class: MISP would not return a value here (a PHP exception or error)."""


class PhpTypeError(SemanticsError, TypeError):
    """PHP raises ``TypeError`` (e.g. ``Hash::extract`` on a string, ``preg_match`` on an array).

    MISP's ``extractData`` does not catch these (they are ``Error``s, not ``Exception``s), so
    neither does :func:`misp_modules.semantics.conditions.extract_data`.
    """


class InvalidPathError(SemanticsError, ValueError):
    """A path argument PHP rejects with an ``InvalidArgumentException`` (a path that is neither a
    string, a number, a boolean nor a list), or a path :func:`hashpath.validate` finds broken
    (invalid regex, unbalanced brackets). ``extractData`` turns the former into ``false``."""


class FilterResetError(SemanticsError):
    """``generic-filter-reset`` where MISP crashes: no snapshot to restore with a label other
    than ``all`` (PHP's ``setData(null)`` TypeError), or a snapshot that is not an array."""


class NormalizationError(SemanticsError):
    """A trigger's normalisation fails as it does in MISP ("Invalid input." / a missing key)."""


class UnsupportedDataError(SemanticsError):
    """A logic module's decision cannot be computed on this data (where MISP would crash)."""
