"""MISP's "Update blocklist" action (``blocklist-action-module``, v0.8, after MISP 2.5.1;
docs/misp-behaviour.md §16.12).

Keeps a blocklist file in sync with the event: the ``to_ids`` attributes of the chosen types
(``attributeTypesToInclude``) are added (value trimmed, a leading ``http://``/``https://``
dropped), an attribute carrying a removal tag (``removalTag`` or
``tagAttributeRemovedFromBlocklist``) takes its value out, one with warninglist hits is skipped
(``excludeWarninglist``, default ``yes``). The file is rewritten as MISP does: under an exclusive
``fcntl`` lock on ``<file>.lock``, the current file copied to ``<file>.previous``, the new content
written to ``<file>.tmp``, given the current file's permission bits and renamed over the file;
optionally a snapshot ``<file>.snapshot-<YYYYmmdd-HHMMSS>-<6 hex>`` with the ``snapshotRetention``
newest kept (by modification time). Formats: ``regex`` (a ``type=regex`` header, ``*value*``
lines), ``paloalto`` (``*value``, at most 255 bytes), ``firewall`` (verbatim); the file is read
back in the same format (existing entries unwrapped). Entries are sorted as PHP 8's ``sort()``
does (numeric strings numerically: ``9`` before ``10``).

Where MISP writes under ``<app>/webroot/misp-export``, the directory here is the setting
``[modules.blocklist_action_module] export_dir`` (created 0775 when missing, as MISP does; unset:
a node error naming the setting). The file name is the last path component of ``blocklist``; a
file that resolves outside the directory (a symlink) is refused with MISP's message.

Side effects on MISP are change records (written through PyMISP when ``[misp]`` is configured):
an attribute already in the list gets ``tagAttributeInBlocklist`` attached (local); after a
successful write each removed attribute loses ``removalTag`` + ``tagAttributeInBlocklist`` (any
locality) and gets ``tagAttributeRemovedFromBlocklist`` (local); a touch follows each attribute
whose tags changed. MISP's UI toasts (header ``Update blocklist``) are answered as ``toasts``: one
per message, for the initiator user (the request's ``initiator_user``, the runner's
``--initiator-user``), else the workflow user -- the runner's SYSTEM user, id 0, gets none, as in
MISP.

The data returned carries ``Event._blocklistDelta`` (``blocklist``, ``export_format``,
``added``, ``removed``, ``already_present``, ``skipped_warninglist``, ``snapshot``, ``written``)
and ``Event.Attribute`` / ``Event._AttributeFlattened`` narrowed to the attributes added or
already present.

MISP's quirks kept:

* a failed write (an unknown ``exportFormat``, a ``.tmp`` that cannot be written, ...) is the
  message ``Failed to write blocklist "<path>" from event "<info>".``: the node fails, but the
  roaming data is still replaced (narrowed, with the delta) and the in-list tags were attached;
* an unknown format is read as ``firewall`` (verbatim) before the write fails;
* ``tagAttributeRemovedFromBlocklist`` also counts as a removal tag, so a removed attribute
  never comes back by itself;
* the in-list tags are attached to every already-present attribute before anything is written,
  whether the write then succeeds or not; the removal tags only after a successful write;
* an attribute carrying a removal tag whose value is not in the file is simply skipped; a later
  attribute with the same value replaces the earlier one in its bucket;
* no candidate attribute: ``No attributes found to update the blocklist`` (info toast), true,
  data unchanged -- even when the file has entries;
* the lock file ``<file>.lock`` stays; ``.previous`` is best effort (a failed copy is ignored).

Where MISP crashes: ``attributeTypesToInclude`` that is not a list (its default is ``''``),
``_AttributeFlattened`` that is not a list, a tag param holding a list inside the list, a
candidate value that is null or a list: PHP ``TypeError`` (MISP's run ends), here a node error
``MISP's run would end here (PHP error): ...``.

Deviations: the export directory is a setting (above); snapshot names use the run's clock
(``now``), in UTC (PHP's ``date()`` in the server's default timezone); a dry run (``--dry-run``)
writes nothing: no change reaches MISP and the file is left as it is (a warning says what would
have been written; the data and toasts are as after a successful write). With more than 16 entries and
numeric and non-numeric strings mixed, PHP's hybrid sort may order them differently (its
comparison is not transitive); here a merge sort with the same comparison.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from typing import Any

from misp_modules.contract.reply import misp_crash, reply, toast
from misp_modules.contract.request import NodeRequest
from misp_modules.lib.attribute_copies import entries
from misp_modules.lib.declaration import declare
from misp_modules.lib.misp_edits import TagBook, event_of
from misp_modules.lib.misp_writes import write_back
from misp_modules.semantics import php
from misp_modules.semantics.errors import PhpTypeError, SemanticsError
from misp_modules.settings import get_settings

MODULE = "blocklist_action_module"
MISP_ID = "blocklist-action-module"
NAME = "Update blocklist"
PHP_TRIM = " \t\n\r\0\x0b"
PALOALTO_LIMIT = 255
FORMATS = ("regex", "paloalto", "firewall")
TAG_PICKER = {"select_options_url": "/tags/fastIndex/0.json"}

node = declare(
    misp_id=MISP_ID, module_type="action", name=NAME, version="0.8", needs_stored_event=True,
    description="Update a blocklist file with event attributes. Supports removal-by-tag, atomic writes with "
                "one-generation backup, and optional rolling filesystem snapshots.",
    features="Writes the blocklist under [modules.blocklist_action_module] export_dir; tag changes are change "
             "records written to MISP through PyMISP when configured; MISP's toasts are answered as `toasts`.",
    params=[
        {"id": "attributeTypesToInclude", "label": "List of attributes to include", "type": "picker",
         "picker_create_new": True, "placeholder": "['ip-src', 'ip-dst', 'domain', 'hostname']"},
        {"id": "blocklist", "label": "Filename of the blocklist (relative to webroot/misp-export)",
         "required": True, "type": "input"},
        {"id": "exportFormat", "label": "Export format", "type": "select", "default": "regex",
         "options": {"regex": "writes each indicator as *value* and adds a type=regex header",
                     "paloalto": "writes each indicator as *value* and truncates lines to 255 characters",
                     "firewall": "writes each indicator verbatim (one entry per line)"}},
        {"id": "excludeWarninglist", "label": "Exclude attributes that match a warninglist (only affects additions)",
         "type": "select", "default": "yes", "options": {"no": "No", "yes": "Yes"}},
        {"id": "tagAttributeInBlocklist", "label": "Tag(s) to attach to attributes already in the blocklist",
         "type": "picker", "multiple": True, "picker_options": TAG_PICKER, "placeholder": "Pick one or more tags"},
        {"id": "removalTag", "label": "Remove from blocklist if attribute carries any of these tag(s)",
         "type": "picker", "multiple": True, "picker_options": TAG_PICKER, "placeholder": "Pick one or more tags"},
        {"id": "tagAttributeRemovedFromBlocklist",
         "label": "Tag(s) to attach to attributes after they are removed from the blocklist",
         "type": "picker", "multiple": True, "picker_options": TAG_PICKER, "placeholder": "Pick one or more tags"},
        {"id": "createSnapshot", "label": "Create a filesystem snapshot of the blocklist after each successful change",
         "type": "select", "default": "no", "options": {"no": "No", "yes": "Yes"}},
        {"id": "snapshotRetention", "label": "Maximum number of snapshots to keep (older ones are deleted)",
         "type": "input", "default": "10", "placeholder": "10", "display_on": {"createSnapshot": "yes"}},
    ],
)


class _Run:
    """One execution: the errors and toasts it collects."""

    def __init__(self, req: NodeRequest) -> None:
        self.req = req
        self.errors: list[str] = []
        self.toasts: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.user = notification_user(req)

    def notify(self, message: str, variant: str) -> None:
        """``__notification``: a toast for the notification user, when it has an id."""
        if self.user is not None:
            self.toasts.append(toast(variant, NAME, message))

    def fail(self, message: str) -> dict[str, Any]:
        """``__fail``: the error, a danger toast, false."""
        self.errors.append(message)
        self.notify(message, "danger")
        return self.answer(False)

    def answer(self, result: bool, *, data: Any = None, changes: list[dict] | None = None) -> dict[str, Any]:
        extra = {"toasts": self.toasts} if self.toasts else {}
        return reply(result, errors=self.errors, data=data, changes=changes, warnings=self.warnings, **extra)


def notification_user(req: NodeRequest) -> Any:
    """The roaming data's initiator user when it has a ``User.id``, else the workflow user (the
    runner's is MISP's SYSTEM user, id 0); None when that user's id is empty (no toast)."""
    initiator = req.initiator_user
    user = initiator.get("User") if isinstance(initiator, Mapping) else None
    if isinstance(user, Mapping) and not php.is_empty(user.get("id")):
        return initiator
    return None  # the SYSTEM workflow user: id 0


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    run = _Run(req)
    try:
        return execute(run)
    except SemanticsError as exc:
        return misp_crash(f"{MISP_ID}: MISP's run would end here (PHP error): {exc}", errors=run.errors)


