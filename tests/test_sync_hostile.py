"""Hostile MQTT messages on every topic either process reads: logged, ignored, never fatal."""


import pytest

from kiosk.outbox import Outbox, SyncState
from kiosk.sync import protocol
from tests.fixtures.broker import CITY, Probe, append_events, wait_until

DEV = "tc-honcho-1"

GARBAGE = [
    b"", b"\x00\xff\xfe garbage", b"[1, 2, 3]", b'"just a string"', b"null", b"{" * 50_000,
    b'{"batch": "b", "results": "all stored", "hwm": 1, "server_time": 1}',
    b'{"batch": "b", "results": [{"id": 5, "seq": "1", "status": "stored"}], "hwm": 1, "server_time": 1}',
    b'{"batch": "b", "results": [{"id": "x", "seq": 1, "status": "eaten"}], "hwm": -1, "server_time": "now"}',
    b'{"from": 10, "to": 2}', b'{"from": true, "to": 2}', b'{"staff": {"k": "not an object"}, "site": "honcho"}',
    b'{"site": "honcho", "headcount": -4, "capacity": "many", "level": "full"}', b'{"state": "sleeping"}',
    b"x" * (protocol.MAX_PAYLOAD_BYTES + 10),
]


def kiosk_topics(dev=DEV):
    return [protocol.ack_topic(CITY, dev), protocol.cmd_topic(CITY, dev, "resend"),
            protocol.cmd_topic(CITY, dev, "self-destruct"), protocol.roster_topic(CITY, "honcho"),
            protocol.occupancy_topic(CITY, "honcho"), protocol.hub_status_topic(CITY)]


def test_sync_survives_hostile_messages_on_every_topic(tmp_path, mosquitto, processes, kiosk_config):
    data = tmp_path / "kiosk"
    box = Outbox(data, disk_floor_bytes=0)
    append_events(box, 3, DEV)
    sync = processes.sync(kiosk_config(DEV, mosquitto, data))
    probe = Probe(mosquitto, [protocol.evt_topic(CITY, DEV)])
    wait_until(lambda: probe.on("/evt"), 15, "the first batch")
    for topic in kiosk_topics():
        for payload in GARBAGE:
            probe.publish(topic, payload)
    # An ack naming the right seq with a wrong id confirms nothing.
    events = protocol.parse_batch(probe.on("/evt")[0])[1]
    probe.publish(protocol.ack_topic(CITY, DEV), protocol.encode_ack("b", [protocol.Result("0" * 36, 1, "stored")], 1))
    # Then a real answer still works.
    results = [protocol.Result(e["id"], e["seq"], "stored") for e in events]
    probe.publish(protocol.ack_topic(CITY, DEV), protocol.encode_ack("b", results, 3))
    wait_until(lambda: SyncState.load(data).confirmed_through == 3, 15, "confirmation after the garbage")
    assert sync.poll() is None
    state = SyncState.load(data)
    assert state.roster == {} and state.occupancy == {}
    assert "ignored a message" in processes.log("sync")
    probe.close()


@pytest.mark.parametrize("topic_of", [
    lambda: protocol.evt_topic(CITY, DEV), lambda: protocol.status_topic(CITY, DEV),
    lambda: f"kiosk/v1/{CITY}/{DEV}/evt/extra", lambda: protocol.evt_topic("999999", DEV),
])
def test_hub_survives_hostile_messages(tmp_path, mosquitto, processes, kiosk_config, topic_of):
    db = f"sqlite:///{tmp_path}/hub.db"
    hub = processes.hub(db, mosquitto)
    probe = Probe(mosquitto, [protocol.ack_topic(CITY, DEV), protocol.hub_status_topic(CITY)])
    wait_until(lambda: probe.on("_hub/status"), 15, "the hub")
    for payload in GARBAGE + [protocol.encode_batch("b1", [{"dev": "tc-other", "seq": 1}, "x", None, 7])]:
        probe.publish(topic_of(), payload)
    # The hub still stores a proper batch afterwards, answering only on the device's own topic.
    data = tmp_path / "kiosk"
    (event,) = append_events(Outbox(data, disk_floor_bytes=0), 1, DEV)
    probe.publish(protocol.evt_topic(CITY, DEV), protocol.encode_batch("good", [event.to_dict()]))
    ack = wait_until(lambda: [a for a in map(protocol.parse_ack, probe.on("/ack")) if a.batch == "good"], 15, "ack")
    assert [(r.id, r.status) for r in ack[0].results] == [(event.id, "stored")]
    assert hub.poll() is None
    probe.close()
