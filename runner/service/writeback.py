"""Writing a run's changes to MISP once, and telling the guard what those writes will cause.

The runner's change records (docs/contract.md §4) are replayed through PyMISP
(``misp_modules.lib.misp_writes.apply_to_misp``), one change at a time, each under an idempotency
key ``(run id, change index)``: once applied it is marked in the backend, and a redelivered
run (its worker was killed) skips what is marked. The one gap, a worker killed between MISP's
answer and the mark, is closed by making every change safe to apply twice: tags, fields,
publication and warninglist values are idempotent in MISP, and the adds that are not
(``add_attribute``, ``add_object``) get a uuid derived from the idempotency key, so a second
add is refused by MISP as a duplicate, which counts as done.

Around the writes the service reads the event's timestamp (before, after) and records the
range as its own write, and one fingerprint per tag it attached: the feed messages those
writes cause are recognised and not run (:mod:`runner.service.guard`).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.service.backend import Backend
from runner.service.feedmap import tag_fingerprint
from runner.service.misp import MispClients, MispRefused, MispTransient, is_transient

IDEMPOTENCY_NAMESPACE = uuidlib.UUID("9b8f3f36-2a57-4b0c-9d3e-6f0f4a1c2e71")
_ALREADY = re.compile(r"already exists|already attached|not attached|already in use|already been", re.IGNORECASE)


class WriteTransient(RuntimeError):
    """A write failed in a way worth retrying; the changes marked so far stay marked."""


@dataclass(frozen=True)
class EventRef:
    id: str | None
    uuid: str | None

    @property
    def key(self) -> str:
        return f"event:{self.id}" if self.id else f"event-uuid:{self.uuid}"


def idempotency_uuid(run_id: str, index: int) -> str:
    return str(uuidlib.uuid5(IDEMPOTENCY_NAMESPACE, f"{run_id}:{index}"))


def prepare(changes: list[Mapping], run_id: str) -> list[dict]:
    """The changes as they will be written: adds get their idempotency uuid."""
    out = []
    for i, change in enumerate(changes):
        change = dict(change)
        for field in ("attribute", "object"):
            if change.get("op") == f"add_{field}" and isinstance(change.get(field), Mapping):
                item = dict(change[field])
                item.setdefault("uuid", idempotency_uuid(run_id, i))
                change[field] = item
        out.append(change)
    return out


class WriteBack:
    def __init__(self, clients: MispClients, backend: Backend, *, enabled: bool, own_write_ttl: float) -> None:
        self.clients = clients
        self.backend = backend
        self.enabled = enabled
        self.own_write_ttl = own_write_ttl

    def apply(self, task_id: str, run_id: str, changes: list[dict], event: EventRef) -> list[dict[str, Any]]:
        """Write ``changes``; one entry per change: ``state`` applied, already (applied
        before: a redelivery), refused (MISP said no; not retried), or not-written (no MISP
        connection, or ``[misp] write_back = false``). :class:`WriteTransient` to retry."""
        from misp_modules.contract.changes import describe
        from misp_modules.lib.misp_writes import MispWriteError, apply_to_misp

        if not changes:
            return []
        if not self.enabled or not self.clients.configured:
            why = "write-back is off ([misp] write_back = false)" if self.clients.configured else "no [misp] connection"
            return [{"index": i, "change": describe(c), "state": "not-written", "note": why}
                    for i, c in enumerate(changes)]
        done = self.backend.written(task_id)
        report: list[dict[str, Any]] = []
        before = self._timestamp(event) if len(done) < len(changes) else None
        wrote = False
        for i, change in enumerate(changes):
            text = describe(change)
            if i in done:
                report.append({"index": i, "change": text, "state": "already", "note": done[i]})
                continue
            clean = {k: v for k, v in change.items() if k not in ("node", "applied")}
            try:
                client = self.clients.get()
                apply_to_misp(client, [clean])
                state, note = "applied", "applied"
            except MispWriteError as exc:
                message = str(exc)
                if _ALREADY.search(message) or self._added_before(change):
                    state, note = "already", f"MISP had it already: {message}"
                elif is_transient(message):
                    self.clients.drop()
                    raise WriteTransient(f"writing change {i} ({text}): {message}") from None
                else:
                    state, note = "refused", message
            except MispTransient as exc:
                raise WriteTransient(f"writing change {i} ({text}): {exc}") from None
            except MispRefused as exc:
                state, note = "refused", str(exc)
            self.backend.mark_written(task_id, i, note if state != "applied" else state)
            report.append({"index": i, "change": text, "state": state, "note": note})
            if state == "applied":
                wrote = True
                if change.get("op") == "attach_tag":
                    self.backend.add_fingerprint(tag_fingerprint(event.id, str(change.get("tag"))), run_id,
                                                 self.own_write_ttl)
        if wrote and before is not None:
            after = self._timestamp(event)
            if after is not None and after > before:
                self.backend.add_own_write(event.key, before, after, run_id, self.own_write_ttl)
        return report

    def _added_before(self, change: Mapping) -> bool:
        """Whether an add MISP refused is there already: the attribute or object with the
        change's idempotency uuid exists (an earlier delivery added it)."""
        kind = {"add_attribute": "attribute", "add_object": "object"}.get(str(change.get("op")))
        uuid = (change.get(kind) or {}).get("uuid") if kind else None
        if not uuid:
            return False
        fetch = (lambda c: c.get_attribute(uuid, pythonify=False)) if kind == "attribute" else (
            lambda c: c.get_object(uuid, pythonify=False))
        try:
            found = self.clients.call(f"looking up {kind} {uuid}", fetch)
        except (MispRefused, MispTransient):
            return False
        return isinstance(found, Mapping) and (found.get("Attribute") or found.get("Object") or {}).get("uuid") == uuid

    def _timestamp(self, event: EventRef) -> float | None:
        ref = event.uuid or event.id
        if not ref:
            return None
        try:
            return self.clients.event_timestamp(ref)
        except MispTransient as exc:
            raise WriteTransient(str(exc)) from None
        except MispRefused:
            return None