def execute(run: _Run) -> dict[str, Any]:
    req, p = run.req, run.req.params
    data = req.data
    event = event_of(data)
    # 2. the file name
    filename = php_basename(php_string_cast(p["blocklist"]))
    if filename in ("", ".", ".."):
        return run.fail("Blocklist filename is empty or invalid.")
    # 3. the export directory
    export_dir = get_settings().module_setting(MODULE, "export_dir")
    if not isinstance(export_dir, str) or export_dir == "":
        run.errors.append(f"{MISP_ID}: no export directory: set [modules.{MODULE}] export_dir (MISP writes under "
                          "<app>/webroot/misp-export)")
        return run.answer(False)
    if not os.path.isdir(export_dir):
        try:
            os.makedirs(export_dir, mode=0o775, exist_ok=True)
        except OSError:
            pass
        if not os.path.isdir(export_dir):
            return run.fail(f"Failed to create export directory: {export_dir}")
    if not os.path.exists(export_dir):
        return run.fail(f"Export directory does not exist: {export_dir}")
    resolved_dir = os.path.realpath(export_dir)
    path = resolved_dir + os.sep + filename
    if os.path.exists(path):
        resolved = os.path.realpath(path)
        if not resolved.startswith(resolved_dir + os.sep):
            return run.fail("Blocklist path escapes the export directory.")
        path = resolved
    # 4. normalise
    types = p["attributeTypesToInclude"]
    in_list_tags = tag_list(p["tagAttributeInBlocklist"])
    removal_tags = tag_list(p["removalTag"])
    removed_tags = tag_list(p["tagAttributeRemovedFromBlocklist"])
    exclude_warninglist = p["excludeWarninglist"] == "yes"
    export_format = p["exportFormat"]
    snapshot_on = p["createSnapshot"] == "yes"
    retention = max(php_int_cast(p["snapshotRetention"]), 1)
    # 5. existing entries
    existing = read_blocklist(path, export_format)
    existing_index = set(existing)
    # 6. candidates
    flattened = event.get("_AttributeFlattened")
    candidates = extract_attributes([] if flattened is None else flattened, types)
    # 7. none
    if not candidates:
        run.notify("No attributes found to update the blocklist", "info")
        return run.answer(True)
    # 8. buckets
    effective_removal = list(dict.fromkeys(removal_tags + removed_tags))
    book = TagBook(data, req.stored_event)
    event_uuid = event.get("uuid")
    changes: list[dict] = []
    new: dict[str, dict] = {}
    remove: dict[str, dict] = {}
    present: dict[str, dict] = {}
    skipped: dict[str, dict] = {}
    for attribute in candidates:
        value = attribute["value"]
        if effective_removal and has_any_tag(attribute, effective_removal):
            if value in existing_index:
                remove[value] = attribute
            continue
        if value in existing_index:
            present[value] = attribute
            if in_list_tags:
                _, more = book.attach("attribute", attribute, in_list_tags, True, "", event_uuid)
                changes += more
            continue
        if exclude_warninglist and attribute["warnings"]:
            skipped[value] = attribute
            continue
        new[value] = attribute
    # 9. the new list
    update = existing + list(new)
    if remove:
        update = [entry for entry in update if entry not in remove]
    update = list(dict.fromkeys(update))
    update = [php.to_string(v) for v in php.php_sort([php.php_key(v) for v in update])]
    changed = bool(new) or bool(remove)
    # 10. write, snapshot
    write_ok, snapshot = True, None
    if changed and req.dry_run:  # a dry run changes nothing: not MISP, not the file (reported as if written)
        run.warnings.append(f'dry run: blocklist "{path}" was not written ({len(update)} entries would be)')
    elif changed:
        write_ok = write_blocklist(path, update, export_format)
        if write_ok and snapshot_on:
            snapshot = create_snapshot(path, req.clock())
            prune_snapshots(path, retention)
    # 11. removal tags
    detach = list(dict.fromkeys(removal_tags + in_list_tags))
    if write_ok and remove and (detach or removed_tags):
        for attribute in remove.values():
            if detach:
                _, more = book.detach("attribute", attribute, detach, None, event_uuid)
                changes += more
            if removed_tags:
                _, more = book.attach("attribute", attribute, removed_tags, True, "", event_uuid)
                changes += more
    # 12. the notification
    info = event.get("info")
    info_text = "unknown" if info is None else php_string_cast(info)
    if changed and write_ok:
        run.notify(f'Blocklist "{path}" updated from event "{info_text}": {len(new)} indicator(s) added, '
                   f"{len(present)} already present, {len(remove)} removed, {len(skipped)} skipped (warninglist).",
                   "success")
    elif changed:
        message = f'Failed to write blocklist "{path}" from event "{info_text}".'
        run.errors.append(message)
        run.notify(message, "danger")
    else:
        run.notify(f'No changes applied to blocklist "{path}" from event "{info_text}" ({len(present)} '
                   f"indicator(s) already present, {len(skipped)} skipped (warninglist)).", "info")
    # 13. the roaming data
    delta = {"blocklist": path, "export_format": export_format, "added": list(new.values()),
             "removed": list(remove.values()), "already_present": list(present.values()),
             "skipped_warninglist": list(skipped.values()), "snapshot": snapshot, "written": changed and write_ok}
    keep = {php.php_key(a["id"]) for a in [*new.values(), *present.values()]
            if a["id"].__class__ in (str, int, bool)}
    new_event = dict(event)
    for key in ("Attribute", "_AttributeFlattened"):
        items = new_event.get(key)
        if php.is_empty(items) or not php.is_array(items):
            continue
        new_event[key] = [a for _, a in entries(items) if isinstance(a, dict) and a.get("id") is not None
                          and a["id"].__class__ in (str, int, bool) and php.php_key(a["id"]) in keep]
    new_event["_blocklistDelta"] = delta
    new_data = {**data, "Event": new_event} if isinstance(data, dict) else {"Event": new_event}
    # 14. the result; the changes to MISP
    changes, failure = write_back(changes, dry_run=req.dry_run, action=MISP_ID)
    if failure is not None:
        run.errors.append(failure)
        return run.answer(False, data=new_data, changes=changes)
    return run.answer(write_ok, data=new_data, changes=changes)


