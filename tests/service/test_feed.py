"""MISP's ZeroMQ feed into the service: the frames MISP's own publisher sent (tests/data/zmq),
a real publisher in that format (PLAIN authentication), and the real ingester of
``misp-workflow serve`` turning messages into runs."""

from __future__ import annotations

import json

import pytest

from runner.service import feedmap
from tests.service import workflows as wfs
from tests.service.conftest import base_config
from tests.support.data import DATA, SMALL_EVENT
from tests.support.feed import FeedPublisher
from tests.support.service import wait_until

FRAMES = [json.loads(line) for line in (DATA / "zmq" / "frames.jsonl").read_text().splitlines()]
EVENT = json.loads(SMALL_EVENT.read_text())
TOPICS = ("misp_json_event", "misp_json_self")


def frame_parts(frame: str) -> tuple[str, bytes]:
    topic, _, payload = frame.encode().partition(b" ")
    return topic.decode(), payload


def test_misp_publisher_frames_map_to_the_triggers_misp_fires():
    mapped = {}
    for item in FRAMES:
        topic, payload = frame_parts(item["frame"])
        assert topic == item["topic"]
        if topic == feedmap.SELF_TOPIC:
            assert set(json.loads(payload)) == {"status", "uptime"}
            continue
        try:
            parsed = feedmap.parse(topic, payload, max_bytes=1 << 20)
        except feedmap.FeedMessageInvalid as exc:
            mapped.setdefault(topic, []).append(f"invalid: {str(exc).split(':')[0]}")
            continue
        mapped.setdefault(topic, []).append((parsed.action, parsed.triggers, parsed.key))
    assert mapped["misp_json_event"] == [
        ("edit", ("event-after-save",), "event:42"),
        ("add", ("event-after-save", "event-after-save-new"), "event:42"),
        ("publish", ("event-publish",), "event:42"),
        "invalid: not JSON",
    ]
    assert mapped["misp_json_attribute"] == [("edit", ("attribute-after-save",), "event:42")]
    assert mapped["misp_json_object"] == [("add", ("object-after-save",), "event:42")]
    assert mapped["misp_json_tag"] == [("attached to event", ("tag-attached-after-save",), "event:42")]
    assert mapped["misp_json_sighting"] == [("add", ("sighting-after-save",), "event:42")]
    assert mapped["misp_json_user"] == [("edit", ("user-after-save",), "user:5")]
    assert mapped["misp_json_organisation"][0][1] == ()  # MISP has no organisation trigger
    assert mapped["misp_json_conversation"] == [("add", ("post-after-save",), "event:42")]


def test_the_test_publisher_speaks_misps_wire_format(feed):
    misp_frame = next(f["frame"] for f in FRAMES if f["topic"] == "misp_json_event").encode()
    topic, payload = misp_frame.split(b" ", 1)
    assert feed.publish(topic.decode(), payload) == misp_frame
    status = feed.status()
    assert status.startswith(b"misp_json_self {") and set(json.loads(status.split(b" ", 1)[1])) == {"status", "uptime"}


