"""The one exception notification code raises for a delivery that did not happen."""

from __future__ import annotations

from collections.abc import Iterable

from misp_modules.lib.redact import redact


class NotifyError(Exception):
    """A notification was not delivered. The message says why and is safe to show to MISP.

    Build it with :func:`failure`, which masks the secrets of the call: these messages end up
    in MISP's workflow log and in our server log.
    """


def failure(message: str, secrets: Iterable[str] = ()) -> NotifyError:
    """A :class:`NotifyError` whose message has every known secret of the call masked."""
    return NotifyError(redact(message, [s for s in secrets if s]))
