"""Events: JSON round trip, and every malformed field named in the error."""

import json
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.clock import ClockReading
from kiosk.events import Event, EventError, from_dict, from_json, new_event

JST = timezone(timedelta(hours=9))
CLOCK = ClockReading(wall=datetime(2026, 12, 3, 8, 29, 1, 120000, tzinfo=JST), synced=False,
                     source="unsynced", boot="6f1d2c3e-aaaa-4bbb-8ccc-000000000000", mono_ns=1234567890)


def sample(**overrides) -> dict:
    raw = new_event("punch/1", {"staff_key": "k", "direction": "in", "名前": "山田"}, dev="tc-honcho-1",
                    site="honcho", clock=CLOCK, pii="c2VhbGVk").with_seq(1234).to_dict()
    raw.update(overrides)
    return raw


def test_new_event_has_a_uuid7_id_and_the_clock_provenance():
    event = new_event("punch/1", {}, dev="d", site="s", clock=CLOCK)
    assert event.id[14] == "7" and event.seq == 0
    assert event.time == "2026-12-03T08:29:01.120+09:00"
    assert (event.clock.synced, event.clock.source, event.clock.mono_ns) == (False, "unsynced", 1234567890)
    assert new_event("punch/1", {}, dev="d", site="s", clock=CLOCK).id != event.id


def test_round_trip_through_json_keeps_everything():
    event = from_dict(sample())
    assert from_json(event.to_json()) == event
    assert from_json(event.to_json().encode("utf-8")) == event
    assert "山田" in event.to_json()  # stored as UTF-8, not \\u escapes


def test_event_without_pii_has_no_pii_key():
    event = new_event("punch/1", {}, dev="d", site="s", clock=CLOCK)
    assert "pii" not in json.loads(event.to_json())
    assert from_json(event.to_json()).pii is None


@pytest.mark.parametrize("pii", [None, "c2VhbGVk"])
def test_to_dict_equals_the_dataclass_fields_without_a_missing_pii(pii):
    # to_dict is written out by hand for speed: a field added to Event or ClockInfo must show here.
    event = new_event("punch/1", {"staff_key": "k", "nested": {"a": [1, {"b": None}]}}, dev="d", site="s",
                      clock=CLOCK, pii=pii).with_seq(9)
    expected = asdict(event)
    if pii is None:
        del expected["pii"]
    assert event.to_dict() == expected
    assert list(event.to_dict()) == list(expected)  # same key order: same JSON bytes


def without(key: str) -> dict:
    raw = sample()
    del raw[key]
    return raw


def with_clock(**changes) -> dict:
    raw = sample()
    raw["clock"] = {**raw["clock"], **changes}
    return raw


@pytest.mark.parametrize("raw, field, problem", [
    ([], "(event)", "expected an object, got list"),
    (sample(extra=1), "extra", "unknown field"),
    (without("schema"), "schema", "missing"),
    (sample(schema="punch"), "schema", "is not of the form name/version"),
    (sample(id="not-a-uuid"), "id", "is not a UUID"),
    (sample(id=7), "id", "expected str, got int"),
    (sample(seq=-1), "seq", "must not be negative"),
    (sample(seq=True), "seq", "expected int, got bool"),
    (sample(seq="12"), "seq", "expected int, got str"),
    (sample(seq=1.5), "seq", "expected int, got float"),
    (without("dev"), "dev", "missing"),
    (sample(site=None), "site", "expected str, got NoneType"),
    (sample(time="yesterday"), "time", "is not an ISO 8601 time"),
    (sample(time="2026-12-03T08:29:01"), "time", "has no UTC offset"),
    (sample(clock="ntp"), "clock", "expected dict, got str"),
    (with_clock(synced="yes"), "clock.synced", "expected bool, got str"),
    (with_clock(source=None), "clock.source", "expected str, got NoneType"),
    (with_clock(mono_ns=True), "clock.mono_ns", "expected int, got bool"),
    (sample(data=[1]), "data", "expected dict, got list"),
    (sample(pii=5), "pii", "expected str, got int"),
])
def test_malformed_event_names_the_field(raw, field, problem):
    with pytest.raises(EventError) as caught:
        from_dict(raw)
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert repr(field) in str(caught.value)


@pytest.mark.parametrize("text", ["", "{", "[" * 100000, '{"seq": 1' + "0" * 5000 + "}", b"\xff\xfe", "NaN"])
def test_text_that_is_not_an_event_raises_event_error(text):
    with pytest.raises(EventError):
        from_json(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(sample()) + ["x"]), json_values, max_size=10))
def test_garbage_objects_raise_only_event_error(raw):
    try:
        assert isinstance(from_dict(raw), Event)
    except EventError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_garbage_bytes_raise_only_event_error(blob):
    with pytest.raises(EventError):
        from_json(blob)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(sample())), json_values)
def test_any_single_field_replaced_with_garbage_raises_only_event_error(key, value):
    try:
        from_dict(sample(**{key: value}))
    except EventError as exc:
        assert exc.field.split(".")[0] == key
