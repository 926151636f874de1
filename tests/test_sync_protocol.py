"""kiosk.sync.protocol: topics and payload parsers, including hostile input."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.sync import protocol


def test_protocol_join_batch_equals_encode_batch():
    events = [{"id": "a", "n": "名前"}, {"id": "b"}]
    joined = protocol.join_batch("b-1", [protocol.encode(e) for e in events])
    assert joined == protocol.encode_batch("b-1", events)
    assert protocol.parse_batch(joined) == ("b-1", events)


@pytest.mark.parametrize("topic, expected", [
    ("kiosk/v1/452025/tc-1/evt", protocol.Topic("evt", "452025", dev="tc-1")),
    ("kiosk/v1/452025/tc-1/cmd/resend", protocol.Topic("cmd", "452025", dev="tc-1", name="resend")),
    ("kiosk/v1/452025/site/honcho/roster", protocol.Topic("roster", "452025", site="honcho")),
    ("kiosk/v1/452025/site/honcho/occupancy", protocol.Topic("occupancy", "452025", site="honcho")),
    ("kiosk/v1/452025/_hub/status", protocol.Topic("hub_status", "452025")),
])
def test_protocol_topics_round_trip(topic, expected):
    assert protocol.parse_topic(topic) == expected


@pytest.mark.parametrize("topic", ["", "kiosk", "kiosk/v2/452025/tc/evt", "kiosk/v1/452025/tc/evt/x",
                                   "kiosk/v1/452025/site/evt", "kiosk/v1/452025/_hub/evt", "a/b/c/d/e/f/g"])
def test_protocol_unknown_topic_refused(topic):
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_topic(topic)


def test_protocol_ack_round_trip():
    results = [protocol.Result("id-1", 1, "stored"), protocol.Result("id-2", 2, "rejected", "bad pii")]
    ack = protocol.parse_ack(protocol.encode_ack("b", results, 2, server_time=1.5))
    assert ack == protocol.Ack("b", results, 2, 1.5)


@given(st.binary(max_size=300))
def test_protocol_parsers_never_raise_anything_but_protocol_error_on_bytes(payload):
    for parse in (protocol.parse_batch, protocol.parse_ack, protocol.parse_resend, protocol.parse_roster,
                  protocol.parse_occupancy, protocol.parse_status):
        try:
            parse(payload)
        except protocol.ProtocolError:
            pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


@given(st.dictionaries(st.sampled_from(["batch", "results", "hwm", "server_time", "from", "to", "staff", "site",
                                        "headcount", "capacity", "level", "state", "events"]), json_values))
def test_protocol_parsers_never_raise_anything_but_protocol_error_on_json(obj):
    payload = json.dumps(obj).encode()
    for parse in (protocol.parse_batch, protocol.parse_ack, protocol.parse_resend, protocol.parse_roster,
                  protocol.parse_occupancy, protocol.parse_status):
        try:
            parse(payload)
        except protocol.ProtocolError:
            pass
