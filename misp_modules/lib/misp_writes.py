"""Apply a module's changes to MISP, or say clearly why they were not applied.

:func:`misp_modules.lib.changes.write_back` raises :class:`MispWriteError` when MISP refuses a
change, but a MISP that cannot be reached at all fails earlier, in PyMISP's constructor
(``PyMISPError``). Modules need one answer for both: the changes that did reach MISP and an
error naming the cause, with the API key masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from misp_modules.lib import changes as ch
from misp_modules.lib.redact import redact
from misp_modules.settings import get_settings


def write_changes(changes: Iterable[Mapping], *, dry_run: bool, action: str) -> tuple[list[dict], str | None]:
    """``(changes as reported, error)``: ``error`` is None when everything was applied or
    reported; otherwise the changes are those MISP accepted before the failure."""
    try:
        return ch.write_back(changes, dry_run=dry_run, action=action), None
    except ch.MispWriteError as exc:
        return exc.applied, redact(str(exc), _secrets())
    except Exception as exc:  # noqa: BLE001 - PyMISP failing to connect, TLS errors, ...
        return [], redact(f"{action}: could not write the changes to MISP: {type(exc).__name__}: {exc}", _secrets())


def _secrets() -> list[str]:
    key = get_settings().misp.key
    return [key] if key else []