# --- PHP helpers ---------------------------------------------------------------------------------

def php_trim(text: str) -> str:
    return text.strip(PHP_TRIM)


def php_string_cast(value: Any) -> str:
    """``(string)$value``: ``Array`` for an array (PHP warns)."""
    if isinstance(value, (list, dict)):
        return "Array"
    return php.to_string(value)


def php_int_cast(value: Any) -> int:
    """``(int)$value``: an array is 1 when non-empty, else 0."""
    if isinstance(value, (list, dict)):
        return 1 if value else 0
    return php.intval(value)


def php_basename(path: str) -> str:
    """PHP's ``basename`` (``/`` separators): trailing slashes dropped, the last component."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def string_param(value: Any, what: str) -> str:
    """A value given to one of MISP's ``string``-typed parameters (coercive mode): scalars are
    converted, null and arrays are PHP ``TypeError``."""
    if value is None or isinstance(value, (list, dict)):
        raise PhpTypeError(f"{what} must be of type string, {php.php_type_name(value)} given")
    return php.to_string(value)


def tag_list(value: Any) -> list[str]:
    """``__normaliseTagList``: null/''/false none, a scalar one; trimmed, blanks and duplicates dropped."""
    if value is None or value == "" or value is False:
        return []
    items = php.array_values(value) if isinstance(value, (list, dict)) else [value]
    tags = []
    for item in items:
        if isinstance(item, (list, dict)):
            raise PhpTypeError(f"trim(): Argument #1 ($string) must be of type string, {php.php_type_name(item)} "
                               "given (a tag param holding a list)")
        tags.append(php_trim(php.to_string(item)))
    return list(dict.fromkeys(t for t in tags if t != ""))


def transform_value(value: str) -> str:
    """``__transformValue``: trimmed, a leading ``http://``/``https://`` removed."""
    return re.sub(r"^https?://", "", php_trim(value), count=1)


