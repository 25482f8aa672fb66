"""MISP's "Push to ZMQ" action (``push-zmq``, v0.2).

Publishes what ``data_extraction_path`` extracts from the roaming data (the whole data when the
path is empty) the way MISP's pub/sub relays its workflow channel: one ZeroMQ message
``misp_json_workflow <JSON>`` on a PUB socket. Where the socket lives is a deployment setting:

    [modules.push_zmq]
    zmq_endpoint = "tcp://127.0.0.1:50000"   # required
    zmq_bind = true                          # bind (as MISP's publisher does) or connect

One socket per endpoint, created on first use and kept, so subscribers stay connected between
runs. ZeroMQ drops messages while no subscriber is connected (PUB semantics), as MISP's does.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import zmq

from misp_modules.contract.reply import reply
from misp_modules.contract.request import NodeRequest
from misp_modules.lib import node_params
from misp_modules.lib.declaration import declare
from misp_modules.semantics import conditions
from misp_modules.semantics.errors import SemanticsError
from misp_modules.settings import get_settings

MODULE = "push_zmq"
TOPIC = "misp_json_workflow"

node = declare(
    misp_id="push-zmq", module_type="action", name="Push to ZMQ", version="0.2",
    description="Push to the ZMQ channel",
    features="A real ZeroMQ PUB socket (pyzmq); endpoint from [modules.push_zmq] zmq_endpoint.",
    params=[
        {"id": "data_extraction_path", "label": "Data extraction path", "type": "hashpath", "default": "",
         "placeholder": "Attribute.{n}.AttributeTag.{n}.Tag.name"},
    ],
)

_lock = threading.Lock()
_sockets: dict[tuple[str, bool], zmq.Socket] = {}


@node.handler
def dict_handler(req: NodeRequest) -> dict[str, Any]:
    path = req.params["data_extraction_path"]
    errors = node_params.problems(node.params, req.params)
    try:
        extracted = conditions.extract_data(req.data, path)
    except SemanticsError:
        extracted = False
    if extracted is False:
        return reply(False, errors=[f"Error while trying to extract data with path `{path}`", *errors])
    settings = get_settings()
    endpoint = settings.module_setting(MODULE, "zmq_endpoint")
    if not endpoint:
        return reply(False, errors=["push-zmq needs a ZeroMQ endpoint: set [modules.push_zmq] zmq_endpoint "
                                    "(e.g. \"tcp://127.0.0.1:50000\") in the server config"])
    bind = bool(settings.module_setting(MODULE, "zmq_bind", True))
    message = f"{TOPIC} {json.dumps(extracted, ensure_ascii=False, separators=(',', ':'))}"
    try:
        publish(str(endpoint), bind, message)
    except zmq.ZMQError as exc:
        return reply(False, errors=[f"push-zmq: cannot publish on {endpoint}: {exc}"])
    return reply(True, errors=errors)


def publish(endpoint: str, bind: bool, message: str) -> None:
    """Send ``message`` on the PUB socket for ``endpoint`` (sockets are not thread-safe: locked)."""
    with _lock:
        sock = _sockets.get((endpoint, bind))
        if sock is None:
            sock = zmq.Context.instance().socket(zmq.PUB)
            sock.setsockopt(zmq.LINGER, 0)
            try:
                sock.bind(endpoint) if bind else sock.connect(endpoint)
            except zmq.ZMQError:
                sock.close()
                raise
            _sockets[(endpoint, bind)] = sock
        sock.send_string(message, flags=zmq.NOBLOCK)


def bound_endpoint(endpoint: str) -> str | None:
    """The address a bound socket really listens on (``tcp://127.0.0.1:*`` picks a free port)."""
    with _lock:
        sock = _sockets.get((endpoint, True))
        return None if sock is None else sock.getsockopt_string(zmq.LAST_ENDPOINT)


def close() -> None:
    """Close every socket (tests, and a clean shutdown)."""
    with _lock:
        for sock in _sockets.values():
            sock.close()
        _sockets.clear()
