"""Where a run's event can come from besides a file: a live MISP (PyMISP) and MISP's ZeroMQ
feed (pyzmq). Both use the deployment settings (``[misp]`` url/key, ``MISP_URL``/``MISP_KEY``)
the modules use; secrets never appear in messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from runner.errors import InputError, RunnerError


def fetch_event(ref: str) -> dict:
    """The event ``ref`` (id or uuid) as MISP's REST API returns it, through PyMISP: what the
    ``event-publish`` trigger receives (docs/misp-behaviour.md §4.3)."""
    import logging

    from misp_modules.lib.misp import MispNotConfigured, MispUnreachable, get_misp

    logging.getLogger("pymisp").setLevel(logging.CRITICAL)  # it logs every error it then returns
    try:
        misp = get_misp(f"fetching event {ref}")
    except MispNotConfigured as exc:
        raise InputError(str(exc)) from None
    except MispUnreachable as exc:
        raise RunnerError(str(exc)) from None
    try:
        answer = misp.get_event(ref, pythonify=False)
    except Exception as exc:  # noqa: BLE001 - requests/PyMISP errors; the key is never in them
        raise RunnerError(f"fetching event {ref} from MISP failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(answer, dict) or "Event" not in answer:
        said = answer.get("errors") if isinstance(answer, dict) else answer
        raise InputError(f"MISP has no event {ref}: {_brief(said)}")
    return answer


def zmq_events(url: str, topics: tuple[str, ...] = ("misp_json_event",), *, receive_timeout: float | None = None,
               ready: Callable[[], None] | None = None) -> Iterator[tuple[str, Any]]:
    """``(topic, data)`` for every message of MISP's ZeroMQ feed (``<topic> <json>``) on the
    given topics. ``receive_timeout`` (seconds) ends the stream when nothing arrives in time."""
    import zmq

    context = zmq.Context.instance()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    if receive_timeout is not None:
        socket.setsockopt(zmq.RCVTIMEO, int(receive_timeout * 1000))
    try:
        socket.connect(url)
    except zmq.ZMQError as exc:
        socket.close()
        raise InputError(f"invalid ZeroMQ address {url!r}: {exc}") from None
    for topic in topics:
        socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
    if ready is not None:
        ready()
    try:
        while True:
            try:
                message = socket.recv()
            except zmq.Again:
                return
            topic, _, payload = message.partition(b" ")
            try:
                yield topic.decode("utf-8", "replace"), orjson.loads(payload)
            except orjson.JSONDecodeError:
                yield topic.decode("utf-8", "replace"), None
    finally:
        socket.close()


def _brief(value: Any, limit: int = 200) -> str:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):  # PyMISP: [status, body]
        return f"HTTP {value[0]}: {value[1].get('message') or value[1].get('name') or ''}".rstrip(": ")
    text = value if isinstance(value, str) else orjson.dumps(value).decode() if value is not None else "no answer"
    return text if len(text) <= limit else text[:limit] + "…"


def misp_configured() -> bool:
    """A MISP connection is configured (``[misp]`` url/key of the settings, or ``MISP_URL``/``MISP_KEY``)."""
    from misp_modules.lib.misp import misp_configured as configured

    return configured()


def search_events(filters: dict) -> list:
    """The events of MISP's ``events/restSearch`` (JSON) for ``filters``, posted as they are
    (PyMISP's ``direct_call``: MISP's restSearch receives exactly these filters, as ``Event::restSearch``
    does inside MISP): the ``response`` list, each ``{"Event": ...}``."""
    import logging

    from misp_modules.lib.misp import MispNotConfigured, MispUnreachable, get_misp

    logging.getLogger("pymisp").setLevel(logging.CRITICAL)
    try:
        misp = get_misp("searching events")
    except (MispNotConfigured, MispUnreachable) as exc:
        raise RunnerError(str(exc)) from None
    try:
        answer = misp.direct_call("events/restSearch", {"returnFormat": "json", **filters})
    except Exception as exc:  # noqa: BLE001 - requests/PyMISP errors; the key is never in them
        raise RunnerError(f"searching MISP's events failed: {type(exc).__name__}: {exc}") from None
    if isinstance(answer, dict) and isinstance(answer.get("response"), list):
        return answer["response"]
    if isinstance(answer, list):
        return answer
    said = answer.get("errors") if isinstance(answer, dict) else answer
    raise RunnerError(f"MISP's event search failed: {_brief(said)}")
