"""Capture frames from MISP's own ZeroMQ publisher (mispzmq.py), as tests/data/zmq/README.md says.

    python3 tests/data/zmq/capture.py --publisher PATH/TO/mispzmq.py --out tests/data/zmq/frames.jsonl

Starts a redis-server on a free port in a temporary folder, a temporary copy of the publisher
with a settings file (PLAIN authentication on), subscribes with the right credentials and
with wrong ones, pushes each message of MESSAGES onto the Redis list MISP's PubSub tool uses
(`<namespace>:data:<topic>`), waits for the publisher's `misp_json_self` status (sent after
10 s without data), and writes every frame received, byte for byte, one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import zmq
from zmq.utils.monitor import recv_monitor_message

HERE = Path(__file__).resolve().parent
EVENT = json.loads((HERE.parent / "events" / "57c4445b-c548-4654-af0b-4be3950d210f.json").read_text())["Event"]
USERNAME, PASSWORD = "misp-feed", "zmq-secret-for-capture"


def light(event: dict) -> dict:
    return {k: v for k, v in event.items() if k not in ("Attribute", "Object", "ShadowAttribute", "RelatedEvent")}


def messages() -> list[tuple[str, bytes]]:
    ev = dict(EVENT, id="42", timestamp="1700000000")
    attr = dict(ev["Attribute"][0], event_id="42", timestamp="1700000001")
    out = [
        ("misp_json_event", {"Event": light(ev), "action": "edit"}),
        ("misp_json_event", {"Event": dict(light(ev), timestamp="1700000002"), "action": "add"}),
        ("misp_json_event", {"Event": dict(ev, timestamp="1700000003", published=True), "action": "publish"}),
        ("misp_json_attribute", {"Attribute": attr, "Event": light(ev), "action": "edit"}),
        ("misp_json_object", {"Object": {"id": "7", "uuid": "a1f0c7e2-9b0e-4d5e-8f43-1b1d2c3e4f50", "name": "file",
                                         "event_id": "42", "timestamp": "1700000004", "Attribute": []},
                              "action": "add"}),
        ("misp_json_tag", {"Tag": {"id": "3", "name": "tlp:white", "colour": "#ffffff", "exportable": True,
                                   "event_id": "42", "local": 0}, "action": "attached to event"}),
        ("misp_json_sighting", {"Sighting": {"id": "9", "uuid": "5d2a0c44-7e1a-4c1e-9b0a-7d3e2f1a0b9c",
                                             "event_id": "42", "attribute_id": attr.get("id", "1"),
                                             "date_sighting": "1700000005", "type": "0",
                                             "Event": {"id": "42", "uuid": ev["uuid"], "info": ev["info"]},
                                             "Attribute": {"value": attr["value"], "uuid": attr["uuid"]}},
                                "action": "add"}),
        ("misp_json_user", {"User": {"id": "5", "email": "analyst@example.org", "org_id": "1",
                                     "date_modified": "1700000006"}, "action": "edit"}),
        ("misp_json_organisation", {"Organisation": {"id": "2", "uuid": "c5de83b4-36ba-49d6-9530-2a315caeece7",
                                                     "name": "CIRCL", "date_modified": "1700000007"},
                                    "action": "edit"}),
        ("misp_json_conversation", {"Post": {"id": "11", "thread_id": "4", "contents": "Seen in the wild",
                                             "date_modified": "1700000008"},
                                    "Thread": {"id": "4", "event_id": "42"}, "action": "add"}),
    ]
    encoded = [(topic, json.dumps(body, separators=(",", ":")).encode()) for topic, body in out]
    encoded.append(("misp_json_event", b"this is not JSON"))
    return encoded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--publisher", required=True, help="MISP's mispzmq.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--publisher-python", default=sys.executable,
                        help="the Python that runs the publisher (its redis-py must not time out a 10 s BLPOP: "
                             "redis-py 5 as MISP installs it; redis-py 8 sets a 5 s socket timeout)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zmq-capture-"))
    rport, zport = free_port(), free_port()
    redis_proc = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", str(work),
                                   "--save", ""], stdout=subprocess.DEVNULL)
    (work / "zmq").mkdir()
    (work / "tmp").mkdir()
    shutil.copy(args.publisher, work / "zmq" / "mispzmq.py")
    (work / "tmp" / "mispzmq_settings.json").write_text(json.dumps({
        "redis_host": "127.0.0.1", "redis_port": rport, "redis_password": None, "redis_database": 0,
        "redis_namespace": "mispq", "host": "127.0.0.1", "port": zport, "username": USERNAME, "password": PASSWORD}))
    r = redis.Redis(port=rport)
    deadline = time.monotonic() + 10
    while True:
        try:
            r.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    publisher = subprocess.Popen([args.publisher_python, str(work / "zmq" / "mispzmq.py"), "--debug"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    good = ctx.socket(zmq.SUB)
    good.plain_username, good.plain_password = USERNAME.encode(), PASSWORD.encode()
    bad = ctx.socket(zmq.SUB)
    bad.plain_username, bad.plain_password = USERNAME.encode(), b"wrong-password"
    bad_monitor = bad.get_monitor_socket()
    good_monitor = good.get_monitor_socket()
    for sock in (good, bad):
        sock.setsockopt(zmq.SUBSCRIBE, b"misp_json")
        sock.connect(f"tcp://127.0.0.1:{zport}")
    events = {"good": [], "bad": []}

    def watch(monitor, name, until):
        while time.monotonic() < until:
            if monitor.poll(100):
                events[name].append(recv_monitor_message(monitor)["event"])
            if zmq.EVENT_HANDSHAKE_SUCCEEDED in events[name] or zmq.EVENT_HANDSHAKE_FAILED_AUTH in events[name]:
                return

    watch(good_monitor, "good", time.monotonic() + 20)
    watch(bad_monitor, "bad", time.monotonic() + 20)
    time.sleep(1.5)  # the publisher's own start-up pause (time.sleep(1) after binding)
    for topic, body in messages():
        r.rpush(f"mispq:data:{topic}", body)
    frames = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if good.poll(500):
            frame = good.recv()
            frames.append(frame)
            if frame.startswith(b"misp_json_self "):
                break
    leaked = bad.poll(200)
    with open(args.out, "w") as out:
        for frame in frames:
            topic, _, payload = frame.partition(b" ")
            out.write(json.dumps({"topic": topic.decode(), "frame": frame.decode("utf-8")}) + "\n")
    print(f"{len(frames)} frames; good client auth: {'ok' if zmq.EVENT_HANDSHAKE_SUCCEEDED in events['good'] else 'FAILED'}; "
          f"wrong password refused: {zmq.EVENT_HANDSHAKE_FAILED_AUTH in events['bad']}; wrong password got frames: {bool(leaked)}")
    publisher_log = ""
    r.rpush("mispq:command", b"kill")
    publisher.wait(10)
    publisher_log = publisher.stderr.read()
    if not any(f.startswith(b"misp_json_self ") for f in frames):
        print(publisher_log[-3000:], file=sys.stderr)
    redis_proc.terminate()
    redis_proc.wait(10)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