def extract_attributes(attributes: Any, types: Any) -> list[dict[str, Any]]:
    """``extractAttributes``: the ``to_ids`` attributes of the given types, reduced."""
    if not php.is_array(attributes):
        raise PhpTypeError(f"extractAttributes(): Argument #1 ($attributes) must be of type array, "
                           f"{php.php_type_name(attributes)} given (Event._AttributeFlattened)")
    if not php.is_array(types):
        raise PhpTypeError(f"extractAttributes(): Argument #2 ($attribute_types_to_include) must be of type array, "
                           f"{php.php_type_name(types)} given (param `attributeTypesToInclude` must be a list)")
    result = []
    for _, attribute in entries(attributes):
        if not isinstance(attribute, dict):
            continue
        if (attribute.get("type") is None or not php.in_array(attribute["type"], types)
                or attribute.get("to_ids") is None or not php.loose_eq(attribute["to_ids"], 1)):
            continue
        warnings = attribute.get("warnings")
        value = transform_value(string_param(attribute.get("value"), "__transformValue(): Argument #1 ($value)"))
        tags = attribute.get("Tag")
        all_tags = attribute.get("_allTags")
        result.append({"id": attribute.get("id"), "uuid": attribute.get("uuid"), "value": value,
                       "event_id": attribute.get("event_id"), "Tag": tags if php.is_array(tags) else [],
                       "_allTags": all_tags if php.is_array(all_tags) else [],
                       "warnings": php.is_array(warnings) and len(warnings) > 0})
    return result


