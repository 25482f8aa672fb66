"""What differs between two runs: outcome, the path taken, the changes, the final data.

Used by ``history diff`` (two stored runs) and ``history replay`` (a stored run against its
input run again, perhaps on a newer version of the workflow). Both sides are the runner's
``--json`` documents; the path is compared as lines (``node module: status → output``) with
difflib, the changes as their descriptions, the final data as RFC 6902 operations.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any


def path_lines(doc: Mapping[str, Any]) -> list[str]:
    lines = []
    for walk, nodes in [("", doc.get("nodes") or [])] + [
            (f"[branch {b.get('job_id')}] ", b.get("nodes") or []) for b in doc.get("branches") or []]:
        for node in nodes:
            line = f"{walk}{node.get('node')} {node.get('module')}: {node.get('status')}"
            if node.get("output") is not None:
                line += f" → {node['output']}"
            if node.get("errors"):
                line += f" ({'; '.join(map(str, node['errors']))})"
            lines.append(line)
    return lines


def change_lines(doc: Mapping[str, Any]) -> list[str]:
    from misp_modules.contract.changes import describe

    return [f"node {c.get('node')}: {describe(c)}" for c in doc.get("changes") or []]


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The differences; an empty dict when the runs agree."""
    import jsonpatch

    out: dict[str, Any] = {}
    for key in ("outcome", "message"):
        if before.get(key) != after.get(key):
            out[key] = {"before": before.get(key), "after": after.get(key)}
    a, b = path_lines(before), path_lines(after)
    if a != b:
        out["path"] = list(difflib.unified_diff(a, b, "before", "after", lineterm="", n=1))[2:]
    ca, cb = change_lines(before), change_lines(after)
    if ca != cb:
        out["changes"] = list(difflib.unified_diff(ca, cb, "before", "after", lineterm="", n=0))[2:]
    da, db = before.get("data"), after.get("data")
    if before.get("data_is_input") or after.get("data_is_input"):
        # a stored run whose nodes left the data alone: compare what the nodes did to it
        from runner.service.record import data_unchanged

        if data_unchanged(before) != data_unchanged(after):
            out["data"] = [{"op": "replace", "path": "", "value": "changed by the nodes of one run only"}]
    elif da != db:
        if isinstance(da, dict) and isinstance(db, dict):
            out["data"] = jsonpatch.make_patch(da, db).patch
        else:
            out["data"] = [{"op": "replace", "path": "", "value": db}]
    return out


def render(differences: Mapping[str, Any], *, data_limit: int = 20) -> str:
    if not differences:
        return "No difference: same outcome, same path, same changes, same final data.\n"
    lines = []
    for key in ("outcome", "message"):
        if key in differences:
            lines.append(f"{key}: {differences[key]['before']!r} → {differences[key]['after']!r}")
    if "path" in differences:
        lines.append("path:")
        lines += [f"  {line}" for line in differences["path"]]
    if "changes" in differences:
        lines.append("changes:")
        lines += [f"  {line}" for line in differences["changes"]]
    if "data" in differences:
        ops = differences["data"]
        lines.append(f"final data: {len(ops)} difference(s)")
        for op in ops[:data_limit]:
            value = op.get("value")
            shown = "" if op["op"] == "remove" else f" {str(value)[:80]}"
            lines.append(f"  {op['op']} {op.get('path')}{shown}")
        if len(ops) > data_limit:
            lines.append(f"  … {len(ops) - data_limit} more")
    return "\n".join(lines) + "\n"
