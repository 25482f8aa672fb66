"""``/ui/hashpath``: the hash-path playground. Type a path, see what MISP's ``Hash::extract``
(or ``Hash::get``) returns on an event, encoded as MISP encodes it, and where in the event the
matches are (highlighted). The evaluation is ``misp-workflow hashpath``'s (runner/cmd_hashpath.py):
the same library, the same checks of the path, the same conversion of an event to the roaming
data a workflow sees (``--convert``). The page script asks ``/ui/hashpath/eval`` as one types;
without it the form posts and the page shows the result.
"""

from __future__ import annotations

import warnings
from typing import Any

import orjson

from misp_modules.semantics import convert, hashpath, php
from misp_modules.semantics.errors import SemanticsError
from misp_modules.semantics.preg import PhpRegexWarning
from runner.service.ui import runview
from runner.service.ui.locate import locate, pointer
from runner.service.ui.pages.base import Page
from runner.service.ui.pages.modules import SAMPLE_EVENT

MAX_EVENT = 32 * 1024 * 1024
EXERCISES = [
    ("Event.info", "the event's title (a simple path: Hash::get's walk)"),
    ("Event.Tag.{n}.name", "the event's tags"),
    ("Event.Attribute.{n}.value", "every attribute's value"),
    ("Event.Attribute.{n}[type=ip-dst].value", "the ip-dst values (a condition)"),
    ("Event.Attribute.{n}[to_ids=1].value", "values flagged for IDS (loose comparison: true == 1)"),
    ("Event.Attribute.{n}[type=/^(md5|sha1|sha256)$/].value", "file hashes (a regular expression)"),
    ("Event.Attribute.{n}.Tag.{n}.name", "the attributes' tags"),
    ("Event._AttributeFlattened.{n}[type=ip-dst].uuid", "with 'convert': the flattened attributes a workflow sees"),
    ("Event.Object.{n}.Attribute.{n}[object_relation=filename].value", "objects' file names"),
]


def evaluate(event_text: str, path: str, mode: str, do_convert: bool, want_data: bool) -> dict[str, Any]:
    """The playground's answer: ``ok``, ``result`` (MISP's JSON), ``count``, ``pointers`` (JSON
    Pointers of the matches, when they can be told), ``error`` (a clear one-line reason)."""
    out: dict[str, Any] = {"ok": False}
    if len(event_text) > MAX_EVENT:
        return {**out, "error": f"the event is larger than {MAX_EVENT // (1024 * 1024)} MB"}
    try:
        data = php.loads(event_text or "null")
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {**out, "error": f"the event is not JSON: {reason}"}
    if mode not in ("extract", "get"):
        return {**out, "error": "mode: extract or get"}
    if mode == "extract":
        problem = hashpath.validate(path)
        if problem:
            return {**out, "error": f"bad path {path!r}: {problem}"}
    try:
        if do_convert:
            data = convert.to_core_format(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error", PhpRegexWarning)
            result = hashpath.get(data, path) if mode == "get" else hashpath.extract(data, path)
            places = locate(data, path) if mode == "extract" else None
    except (SemanticsError, PhpRegexWarning, ValueError, TypeError) as exc:
        return {**out, "error": f"cannot evaluate {path!r}: {exc}"}
    out.update(ok=True, result=php.dumps(result),
               count=len(result) if isinstance(result, list) and mode == "extract" else None,
               pointers=[pointer(p) for p in places] if places is not None else None, located=places is not None)
    if want_data:
        out["data"] = php.dumps(data)
    return out


class Playground(Page):
    async def get(self) -> None:
        event_text = await self.blocking(self._event_text)
        path = self.get_argument("path", "")
        do_convert = "_AttributeFlattened" in path or self.get_argument("convert", "") == "1"
        answer = await self.blocking(evaluate, event_text, path, "extract", do_convert, False) if path else None
        self.page("hashpath.html", title="Hash paths", event_text=event_text, path=path, mode="extract",
                  convert=do_convert, answer=answer, exercises=EXERCISES, event_files=self.ctx.event_files())

    def _event_text(self) -> str:
        run_id, name = self.get_argument("run", ""), self.get_argument("event", "")
        if run_id:
            text = runview.input_text(self.ctx, run_id)
            if text is not None:
                return text
        if name:
            try:
                return self.ctx.event_file(name).decode("utf-8", "replace")
            except LookupError:
                pass
        return orjson.dumps(SAMPLE_EVENT, option=orjson.OPT_INDENT_2).decode()

    async def post(self) -> None:
        event_text = self.get_body_argument("event", "")
        path = self.get_body_argument("path", "")
        mode = self.get_body_argument("mode", "extract")
        do_convert = self.get_body_argument("convert", "") == "1"
        answer = await self.blocking(evaluate, event_text, path, mode, do_convert, False)
        self.page("hashpath.html", 200 if answer["ok"] else 400, title="Hash paths", event_text=event_text, path=path,
                  mode=mode, convert=do_convert, answer=answer, exercises=EXERCISES, event_files=self.ctx.event_files())


class Evaluate(Page):
    json_endpoint = True

    async def post(self) -> None:
        try:
            body = orjson.loads(self.request.body or b"{}")
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            self.json({"ok": False, "error": "send a JSON object {event, path, mode, convert}"}, 400)
            return
        answer = await self.blocking(evaluate, str(body.get("event") or ""), str(body.get("path") or ""),
                                     str(body.get("mode") or "extract"), bool(body.get("convert")),
                                     bool(body.get("want_data")))
        self.json(answer)
