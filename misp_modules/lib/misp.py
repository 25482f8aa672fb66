"""The PyMISP connection that write-back modules share, built from the deployment settings.

Modules that need a live MISP (publish, reload, blocklist, warninglist, proposals, recipients
from MISP's user list, applying tag/attribute changes) call :func:`get_misp`. Without a
configured URL and key it raises :class:`MispNotConfigured`, whose message tells the
administrator what to set.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from misp_modules.settings import MispConnection, get_settings

if TYPE_CHECKING:  # pragma: no cover
    from pymisp import PyMISP


class MispNotConfigured(RuntimeError):
    """The action needs a MISP connection and the deployment has none."""


class MispUnreachable(RuntimeError):
    """The configured MISP could not be reached or refused the key (the message says which,
    never the key)."""


_lock = threading.Lock()
_clients: dict[tuple, PyMISP] = {}


def misp_configured() -> bool:
    return get_settings().misp.configured


def get_misp(action: str = "this action") -> PyMISP:
    """A PyMISP client for the configured MISP (cached per URL/key/TLS/timeout).

    ``action`` names what needed MISP, for the error message.
    """
    conn: MispConnection = get_settings().misp
    if not conn.configured:
        raise MispNotConfigured(
            f"{action} needs a MISP connection: set [misp] url and key in the server config "
            "(or MISP_URL / MISP_KEY)"
        )
    cache_key = (conn.url, conn.key, conn.verify_tls, conn.timeout)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            from pymisp import PyMISP

            try:
                client = PyMISP(conn.url, conn.key, ssl=conn.verify_tls, timeout=conn.timeout)
            except Exception as exc:  # noqa: BLE001 - PyMISP raises PyMISPError and requests errors
                reason = str(exc).replace(conn.key, "***")
                raise MispUnreachable(f"{action}: cannot use MISP at {conn.url}: {reason}") from None
            _clients[cache_key] = client
        return client