def test_feed_events_become_runs_bad_messages_are_kept_and_skipped(tmp_path, service_modules, start_service):
    with FeedPublisher(username="misp-feed", password="zmq-secret-0123") as publisher:
        wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
        config = base_config(tmp_path, service_modules.url,
                             feed={"url": publisher.url, "username": "misp-feed", "password": "zmq-secret-0123",
                                   "max_message_bytes": 200_000})
        service = start_service(config)
        publisher.wait_subscribed(TOPICS)
        red = json.loads(json.dumps(EVENT))
        red["Event"].update(id="5", timestamp="1700000100")
        red["Event"]["Attribute"][0]["Tag"] = [{"name": "PAP:RED"}]
        clean = json.loads(json.dumps(EVENT))
        clean["Event"].update(id="6", uuid="6e0c3a0f-1c1b-4d55-9a55-2b3c4d5e6f70", timestamp="1700000200")
        publisher.publish("misp_json_event", b"not json at all")
        publisher.publish("misp_json_event", {"Attribute": {"uuid": "x"}, "action": "edit"})  # not an event
        publisher.publish("misp_json_event", b'{"Event": {"uuid": "big", "info": "' + b"x" * 300_000 + b'"}}')
        publisher.publish("misp_json_event", {**red, "action": "edit"})
        publisher.publish("misp_json_event", {**red, "action": "edit"})  # the same message twice: one run
        publisher.publish("misp_json_event", {**clean, "action": "edit"})
        publisher.status()
        runs = wait_until(lambda: (lambda r: r if len(r) >= 2 else None)(
            service.request("GET", "/api/runs?workflow=guard")[1]["runs"]), what="two feed runs")
        assert sorted((r["event_id"], r["outcome"], r["source"], r["trigger"]) for r in runs) == [
            ("5", "blocked", "feed", "event-after-save"), ("6", "success", "feed", "event-after-save")]
        status, dead = service.request("GET", "/api/dead-letters")
        errors = sorted(d["error"] for d in dead["dead_letters"])
        assert len(errors) == 3
        assert any("not JSON" in e for e in errors) and any("no `Event` object" in e for e in errors)
        assert any("larger than [feed] max_message_bytes" in e for e in errors)
        health = wait_until(lambda: (lambda h: h if h["feed"]["last_status"] else None)(
            service.request("GET", "/healthz", token=None)[1]), what="feed status seen")
        assert health["feed"]["alive"] and health["feed"]["connected"] and health["feed"]["rejected"] == 3
        assert "zmq-secret-0123" not in service.logs()
        assert service.logs().count("feed: skipped a misp_json_event message") == 3
        status, text = service.request("GET", "/metrics", token=None)
        assert 'misp_workflow_feed_messages_total{result="duplicate",topic="misp_json_event"} 1.0' in text
        assert service.proc.poll() is None


def test_a_wrong_feed_password_is_reported_and_nothing_is_received(tmp_path, service_modules, start_service):
    with FeedPublisher(username="misp-feed", password="the-right-one-0123") as publisher:
        wfs.write(tmp_path / "workflows", "guard", wfs.pap_tlp())
        service = start_service(base_config(tmp_path, service_modules.url, feed={
            "url": publisher.url, "username": "misp-feed", "password": "a-wrong-one-0123"}))
        service.wait_for_log(r"MISP refused the ZeroMQ credentials")
        health = service.request("GET", "/healthz", token=None)[1]
        assert health["feed"]["auth_failed"] and not health["feed"]["connected"]
        assert health["status"] == "degraded"
        assert "a-wrong-one-0123" not in service.logs()


@pytest.mark.parametrize("topic, body, trigger", [
    ("misp_json_attribute", {"Attribute": {"uuid": "a-1", "timestamp": "5", "event_id": "9", "type": "ip-src",
                                           "value": "1.2.3.4", "category": "Network activity"},
                             "Event": {"id": "9", "uuid": "e-9", "info": "x"}, "action": "edit"},
     "attribute-after-save"),
    ("misp_json_tag", {"Tag": {"id": "3", "name": "tlp:white", "event_id": "9", "local": 1},
                       "action": "attached to event"}, "tag-attached-after-save"),
])
def test_other_topics_run_the_workflow_bound_to_their_trigger(tmp_path, service_modules, start_service, feed,
                                                               topic, body, trigger):
    wfs.write(tmp_path / "workflows", "on-it", wfs.from_blueprint(
        DATA / "blueprints" / "blueprint_pap_red-and-tlp_red-blocking_1661328258.json", trigger, "on it"))
    service = start_service(base_config(tmp_path, service_modules.url, feed={"url": feed.url}))
    feed.wait_subscribed((topic,))
    feed.publish(topic, body)
    runs = wait_until(lambda: service.request("GET", "/api/runs")[1]["runs"], what="a run")
    assert [(r["trigger"], r["event_id"], r["source"]) for r in runs] == [(trigger, "9", "feed")]
