"""A local MISP REST API for the real PyMISP client (only the endpoints this project calls).

PyMISP's constructor calls ``servers/getVersion``, ``users/view/me`` and
``attributes/describeTypes.json``; the write-back modules then call the tag, attribute, event,
object, publish, blocklist, warninglist, proposal and search endpoints below. Answers have
MISP's shapes (``{"saved": true, "success": ...}`` for tag operations, ``{"Event": ...}`` for
event views, ``{"response": ...}`` around restSearch results). The API key is checked like
MISP does (``Authorization`` header): a wrong key gets MISP's 403.

State: ``events`` (uuid -> ``{"Event": ...}``), ``warninglists`` (id -> warninglist),
``decay_scores`` (attribute uuid -> ``decay_score`` list); added attributes and objects are
appended to their event. ``fail[path_prefix] = (status,
body)`` makes matching requests fail; ``holds[path_prefix] = threading.Event()`` makes them wait
until it is set (``held`` is set when one starts waiting). ``calls(path_prefix)`` lists the JSON bodies received.

With a ``feed`` (tests/support/feed.py), every write also publishes what MISP's ZeroMQ feed
carries for it, as MISP does on save (docs/misp-behaviour.md §4.1, §4.3): the changed object on
its topic (``misp_json_tag`` "attached to event", ``misp_json_attribute``, ``misp_json_object``)
and the event, touched, on ``misp_json_event`` (``edit``; ``publish`` with the whole event). A
write renews the event's ``timestamp`` (and the attribute's): the next second, or later, so two
writes never share one (MISP's own resolution is the second).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymisp

from tests.support.fakes.base import FakeService, Request, Response

API_KEY = "Zt8Jd0c2kqVYmOHx3nrE6pWwGf1aLbUs9TiCvNoR"  # 40 chars, like a MISP automation key
VERSION = "2.5.1"
DESCRIBE_TYPES = json.loads((Path(pymisp.__file__).parent / "data" / "describeTypes.json").read_text())["result"]


class MispFake(FakeService):
    def __init__(self, key: str = API_KEY, events: list[dict] | None = None, feed: Any = None) -> None:
        self.key = key
        self.feed = feed
        self._write_lock = threading.RLock()
        self.events: dict[str, dict] = {}
        self.warninglists: dict[str, dict] = {}
        self.decay_scores: dict[str, list] = {}
        self.blocklist: list[dict] = []
        self.fail: dict[str, tuple[int, Any]] = {}
        self.holds: dict[str, threading.Event] = {}  # path prefix -> requests wait until it is set
        self.held = threading.Event()  # set when a request starts waiting on a hold
        self.users: list[dict] = []
        self.analyst_data: list[dict] = []  # every saved Note/Opinion/Relationship, {type: record}  # {"User": ..., "Role": ..., "Organisation": ...} as /admin/users/index lists them
        for event in events or []:
            self.add_event(event)
        self.routes: list[tuple[str, re.Pattern, Callable[..., Response]]] = [
            ("GET", re.compile(r"/servers/getVersion$"), self.version),
            ("GET", re.compile(r"/users/view/me$"), self.me),
            ("GET", re.compile(r"/attributes/describeTypes\.json$"), self.describe_types),
            ("POST", re.compile(r"/tags/attachTagToObject$"), self.attach_tag),
            ("POST", re.compile(r"/tags/removeTagFromObject$"), self.remove_tag),
            ("POST", re.compile(r"/attributes/edit/([\w-]+)$"), self.edit_attribute),
            ("POST", re.compile(r"/events/edit/([\w-]+)$"), self.edit_event),
            ("POST", re.compile(r"/objects/edit/([\w-]+)$"), self.edit_object),
            ("POST", re.compile(r"/events/publish/([\w-]+)$"), self.publish),
            ("POST", re.compile(r"/events/unpublish/([\w-]+)$"), self.unpublish),
            ("GET", re.compile(r"/events/view/([\w-]+)$"), self.view_event),
            ("GET", re.compile(r"/attributes/view/([\w-]+)$"), self.view_attribute),
            ("GET", re.compile(r"/objects/view/([\w-]+)$"), self.view_object),
            ("POST", re.compile(r"/eventBlocklists/add$"), self.add_blocklist),
            ("GET", re.compile(r"/warninglists/view/(\d+)$"), self.view_warninglist),
            ("POST", re.compile(r"/warninglists/edit/(\d+)$"), self.edit_warninglist),
            ("POST", re.compile(r"/shadowAttributes/(accept|discard)/([\w-]+)$"), self.proposal),
            ("POST", re.compile(r"/attributes/restSearch$"), self.search_attributes),
            ("POST", re.compile(r"/events/restSearch$"), self.search_events),
            ("POST", re.compile(r"/attributes/add/([\w-]+)$"), self.add_attribute),
            ("POST", re.compile(r"/objects/add/([\w-]+)$"), self.add_object),
            ("GET", re.compile(r"/admin/users/index$"), self.list_users),
            # AnalystDataController::add($type, $object_uuid, $object_type); CakePHP routes both spellings
            ("POST", re.compile(r"/(?:analyst_data|analystData)/add/(\w+)/([\w-]+)/(\w+)$"), self.add_analyst_data),
        ]
        super().__init__()

    # --- state helpers -------------------------------------------------------------------
    def add_event(self, event: dict) -> None:
        wrapped = copy.deepcopy(event if "Event" in event else {"Event": event})
        self.events[wrapped["Event"]["uuid"]] = wrapped

    def event(self, ref: str) -> dict | None:
        for wrapped in self.events.values():
            if ref in (wrapped["Event"].get("uuid"), str(wrapped["Event"].get("id"))):
                return wrapped
        return None

    def attributes(self):
        for wrapped in self.events.values():
            event = wrapped["Event"]
            for attribute in event.get("Attribute") or []:
                yield event, attribute
            for obj in event.get("Object") or []:
                for attribute in obj.get("Attribute") or []:
                    yield event, attribute

    def find_attribute(self, ref: str) -> tuple[dict, dict] | tuple[None, None]:
        for event, attribute in self.attributes():
            if ref in (attribute.get("uuid"), str(attribute.get("id"))):
                return event, attribute
        return None, None

    def calls(self, prefix: str) -> list[Any]:
        """JSON bodies of the requests whose path starts with ``prefix`` (None for no body)."""
        return [r.json() if r.body else None for r in self.requests if r.path.startswith(prefix)]

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def writes(self) -> list[str]:
        """The write requests received (what a write-back did), in order."""
        return [p for p in self.paths() if p.startswith("POST ") and "restSearch" not in p]

    # --- the feed ---------------------------------------------------------------------------
    @staticmethod
    def _renew(holder: dict) -> None:
        holder["timestamp"] = str(max(int(holder.get("timestamp") or 0) + 1, int(time.time())))

    def light_event(self, event: dict) -> dict:
        """The event's own fields and tags, as MISP's feed carries a saved event."""
        return {k: v for k, v in event.items() if k not in ("Attribute", "Object", "ShadowAttribute",
                                                            "RelatedEvent", "EventReport")}

    def touched(self, event: dict, *published: tuple[str, dict]) -> None:
        """``event`` changed: renew its timestamp, then publish ``published`` and the event's edit."""
        self._renew(event)
        if self.feed is None:
            return
        for topic, message in published:
            self.feed.publish(topic, message)
        self.feed.publish("misp_json_event", {"Event": self.light_event(event), "action": "edit"})

    def edit_externally(self, ref: str, **fields: Any) -> dict:
        """Someone edits the event in MISP's UI: its fields change and the feed says so."""
        with self._write_lock:
            event = self.event(ref)["Event"]
            event.update(fields)
            self.touched(event)
            return copy.deepcopy(event)

    def event_of(self, target: dict) -> dict | None:
        for wrapped in self.events.values():
            if wrapped["Event"] is target:
                return target
        for event, attribute in self.attributes():
            if attribute is target:
                return event
        return None

    # --- dispatch --------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.header("Authorization") != self.key:
            return Response.json({"name": "Authentication failed. Please make sure you pass the API key of an "
                                          "API enabled user along in the Authorization header.",
                                  "message": "Authentication failed. Please make sure you pass the API key of an "
                                             "API enabled user along in the Authorization header.",
                                  "url": request.path}, status=403)
        for prefix, gate in list(self.holds.items()):
            if request.path.startswith(prefix):
                self.held.set()
                gate.wait(60)
        for prefix, (status, body) in self.fail.items():
            if request.path.startswith(prefix):
                return Response.json(body, status=status)
        for method, pattern, action in self.routes:
            match = pattern.search(request.path)
            if match and request.method == method:
                return action(request, *match.groups())
        return Response.json({"name": "Not Found", "message": "Not Found", "url": request.path}, status=404)

    # --- endpoints -------------------------------------------------------------------------
    def version(self, request: Request) -> Response:
        return Response.json({"version": VERSION, "pymisp_recommended_version": pymisp.__version__,
                              "perm_sync": False, "perm_sighting": False, "perm_galaxy_editor": False,
                              "request_encoding": ["gzip", "br"], "filter_sightings": True})

    def me(self, request: Request) -> Response:
        return Response.json({
            "User": {"id": "1", "org_id": "1", "email": "admin@admin.test", "role_id": "1", "disabled": False,
                     "autoalert": False, "termsaccepted": True, "change_pw": False, "contactalert": False},
            "Role": {"id": "1", "name": "admin", "perm_add": True, "perm_modify": True, "perm_modify_org": True,
                     "perm_publish": True, "perm_sync": False, "perm_admin": True, "perm_site_admin": True,
                     "perm_auth": True, "perm_tagger": True, "perm_tag_editor": True, "perm_audit": True},
            "Organisation": {"id": "1", "name": "ORGNAME", "uuid": "c5de83b4-36ba-49d6-9530-2a315caeece6"},
            "UserSetting": {},
        })

    def list_users(self, request: Request) -> Response:
        return Response.json(self.users)

    def describe_types(self, request: Request) -> Response:
        return Response.json({"result": DESCRIBE_TYPES})

    def _tag_target(self, uuid: str) -> tuple[dict | None, str]:
        if uuid in self.events:
            return self.events[uuid]["Event"], "Event"
        _, attribute = self.find_attribute(uuid)
        return attribute, "Attribute"

    def attach_tag(self, request: Request) -> Response:
        body = request.json()
        target, kind = self._tag_target(body.get("uuid"))
        if target is None:
            return Response.json({"saved": False, "errors": "Invalid Target."}, status=404)
        with self._write_lock:
            tags = target.setdefault("Tag", [])
            if not any(t.get("name") == body["tag"] for t in tags):
                tag = {"name": body["tag"], "local": 1 if body.get("local") else 0,
                       "relationship_type": body.get("relationship_type")}
                tags.append(tag)
                event = self.event_of(target)
                if kind == "Attribute":
                    self._renew(target)
                message = {"Tag": {**tag, "event_id": event.get("id"),
                                   **({"attribute_id": target.get("id")} if kind == "Attribute" else {})},
                           "action": f"attached to {kind.lower()}"}
                self.touched(event, ("misp_json_tag", message))
        return Response.json({"saved": True, "success": f"Tag(s) attached to {kind}.", "check_publish": True})

    def remove_tag(self, request: Request) -> Response:
        body = request.json()
        target, kind = self._tag_target(body.get("uuid"))
        if target is None:
            return Response.json({"saved": False, "errors": "Invalid Target."}, status=404)
        with self._write_lock:
            before = len(target.get("Tag") or [])
            target["Tag"] = [t for t in target.get("Tag") or [] if t.get("name") != body.get("tag")]
            if len(target["Tag"]) == before:
                return Response.json({"saved": False, "errors": "Invalid tag or tag is not attached."}, status=404)
            event = self.event_of(target)
            self.touched(event, ("misp_json_tag", {"Tag": {"name": body.get("tag"), "event_id": event.get("id")},
                                                   "action": f"detached from {kind.lower()}"}))
        return Response.json({"saved": True, "success": f"Tag removed from {kind}.", "check_publish": True})

    def edit_attribute(self, request: Request, ref: str) -> Response:
        _, attribute = self.find_attribute(ref)
        if attribute is None:
            return Response.json({"name": "Invalid attribute", "message": "Invalid attribute", "url": request.path},
                                 status=404)
        body = request.json()
        with self._write_lock:
            attribute.update(body.get("Attribute", body))
            self._renew(attribute)
            event = self.event_of(attribute)
            self.touched(event, ("misp_json_attribute", {"Attribute": attribute, "Event": self.light_event(event),
                                                         "action": "edit"}))
        return Response.json({"Attribute": attribute})

    def edit_event(self, request: Request, ref: str) -> Response:
        wrapped = self.event(ref)
        if wrapped is None:
            return Response.json({"name": "Invalid event", "message": "Invalid event", "url": request.path}, 404)
        body = request.json()
        with self._write_lock:
            wrapped["Event"].update(body.get("Event", body))
            self.touched(wrapped["Event"])
        return Response.json(wrapped)

    def edit_object(self, request: Request, ref: str) -> Response:
        for wrapped in self.events.values():
            for obj in wrapped["Event"].get("Object") or []:
                if ref in (obj.get("uuid"), str(obj.get("id"))):
                    body = request.json()
                    obj.update(body.get("Object", body))
                    return Response.json({"Object": obj})
        return Response.json({"name": "Invalid object", "message": "Invalid object", "url": request.path}, 404)

    def publish(self, request: Request, ref: str) -> Response:
        wrapped = self.event(ref)
        if wrapped is None:
            return Response.json({"name": "Invalid event", "message": "Invalid event", "url": request.path}, 404)
        with self._write_lock:
            wrapped["Event"]["published"] = True
            self._renew(wrapped["Event"])
            if self.feed is not None:
                self.feed.publish("misp_json_event", {"Event": copy.deepcopy(wrapped["Event"]), "action": "publish"})
        return Response.json({"name": "Publish", "message": "Job queued", "url": f"/events/publish/{ref}",
                              "id": str(wrapped["Event"].get("id", ref))})

    def unpublish(self, request: Request, ref: str) -> Response:
        wrapped = self.event(ref)
        if wrapped is None:
            return Response.json({"name": "Invalid event", "message": "Invalid event", "url": request.path}, 404)
        wrapped["Event"]["published"] = False
        return Response.json({"saved": True, "success": True, "name": "Event unpublished.",
                              "message": "Event unpublished.", "url": f"/events/unpublish/{ref}"})

    def view_event(self, request: Request, ref: str) -> Response:
        wrapped = self.event(ref)
        if wrapped is None:
            return Response.json({"name": "Invalid event.", "message": "Invalid event.", "url": request.path}, 404)
        return Response.json(wrapped)

    def view_attribute(self, request: Request, ref: str) -> Response:
        event, attribute = self.find_attribute(ref)
        if attribute is None:
            return Response.json({"name": "Invalid attribute", "message": "Invalid attribute", "url": request.path},
                                 404)
        return Response.json({"Attribute": {**attribute, "event_id": event.get("id", event.get("uuid"))}})

    def view_object(self, request: Request, ref: str) -> Response:
        for wrapped in self.events.values():
            for obj in wrapped["Event"].get("Object") or []:
                if ref in (obj.get("uuid"), str(obj.get("id"))):
                    return Response.json({"Object": obj})
        return Response.json({"name": "Invalid object", "message": "Invalid object", "url": request.path}, 404)

    def add_blocklist(self, request: Request) -> Response:
        body = request.json()
        for uuid in body.get("uuids") or []:
            self.blocklist.append({"event_uuid": uuid, **{k: v for k, v in body.items() if k != "uuids"}})
        return Response.json({"result": {"successes": body.get("uuids") or [], "fails": []}})

    def view_warninglist(self, request: Request, wl_id: str) -> Response:
        if wl_id not in self.warninglists:
            return Response.json({"name": "Warninglist not found.", "message": "Warninglist not found.",
                                  "url": request.path}, 404)
        return Response.json({"Warninglist": self.warninglists[wl_id]})

    def edit_warninglist(self, request: Request, wl_id: str) -> Response:
        wl = self.warninglists.get(wl_id)
        if wl is None or wl.get("default"):
            return Response.json({"name": "Invalid warninglist", "message": "Invalid warninglist",
                                  "url": request.path}, 404)
        body = request.json()["Warninglist"]
        entries = []
        for line in str(body.get("entries", "")).splitlines():
            value, _, comment = line.partition(" # ")
            if value.strip():
                entries.append({"value": value.strip(), "comment": comment.strip(), "warninglist_id": wl_id})
        wl["WarninglistEntry"] = entries
        wl["version"] = int(wl.get("version", 1)) + 1
        return Response.json({"Warninglist": {k: v for k, v in wl.items() if k != "WarninglistEntry"}})

    def proposal(self, request: Request, action: str, ref: str) -> Response:
        for wrapped in self.events.values():
            event = wrapped["Event"]
            holders = [event] + [a for _, a in self.attributes() if a.get("ShadowAttribute")]
            for holder in holders:
                for proposal in holder.get("ShadowAttribute") or []:
                    if ref in (proposal.get("uuid"), str(proposal.get("id"))):
                        holder["ShadowAttribute"].remove(proposal)
                        if action == "accept":
                            if holder is event:
                                event.setdefault("Attribute", []).append(
                                    {k: proposal[k] for k in ("type", "category", "value", "to_ids", "comment")
                                     if k in proposal} | {"uuid": f"{proposal.get('uuid')}-accepted"})
                            else:
                                holder.update({k: proposal[k] for k in ("value", "type", "category", "to_ids")
                                               if k in proposal})
                            return Response.json({"saved": True, "success": "Proposal accepted."})
                        return Response.json({"saved": True, "success": "Proposal discarded."})
        return Response.json({"name": "Invalid proposal.", "message": "Invalid proposal.", "url": request.path}, 404)

    def add_attribute(self, request: Request, ref: str) -> Response:
        wrapped = self.event(ref)
        if wrapped is None:
            return Response.json({"name": "Invalid event.", "message": "Invalid event.", "url": request.path}, 404)
        body = request.json()
        given = body.get("Attribute", body)
        with self._write_lock:
            if given.get("uuid") and self.find_attribute(given["uuid"])[1] is not None:
                # MISP's validation: an attribute uuid is unique
                return Response.json({"errors": [403, {"name": "Could not add Attribute", "message":
                                      "Could not add Attribute", "url": request.path,
                                      "errors": {"uuid": ["An attribute with this uuid already exists."]}}]},
                                     status=403)
            attribute = {"id": str(1000 + len(self.requests)), "event_id": wrapped["Event"].get("id"),
                         "uuid": f"added-{len(self.requests)}", **given}
            wrapped["Event"].setdefault("Attribute", []).append(attribute)
            self._renew(attribute)
            self.touched(wrapped["Event"], ("misp_json_attribute", {"Attribute": attribute, "action": "add",
                                                                    "Event": self.light_event(wrapped["Event"])}))
        return Response.json({"Attribute": attribute})

    def add_object(self, request: Request, ref: str) -> Response:
        wrapped = self.event(ref)
        if wrapped is None:
            return Response.json({"name": "Invalid event.", "message": "Invalid event.", "url": request.path}, 404)
        body = request.json()
        obj = {"id": str(2000 + len(self.requests)), "event_id": wrapped["Event"].get("id"), **body.get("Object", body)}
        wrapped["Event"].setdefault("Object", []).append(obj)
        return Response.json({"Object": obj})

    def add_analyst_data(self, request: Request, kind: str, object_uuid: str, object_type: str) -> Response:
        """``analyst_data/add/<Type>/<object_uuid>/<object_type>``: MISP's CRUD add answers the
        saved record as ``{<Type>: {...}}``; a validation failure is its ``saveFailResponse``
        (403). The record is listed on its target (``Note``/``Opinion``/``Relationship``) as
        MISP's event view shows it."""
        if kind not in ("Note", "Opinion", "Relationship"):
            return Response.json({"name": "Invalid analyst data type.", "message": "Invalid analyst data type.",
                                  "url": request.path}, 405)
        body = request.json()
        given = dict(body.get(kind, body))
        problems: dict[str, list[str]] = {}
        if kind == "Opinion":
            opinion = given.get("opinion")  # PyMISP sends it as a string; PHP's validation reads numbers
            number = int(opinion) if isinstance(opinion, int | str) and str(opinion).isdigit() else -1
            if isinstance(opinion, bool) or not 0 <= number <= 100:
                problems["opinion"] = ["The opinion must be a number between 0 and 100."]
        if kind == "Relationship" and not given.get("related_object_uuid"):
            problems["related_object_uuid"] = ["Invalid UUID"]
        if problems:
            message = f"Could not add {kind}"
            return Response.json({"saved": False, "name": message, "message": message, "url": request.path,
                                  "errors": problems}, 403)
        with self._write_lock:
            record = {**given, "id": str(len(self.analyst_data) + 1), "object_uuid": object_uuid,
                      "object_type": object_type, "org_uuid": "c5de83b4-36ba-49d6-9530-2a315caeece6",
                      "orgc_uuid": "c5de83b4-36ba-49d6-9530-2a315caeece6", "note_type_name": kind}
            self.analyst_data.append({kind: record})
            for target in self._analyst_targets(object_type, object_uuid):
                target.setdefault(kind, []).append(copy.deepcopy(record))
        return Response.json({kind: record})

    def _analyst_targets(self, object_type: str, uuid: str) -> list[dict]:
        found = []
        for wrapped in self.events.values():
            event = wrapped["Event"]
            if object_type == "Event" and event.get("uuid") == uuid:
                found.append(event)
            holders = {"Attribute": [a for e, a in self.attributes() if e is event],
                       "Object": event.get("Object") or [], "EventReport": event.get("EventReport") or []}
            found += [h for h in holders.get(object_type, []) if h.get("uuid") == uuid]
        return found

    def search_events(self, request: Request) -> Response:
        """``events/restSearch``: by ``uuid``, ``eventid`` (ids or uuids, one or a list), ``tags`` (any of), ``published``;
        ``metadata`` leaves attributes and objects out."""
        query = request.json()
        found = []
        tags = query.get("tags")
        tags = [tags] if isinstance(tags, str) else tags
        for wrapped in self.events.values():
            event = wrapped["Event"]
            if query.get("uuid") and event.get("uuid") != query["uuid"]:
                continue
            if query.get("eventid"):  # an id or uuid, or a list of them (run-workflow passes uuids)
                wanted = query["eventid"] if isinstance(query["eventid"], list) else [query["eventid"]]
                if not {str(event.get("id")), str(event.get("uuid"))} & {str(w) for w in wanted}:
                    continue
            if tags and not {t.get("name") for t in event.get("Tag") or []} & set(tags):
                continue
            if "published" in query and bool(event.get("published")) != bool(query["published"]):
                continue
            found.append({"Event": self.light_event(event) if query.get("metadata") else copy.deepcopy(event)})
        return Response.json({"response": found})

    def search_attributes(self, request: Request) -> Response:
        query = request.json()
        found = []
        for event, attribute in self.attributes():
            if attribute.get("uuid") == query.get("uuid"):
                item = {**attribute, "event_id": event.get("id")}
                if query.get("includeDecayScore") in (1, "1", True) and attribute["uuid"] in self.decay_scores:
                    item["decay_score"] = self.decay_scores[attribute["uuid"]]
                found.append(item)
        return Response.json({"response": {"Attribute": found}})
