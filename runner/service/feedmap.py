"""What a message of MISP's ZeroMQ feed means: the triggers MISP fired for it, and its identity.

MISP's publisher sends ``<topic> <JSON>`` frames (its PubSub tool pushes the JSON onto Redis
lists ``<namespace>:data:<topic>``, the publisher relays them; captured frames:
tests/data/zmq/). The JSON is the saved object with the ``action`` MISP performed. Each topic
maps to the trigger MISP fires on the same save (docs/misp-behaviour.md §4.1); the message is
the trigger's raw data (§4.3):

| topic | action | triggers |
|---|---|---|
| ``misp_json_event`` | ``add`` | ``event-after-save``, ``event-after-save-new`` |
| | ``edit`` (or none) | ``event-after-save`` |
| | ``publish`` | ``event-publish`` (after the fact: the run cannot block MISP's publication) |
| | ``delete`` | none |
| ``misp_json_attribute`` | any | ``attribute-after-save`` |
| ``misp_json_object`` | any | ``object-after-save`` |
| ``misp_json_tag`` | an attach (or none) | ``tag-attached-after-save``; detaches fire nothing |
| ``misp_json_sighting`` | any | ``sighting-after-save`` |
| ``misp_json_user`` | any but ``login``/``logout`` | ``user-after-save`` (the flat ``User`` fields) |
| ``misp_json_conversation`` | any | ``post-after-save`` |
| ``misp_json_organisation`` | any | none (MISP has no organisation trigger) |

Identity, for de-duplication and the recursion guard: the object's uuid and timestamp
(``timestamp``; sightings ``date_sighting``; users, organisations and posts ``date_modified``);
a tag message carries neither, so its bytes are its identity. A message's *key* (runs with one
key run one at a time, in order) is its event: ``event:<id>`` (the uuid when the id is
missing); users and posts have their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

SELF_TOPIC = "misp_json_self"

_ROOT = {  # topic -> the key its JSON must carry
    "misp_json_event": "Event", "misp_json_attribute": "Attribute", "misp_json_object": "Object",
    "misp_json_tag": "Tag", "misp_json_sighting": "Sighting", "misp_json_user": "User",
    "misp_json_organisation": "Organisation", "misp_json_conversation": "Post",
}


class FeedMessageInvalid(ValueError):
    """A feed message that cannot be a trigger's data (the message says why)."""


@dataclass(frozen=True)
class FeedItem:
    topic: str
    action: str | None
    triggers: tuple[str, ...]
    data: bytes                      # the trigger's raw data (JSON)
    uuid: str | None
    timestamp: float | None          # MISP's time of the change (seconds)
    event_id: str | None
    event_uuid: str | None
    key: str
    dedupe: str

    def identity(self) -> dict[str, Any]:
        return {"topic": self.topic, "action": self.action, "uuid": self.uuid, "timestamp": self.timestamp,
                "event_id": self.event_id, "event_uuid": self.event_uuid}


def _text(value: Any) -> str | None:
    return None if value in (None, "", False) else str(value)


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _triggers(topic: str, action: str | None) -> tuple[str, ...]:
    act = (action or "").lower()
    if topic == "misp_json_event":
        if act == "add":
            return ("event-after-save", "event-after-save-new")
        if act == "publish":
            return ("event-publish",)
        if "delete" in act:
            return ()
        return ("event-after-save",)
    if topic == "misp_json_tag":
        return ("tag-attached-after-save",) if (not act or "attach" in act) and "detach" not in act else ()
    if topic == "misp_json_user":
        return () if act in ("login", "logout") else ("user-after-save",)
    return {"misp_json_attribute": ("attribute-after-save",), "misp_json_object": ("object-after-save",),
            "misp_json_sighting": ("sighting-after-save",), "misp_json_conversation": ("post-after-save",)}.get(topic, ())


def parse(topic: str, payload: bytes, *, max_bytes: int) -> FeedItem:
    """The meaning of one feed message, or :class:`FeedMessageInvalid`."""
    if len(payload) > max_bytes:
        raise FeedMessageInvalid(f"message of {len(payload)} bytes is larger than [feed] max_message_bytes "
                                 f"({max_bytes})")
    root = _ROOT.get(topic)
    if root is None:
        raise FeedMessageInvalid(f"topic `{topic}` is not one the service handles")
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FeedMessageInvalid(f"not JSON: {exc}") from None
    if not isinstance(message, Mapping):
        raise FeedMessageInvalid(f"not a JSON object but a {type(message).__name__}")
    body = message.get(root)
    if not isinstance(body, Mapping):
        raise FeedMessageInvalid(f"no `{root}` object, which a `{topic}` message carries (top-level keys: "
                                 f"{', '.join(sorted(map(str, message))[:6]) or 'none'})")
    action = _text(message.get("action"))
    event = message.get("Event") if isinstance(message.get("Event"), Mapping) else {}
    data = payload
    uuid = _text(body.get("uuid"))
    timestamp = _number(body.get("timestamp"))
    event_id = _text(body.get("event_id")) or _text(event.get("id"))
    event_uuid = _text(event.get("uuid"))
    key = None
    if topic == "misp_json_event":
        if not uuid:
            raise FeedMessageInvalid("the event has no uuid")
        event_id, event_uuid = _text(body.get("id")), uuid
    elif topic == "misp_json_sighting":
        timestamp = _number(body.get("date_sighting")) or timestamp
        sighted = body.get("Event") if isinstance(body.get("Event"), Mapping) else {}
        event_id = event_id or _text(sighted.get("id"))
        event_uuid = event_uuid or _text(sighted.get("uuid"))
    elif topic == "misp_json_user":
        uuid = _text(body.get("id")) or _text(body.get("email"))
        timestamp = _number(body.get("date_modified")) or timestamp
        data = orjson.dumps(body)  # user triggers take the flat User fields (§4.3)
        key = f"user:{uuid}"
    elif topic == "misp_json_organisation":
        timestamp = _number(body.get("date_modified")) or timestamp
        key = f"organisation:{uuid or _text(body.get('id'))}"
    elif topic == "misp_json_conversation":
        uuid = _text(body.get("id"))
        timestamp = _number(body.get("date_modified")) or timestamp
        thread = message.get("Thread") if isinstance(message.get("Thread"), Mapping) else {}
        event_id = _text(thread.get("event_id"))
        key = f"event:{event_id}" if event_id else f"thread:{_text(body.get('thread_id'))}"
    if key is None:
        if event_id:
            key = f"event:{event_id}"
        elif event_uuid:
            key = f"event-uuid:{event_uuid}"
        else:
            key = f"{root.lower()}:{uuid}"
    if uuid and timestamp is not None:
        dedupe = f"{topic}|{uuid}|{timestamp!r}|{action or ''}"
    else:
        dedupe = f"{topic}|sha256:{hashlib.sha256(payload).hexdigest()}"
    return FeedItem(topic, action, _triggers(topic, action), data, uuid, timestamp, event_id, event_uuid, key, dedupe)


def tag_fingerprint(event_id: str | None, tag: str) -> str:
    """What a tag message caused by the service's own attach looks like to the guard."""
    return f"tag|{event_id or ''}|{tag}"


def fingerprint_of(item: FeedItem) -> str | None:
    """The guard fingerprint of a tag message (other topics are matched by timestamp)."""
    if item.topic != "misp_json_tag":
        return None
    try:
        tag = orjson.loads(item.data).get("Tag") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return tag_fingerprint(item.event_id, str(tag.get("name") or ""))
