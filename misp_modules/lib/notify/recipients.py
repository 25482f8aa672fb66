"""Who "All accounts", "All admins" and "Org admins" are: MISP's users as e-mail recipients.

MISP resolves these from its user database. Here the users come from MISP itself through
PyMISP (``GET /admin/users``) when a MISP connection is configured (``[misp] url`` and
``key``), otherwise from the deployment setting ``users`` (in the module's table, else in
``[modules.send_mail]``)::

    [modules.send_mail]
    users = [
      {id = 1, email = "admin@example.org", org_id = 1, site_admin = true, org_admin = true},
      {id = 7, email = "soc@example.org", org_id = 2, org_admin = true},
    ]

Disabled users never get mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from misp_modules.lib.http import OutboundError
from misp_modules.lib.misp import get_misp, misp_configured
from misp_modules.settings import get_settings

ALL_ACCOUNTS = "All accounts"
ALL_ADMINS = "All admins"
ORG_ADMINS = "Org admins"
KEYWORDS = (ALL_ACCOUNTS, ALL_ADMINS, ORG_ADMINS)


@dataclass(frozen=True)
class User:
    id: str
    email: str
    org_id: str
    site_admin: bool = False
    org_admin: bool = False
    disabled: bool = False


def directory(module: str) -> tuple[list[User], str] | None:
    """MISP's users and where they came from, or None when neither MISP nor a list is set."""
    if misp_configured():
        misp = get_misp("resolving MISP users as e-mail recipients")
        try:
            answer = misp.users()
        except Exception as exc:  # noqa: BLE001 - PyMISP raises many kinds; the reason is what matters
            raise OutboundError(f"cannot list MISP users for the recipients: {type(exc).__name__}") from None
        if isinstance(answer, Mapping) and "errors" in answer:
            raise OutboundError(f"cannot list MISP users for the recipients: {answer['errors']}")
        return [_from_misp(u) for u in answer if isinstance(u, Mapping)], "MISP"
    configured = get_settings().module_setting(module, "users", None)
    if configured is None:
        configured = get_settings().module_setting("send_mail", "users", None)
    if configured is None:
        return None
    if not isinstance(configured, list) or not all(isinstance(u, Mapping) and u.get("email") for u in configured):
        raise OutboundError(f"setting [modules.{module}] users must be a list of tables with at least an email")
    return [_from_setting(u) for u in configured], "settings"


def resolve(selection: Iterable[str], users: list[User] | None, *, log_user_id: Any = None,
            only_users: bool = True) -> list[str] | None:
    """MISP's send-mail recipient rule: ``All accounts`` is everyone; otherwise site admins
    (``All admins``), admins of the logged user's org (``Org admins``, send-log-mail; ignored
    when that user is unknown) and users whose e-mail is listed. None when nothing is asked for.

    ``only_users=False`` (the ``send_mail`` module) sends to listed addresses whether or not
    they are MISP users. Without a user directory, listed addresses are used as they are and
    keywords are an error."""
    selection = [s.strip() for s in selection if isinstance(s, str) and s.strip()]
    keywords = {s for s in selection if s in KEYWORDS}
    emails = [s for s in selection if s not in KEYWORDS]
    if users is None:
        if keywords:
            raise OutboundError(f"{', '.join(sorted(keywords))}: no MISP users to resolve this from; configure "
                              "[misp] url and key, or a users list in [modules.send_mail]")
        return _unique(emails) or None
    active = [u for u in users if not u.disabled]
    if ALL_ACCOUNTS in keywords:
        return _unique(u.email for u in active)
    wanted_orgs: set[str] = set()
    if ORG_ADMINS in keywords and log_user_id not in (None, ""):
        logged = next((u for u in users if u.id == str(log_user_id)), None)
        if logged is not None:
            wanted_orgs.add(logged.org_id)
    if not (ALL_ADMINS in keywords or emails or wanted_orgs):
        return None
    listed = {e.lower() for e in emails}
    chosen = [u.email for u in active if (ALL_ADMINS in keywords and u.site_admin) or u.email.lower() in listed
              or (u.org_admin and u.org_id in wanted_orgs)]
    return _unique(chosen if only_users else [*chosen, *emails])


def _unique(emails: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.lower(), email)
    return list(seen.values())


def _from_misp(entry: Mapping[str, Any]) -> User:
    user = entry.get("User", entry)
    role = entry.get("Role") or user.get("Role") or {}
    return User(id=str(user.get("id", "")), email=str(user.get("email", "")), org_id=str(user.get("org_id", "")),
                site_admin=_bool(role.get("perm_site_admin")), org_admin=_bool(role.get("perm_admin")),
                disabled=_bool(user.get("disabled")))


def _from_setting(entry: Mapping[str, Any]) -> User:
    return User(id=str(entry.get("id", "")), email=str(entry["email"]), org_id=str(entry.get("org_id", "")),
                site_admin=_bool(entry.get("site_admin")),
                org_admin=_bool(entry.get("org_admin")) or _bool(entry.get("site_admin")),
                disabled=_bool(entry.get("disabled")))


def _bool(value: Any) -> bool:
    return value not in (None, False, 0, "0", "", "false")
