"""Writing a module's changes to MISP: the one write-back path (docs/contract.md §4).

Every data-changing module reports its changes as records (``misp_modules.contract.changes``)
and hands them to :func:`write_back`: applied to the configured MISP through PyMISP (each
marked ``applied``) unless the run is a dry run; without a MISP connection returned as they
are, for the runner to fold into its stored-event view -- or, for an action that only makes
sense against a live MISP (``required``: publish, blocklist, ...), an error naming what to set.
A MISP that refuses a change, or cannot be reached at all (PyMISP fails in its constructor),
is one answer for both: the changes that did reach MISP and an error naming the cause, the API
key masked. :func:`apply_to_misp` is the replay itself, which the automation service also uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from misp_modules.contract.changes import OPS, ChangeError, describe
from misp_modules.lib.misp import MispNotConfigured, MispUnreachable, get_misp, misp_configured
from misp_modules.lib.redact import redact
from misp_modules.semantics.php import array_values
from misp_modules.settings import get_settings

if TYPE_CHECKING:  # pragma: no cover
    from pymisp import PyMISP


class MispWriteError(RuntimeError):
    """Applying a change to MISP failed. The message names the change and what MISP said;
    ``applied`` holds the changes that were applied before the failure."""

    def __init__(self, message: str, applied: list[dict] | None = None, change: Mapping | None = None):
        super().__init__(message)
        self.applied = applied or []
        self.change = change


def write_back(changes: Iterable[Mapping[str, Any]], *, dry_run: bool, action: str,
               required: bool = False) -> tuple[list[dict], str | None]:
    """``(changes as reported, error)``: ``error`` is None when every change was applied, or
    reported (a dry run, no MISP connection); otherwise the changes are those MISP accepted
    before the failure and ``error`` says why, naming ``action``."""
    changes = [dict(c) for c in changes]
    if dry_run:
        return changes, None
    if misp_configured():
        if not changes:
            return changes, None
    elif not required:
        return changes, None
    try:  # without a connection, get_misp raises MispNotConfigured naming what to set
        return apply_to_misp(get_misp(action), changes), None
    except MispNotConfigured as exc:
        return [], str(exc)
    except MispWriteError as exc:
        return exc.applied, redact(str(exc), _secrets())
    except MispUnreachable as exc:
        return [], redact(str(exc), _secrets())
    except Exception as exc:  # noqa: BLE001 - PyMISP failing to connect, TLS errors, ...
        return [], redact(f"{action}: could not write the changes to MISP: {type(exc).__name__}: {exc}", _secrets())


def _secrets() -> list[str]:
    key = get_settings().misp.key
    return [key] if key else []


def apply_to_misp(misp: PyMISP, changes: Iterable[Mapping]) -> list[dict]:
    """Replay ``changes`` on MISP through PyMISP, in order; return them marked ``applied``.

    Consecutive ``set`` changes on the same entity become one edit call. A touch unpublishes the
    event (MISP's REST edits already renew attribute timestamps). Raises :class:`MispWriteError`
    naming the failing change and MISP's answer; earlier changes stay applied (``.applied``).
    """
    applied: list[dict] = []
    pending = [dict(c) for c in changes]
    unpublished: set[str] = set()
    i = 0
    while i < len(pending):
        change = pending[i]
        op = change.get("op")
        try:
            if op == "set":
                group = [change]
                while (i + len(group) < len(pending) and pending[i + len(group)].get("op") == "set"
                       and pending[i + len(group)].get("scope") == change.get("scope")
                       and pending[i + len(group)].get("uuid") == change.get("uuid")):
                    group.append(pending[i + len(group)])
                _check(change, _apply_set(misp, group))
                for item in group:
                    applied.append({**item, "applied": True})
                i += len(group)
                continue
            answer = _apply_one(misp, change, unpublished)
            if answer is not None:
                _check(change, answer)
        except MispWriteError as exc:
            exc.applied = applied
            raise
        except ChangeError:
            raise
        except Exception as exc:  # noqa: BLE001 - PyMISP and requests errors, reported with context
            raise MispWriteError(f"{describe(change)} failed: {type(exc).__name__}: {exc}",
                                 applied, change) from None
        applied.append({**change, "applied": True})
        i += 1
    return applied


def _apply_set(misp: PyMISP, group: list[Mapping]) -> Any:
    first = group[0]
    fields = {c["field"]: c["value"] for c in group}
    if first["scope"] == "attribute":
        return misp.update_attribute(fields, attribute_id=first["uuid"])
    if first["scope"] == "object":
        return misp.update_object(fields, object_id=first["uuid"])
    return misp.update_event(fields, event_id=first["uuid"])


def _apply_one(misp: PyMISP, change: Mapping, unpublished: set[str]) -> Any:
    op = change.get("op")
    if op == "attach_tag":
        return misp.tag(change["uuid"], change["tag"], local=bool(change.get("local")),
                        relationship_type=change.get("relationship_type") or None)
    if op == "detach_tag":
        return misp.untag(change["uuid"], change["tag"])
    if op == "touch":
        event_uuid = change["uuid"] if change["scope"] == "event" else change.get("event_uuid")
        if event_uuid is None:
            attribute = misp.get_attribute(change["uuid"])
            _check(change, attribute)
            event_uuid = str(attribute.get("Attribute", {}).get("event_id"))
        if event_uuid in unpublished:
            return None
        unpublished.add(event_uuid)
        return misp.unpublish(event_uuid)
    if op == "publish":
        return misp.publish(change["uuid"])
    if op == "add_eventblocklist_entry":
        return misp.add_event_blocklist(uuids=[change["event_uuid"]], comment=change.get("comment"),
                                        event_info=change.get("event_info"), event_orgc=change.get("event_orgc"))
    if op == "add_to_warninglist":
        return _append_to_warninglist(misp, change)
    if op == "accept_proposal":
        return misp.accept_attribute_proposal(change["uuid"])
    if op == "discard_proposal":
        return misp.discard_attribute_proposal(change["uuid"])
    if op == "add_attribute":
        return misp.add_attribute(change["event_uuid"], change["attribute"])
    if op == "add_object":
        return misp.add_object(change["event_uuid"], change["object"])
    if op == "add_analyst_data":
        return misp.add_analyst_data(_analyst_data(change))
    raise ChangeError(f"unknown change op {op!r} (expected one of: {', '.join(OPS)})")


def _analyst_data(change: Mapping) -> Any:
    """The PyMISP object for an ``add_analyst_data`` change (PyMISP checks it: an opinion outside
    0..100, a note or comment missing, an unknown related type raise, naming the field)."""
    from pymisp import MISPNote, MISPOpinion, MISPRelationship

    kinds = {"Note": MISPNote, "Opinion": MISPOpinion, "Relationship": MISPRelationship}
    kind = kinds.get(change["type"])
    if kind is None:
        raise ChangeError(f"add_analyst_data: unknown analyst data type {change['type']!r}")
    item = kind()
    item.from_dict(**{**dict(change["fields"]), "object_type": change["object_type"],
                      "object_uuid": change["object_uuid"]})
    return item


def _append_to_warninglist(misp: PyMISP, change: Mapping) -> Any:
    """MISP re-imports the whole custom list: read its entries, append the new values, save."""
    wl_id = change["warninglist_id"]
    current = misp.get_warninglist(wl_id)
    _check(change, current)
    wl = current.get("Warninglist", current)
    entries = [e for e in array_values(wl.get("WarninglistEntry")) if isinstance(e, dict)]
    known = {str(e.get("value")) for e in entries}
    lines = [e["value"] + (f" # {e['comment']}" if e.get("comment") else "") for e in entries]
    for value in change.get("values", []):
        if str(value) not in known:
            known.add(str(value))
            lines.append(str(value))
    types = [t.get("type") for t in array_values(wl.get("WarninglistType")) if isinstance(t, dict)]
    payload = {"Warninglist": {"name": wl.get("name"), "description": wl.get("description"),
                               "type": wl.get("type"), "category": wl.get("category"),
                               "matching_attributes": types, "entries": "\n".join(lines)}}
    return misp.direct_call(f"warninglists/edit/{wl_id}", payload)


def _check(change: Mapping, answer: Any) -> None:
    """PyMISP returns MISP's error answers instead of raising: turn them into an exception."""
    failed = False
    said: Any = None
    if isinstance(answer, Mapping):
        if answer.get("errors"):
            failed, said = True, answer["errors"]
        elif answer.get("saved") is False or answer.get("success") is False:
            failed, said = True, answer.get("message") or answer.get("errors") or answer
    elif isinstance(answer, str):
        failed, said = True, answer[:500]
    if failed:
        if isinstance(said, (list, tuple)) and len(said) == 2 and isinstance(said[0], int):
            status, body = said
            if isinstance(body, Mapping):
                body = body.get("message") or body.get("errors") or body
            said = f"HTTP {status}: {body}"
        raise MispWriteError(f"{describe(change)} failed: MISP said: {said}", change=change)
