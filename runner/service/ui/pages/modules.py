"""``/ui/modules``: the module server's modules (``GET /modules`` of ``[service] modules_url``),
each with a query form built from its config (:mod:`..forms`); sending it posts to the server's
``/query`` and shows the answer: stateless module execution, as the MISP training shows it with
``curl``. The server is asked by the service (the browser never talks to it), and one that does
not answer gets a page saying which address and why, never a blank one.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from misp_modules.lib.redact import redact
from runner.service.ui import forms, runview
from runner.service.ui.pages.base import Page, PageError

SAMPLE_EVENT = {"Event": {"id": "1", "uuid": "5f2d7c1e-8b4a-4e3f-9c6d-1a0b2c3d4e5f", "info": "An example event",
                          "threat_level_id": "2", "published": False, "distribution": "1",
                          "Tag": [{"name": "tlp:white"}],
                          "Attribute": [{"id": "1", "uuid": "6a1b7c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "type": "ip-dst",
                                         "category": "Network activity", "value": "198.51.100.7", "to_ids": True,
                                         "Tag": [{"name": "PAP:AMBER"}]},
                                        {"id": "2", "uuid": "7b2c8d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e", "type": "md5",
                                         "category": "Payload delivery", "value": "0749bae92ca336a02c83d126e04ec628",
                                         "to_ids": False}]}}


async def fetch(page: Page, method: str, path: str, body: bytes | None = None, timeout: float = 10.0) -> tuple[int, Any]:
    """``(status, decoded JSON)`` from the module server; :class:`PageError` 502 naming the server
    and the reason when it cannot be asked."""
    url = page.ctx.service.config.modules_url.rstrip("/") + path
    try:
        response = await AsyncHTTPClient().fetch(url, method=method, body=body, request_timeout=timeout,
                                                 headers={"Content-Type": "application/json"}, raise_error=False)
    except (OSError, HTTPClientError) as exc:
        raise PageError(502, f"the module server at {page.ctx.service.config.modules_url} cannot be reached "
                             f"({exc}); start it (misp-modules) or check [service] modules_url",
                        title="Module server not answering") from None
    if response.code == 599:
        raise PageError(502, f"the module server at {page.ctx.service.config.modules_url} did not answer "
                             f"({response.error}); start it (misp-modules) or check [service] modules_url",
                        title="Module server not answering")
    try:
        return response.code, orjson.loads(response.body or b"null")
    except orjson.JSONDecodeError:
        return response.code, (response.body or b"").decode("utf-8", "replace")


async def modules(page: Page) -> list[dict[str, Any]]:
    status, answer = await fetch(page, "GET", "/modules")
    if status != 200 or not isinstance(answer, list):
        raise PageError(502, f"the module server answered GET /modules with HTTP {status}", title="Module server error")
    return [m for m in answer if isinstance(m, dict) and m.get("name")]


class Modules(Page):
    async def get(self) -> None:
        entries = await modules(self)
        rows = [{"name": m["name"], "type": m.get("type"), "family": forms.family(m),
                 "title": (m.get("meta") or {}).get("name") or m["name"],
                 "description": (m.get("meta") or {}).get("description") or "",
                 "node": ((m.get("meta") or {}).get("misp_workflow") or {}).get("id")} for m in entries]
        self.page("modules.html", title="Modules", rows=rows, server=self.ctx.service.config.modules_url)


class Module(Page):
    async def _form(self, name: str) -> forms.ModuleForm:
        entry = next((m for m in await modules(self) if m["name"] == name), None)
        if entry is None:
            raise PageError(404, f"the module server has no module {name!r}", title="No such module")
        return forms.form_for(entry)

    async def get(self, name: str) -> None:
        form = await self._form(name)
        data_text = await self.blocking(self._sample)
        self.page("module.html", title=f"Module {name}", form=form, values={}, data_text=data_text,
                  event_files=self.ctx.event_files(), event=self.get_argument("event", ""),
                  convert=form.core_format, attribute_type=form.attribute_types[0] if form.attribute_types else "",
                  attribute_value="", raw_query="", result=None)

    def _sample(self) -> str:
        run_id = self.get_argument("run", "")
        if run_id:
            text = runview.input_text(self.ctx, run_id)
            if text is not None:
                return text
        name = self.get_argument("event", "")
        files = self.ctx.event_files()
        if name in files or files:
            return self.ctx.event_file(name if name in files else files[0]).decode("utf-8", "replace")
        return orjson.dumps(SAMPLE_EVENT, option=orjson.OPT_INDENT_2).decode()

    async def post(self, name: str) -> None:
        form = await self._form(name)
        values = {f.name: self.get_body_argument(f.name, "") for f in form.fields}
        data_text = self.get_body_argument("data", "")
        convert = self.get_body_argument("convert", "") == "1"
        attribute_type = self.get_body_argument("attribute_type", "")
        attribute_value = self.get_body_argument("attribute_value", "")
        raw_query = self.get_body_argument("raw_query", "").strip()
        result: dict[str, Any] = {}
        try:
            if raw_query:
                try:
                    body = orjson.loads(raw_query)
                except orjson.JSONDecodeError as exc:
                    raise forms.FormError(f"the raw query is not JSON: {exc}") from None
                if not isinstance(body, dict):
                    raise forms.FormError("the raw query must be a JSON object")
                body["module"] = name
            else:
                data = None
                if form.takes_data:
                    try:
                        data = orjson.loads(data_text or "{}")
                    except orjson.JSONDecodeError as exc:
                        raise forms.FormError(f"data: not JSON: {exc}") from None
                    if convert:
                        from misp_modules.semantics import convert as converting

                        try:
                            data = converting.to_core_format(data)
                        except Exception as exc:  # noqa: BLE001 - the trigger's normalisation refuses it
                            raise forms.FormError(f"data: cannot convert to the roaming data: {exc}") from None
                body = forms.query(form, values, data, attribute_type, attribute_value)
            started = time.perf_counter()
            status, answer = await fetch(self, "POST", "/query", orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
                                         timeout=self.ctx.service.config.node_timeout + 5)
            result = {"status": status, "answer": redact(answer), "ms": round((time.perf_counter() - started) * 1000, 1),
                      "query": redact(body)}
        except forms.FormError as exc:
            result = {"error": str(exc)}
        secret = {f.name for f in form.fields if f.kind == "password"}
        shown = {k: ("" if k in secret else v) for k, v in values.items()}
        self.page("module.html", 400 if "error" in result else 200, title=f"Module {name}", form=form, values=shown,
                  data_text=data_text, convert=convert, attribute_type=attribute_type, attribute_value=attribute_value,
                  raw_query=raw_query, result=result, event_files=self.ctx.event_files(), event="")