def has_any_tag(attribute: Mapping[str, Any], names: list[str]) -> bool:
    """``__attributeHasAnyTag``: a case-insensitive exact name in ``Tag`` or ``_allTags``."""
    for name in names:
        needle = _ascii_lower(name)
        for key in ("Tag", "_allTags"):
            for _, tag in entries(attribute.get(key)):
                if not isinstance(tag, dict) or tag.get("name") is None:
                    continue
                if _ascii_lower(string_param(tag["name"], "strtolower(): Argument #1 ($string)")) == needle:
                    return True
    return False


def _ascii_lower(text: str) -> str:
    """PHP 8's ``strtolower``: ASCII letters only."""
    return text.translate(_LOWER)


_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


# --- the file --------------------------------------------------------------------------------------

def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def read_blocklist(path: str, export_format: Any) -> list[str]:
    """``__readBlocklist``: non-empty lines, trimmed; ``regex`` skips ``type=regex`` and unwraps
    ``*...*``, ``paloalto`` strips leading ``*``s."""
    if not os.access(path, os.R_OK):
        return []
    try:
        with open(path, "rb") as handle:
            text = _decode(handle.read())
    except OSError:
        return []
    cleaned = []
    for line in text.split("\n"):
        line = php_trim(line)
        if export_format == "regex":
            if _ascii_lower(line) == "type=regex":
                continue
            found = re.match(r"^\*(.*)\*$", line)
            if found:
                line = found.group(1)
        elif export_format == "paloalto":
            line = line.lstrip("*")
        if line != "":
            cleaned.append(line)
    return cleaned


def blocklist_lines(entries_: list[str], export_format: Any) -> list[str] | None:
    """The file's lines in the format; None for an unknown format (the write fails)."""
    lines = []
    for entry in entries_:
        entry = transform_value(entry)
        if entry == "":
            continue
        if export_format == "regex":
            lines.append(f"*{entry}*")
        elif export_format == "paloalto":
            line = _encode(f"*{entry}")
            lines.append(_decode(line[:PALOALTO_LIMIT]))
        elif export_format == "firewall":
            lines.append(entry)
        else:
            return None
    if export_format == "regex":
        lines.insert(0, "type=regex")
    return lines


def write_blocklist(path: str, entries_: list[str], export_format: Any) -> bool:
    """``__writeBlocklist``: under an exclusive lock on ``<path>.lock``, ``.previous`` (best
    effort), ``.tmp`` with the current file's permission bits, renamed over the file."""
    lines = blocklist_lines(entries_, export_format)
    if lines is None:
        return False
    output = _encode("\n".join(lines) + "\n")
    try:
        lock = open(path + ".lock", "ab")  # PHP's fopen(..., 'c'): created, never truncated
    except OSError:
        return False
    with lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except OSError:
            return False
        try:
            if os.path.exists(path):
                try:
                    shutil.copyfile(path, path + ".previous")
                except OSError:
                    pass
            tmp = path + ".tmp"
            try:
                with open(tmp, "wb") as handle:
                    handle.write(output)
            except OSError:
                return False
            if os.path.exists(path):
                try:
                    os.chmod(tmp, os.stat(path).st_mode & 0o777)
                except OSError:
                    pass
            try:
                os.replace(tmp, path)
            except OSError:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                return False
            return True
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def create_snapshot(path: str, now: int) -> str | None:
    """``__createSnapshot``: a copy named ``<path>.snapshot-<YYYYmmdd-HHMMSS>-<6 hex>`` (the
    run's clock, UTC); None when the file cannot be read or copied."""
    if not os.access(path, os.R_OK):
        return None
    snapshot = f"{path}.snapshot-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{secrets.token_hex(3)}"
    try:
        shutil.copyfile(path, snapshot)
    except OSError:
        return None
    return snapshot


def prune_snapshots(path: str, keep: int) -> None:
    """``__pruneSnapshots``: all but the ``keep`` newest snapshots (by mtime) deleted."""
    matches = sorted(glob.glob(path + ".snapshot-*"))
    if len(matches) <= keep:
        return
    matches.sort(key=_mtime, reverse=True)
    for old in matches[keep:]:
        try:
            os.unlink(old)
        except OSError:
            pass


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0  # PHP's filemtime() false
