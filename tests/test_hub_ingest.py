"""cityhub ingest against a real SQLite file and a real PostgreSQL (the hub_db_url fixture)."""

import json
import time

import pytest
from sqlalchemy import select

from cityhub import ingest as ingest_mod
from cityhub import store
from cityhub.ingest import Ingest
from kiosk.clock import read_clock
from kiosk.events import new_event
from kiosk.privacy import public_key_from_text, seal
from kiosk.sync import protocol
from tests.fixtures.broker import CITY

DEV = "tc-honcho-1"


def make_events(first_seq, count, dev=DEV, schema="punch/1", pii=None):
    clock = read_clock()
    return [new_event(schema, {"staff_key": f"k{n}", "direction": "in"}, dev=dev, site="honcho", clock=clock,
                      pii=pii).with_seq(n) for n in range(first_seq, first_seq + count)]


def batch(events, batch_id="b1"):
    return protocol.encode_batch(batch_id, [e.to_dict() if hasattr(e, "to_dict") else e for e in events])


def ack_of(out):
    (message,) = [m for m in out if m.topic.endswith("/ack")]
    assert message.topic == protocol.ack_topic(CITY, DEV)
    return protocol.parse_ack(message.payload)


@pytest.fixture
def hub(hub_db_url, hub_keys):
    return Ingest(store.connect(hub_db_url), CITY, hub_keys[0])


def stored_rows(hub):
    with hub.engine.connect() as conn:
        return conn.execute(select(store.events).order_by(store.events.c.seq)).all()


def test_hub_ingest_stores_once_and_answers_duplicate(hub):
    events = make_events(1, 5)
    first = ack_of(hub.batch(DEV, batch(events)))
    assert [(r.id, r.seq, r.status) for r in first.results] == [(e.id, e.seq, "stored") for e in events]
    assert first.hwm == 5 and first.batch == "b1"
    again = ack_of(hub.batch(DEV, batch(events[2:] + make_events(6, 1), "b2")))
    assert [r.status for r in again.results] == ["duplicate", "duplicate", "duplicate", "stored"]
    rows = stored_rows(hub)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert json.loads(rows[0].body) == events[0].to_dict()


def test_hub_ingest_opens_sealed_personal_data(hub, hub_keys):
    person = {"name": "山田 花子", "birth": "1980-01-02"}
    (event,) = make_events(1, 1, schema="shelter_admit/1", pii=seal(person, public_key_from_text(hub_keys[1])))
    assert ack_of(hub.batch(DEV, batch([event]))).results[0].status == "stored"
    (row,) = stored_rows(hub)
    assert json.loads(row.pii) == person
    assert json.loads(row.body)["pii"] == event.pii  # the body stays as received: sealed


@pytest.mark.parametrize("damage, reason", [
    (lambda e: {**e, "dev": "tc-other"}, "sent by"),
    (lambda e: {**e, "seq": "7"}, "seq"),
    (lambda e: {**e, "time": "yesterday"}, "time"),
    (lambda e: {**e, "schema": "x/" + "y" * 100}, "schema"),
    (lambda e: {**e, "pii": "bm90IGEgc2VhbGVkIGJveA=="}, "cannot be opened"),
    (lambda e: {**e, "extra": 1}, "unknown field"),
])
def test_hub_ingest_rejects_bad_event_and_keeps_the_rest(hub, damage, reason):
    good, bad = make_events(1, 2)
    raw_bad = damage(bad.to_dict())
    ack = ack_of(hub.batch(DEV, batch([good, raw_bad])))
    statuses = {r.id: r for r in ack.results}
    assert statuses[good.id].status == "stored"
    if isinstance(raw_bad["seq"], int):
        assert statuses[bad.id].status == "rejected" and reason in statuses[bad.id].reason
        assert ack.hwm == 2  # a rejected seq is not a hole
    else:
        assert bad.id not in statuses  # no usable seq to answer with
    assert [r.id for r in stored_rows(hub)] == [good.id]


@pytest.mark.parametrize("payload", [
    b"", b"\xff\xfe", b"[]", b"null", b'{"batch": 5, "events": []}', b'{"batch": "b", "events": {}}',
    b'{"batch": "b"}', b"{" * 100_000, b'{"batch": "b", "events": [' + b'"x",' * 10 + b'1]}',
    b" " * (protocol.MAX_PAYLOAD_BYTES + 1),
])
def test_hub_ingest_hostile_payload_is_refused_without_storing(hub, payload):
    try:
        out = hub.batch(DEV, payload)
    except protocol.ProtocolError:
        out = None
    if out is not None:  # a well-formed batch of garbage events: answered with nothing stored
        assert ack_of(out).results == []
    assert stored_rows(hub) == []


def test_hub_gap_asked_for_only_after_its_age(hub, monkeypatch):
    hub.batch(DEV, batch(make_events(1, 2) + make_events(6, 2)))
    assert hub.resend_requests() == []  # a young hole may still be on its way
    monkeypatch.setattr(ingest_mod, "GAP_RESEND_AGE_S", 0.0)
    (request,) = hub.resend_requests()
    assert request.topic == protocol.cmd_topic(CITY, DEV, "resend")
    assert protocol.parse_resend(request.payload) == (3, 5)
    ack = ack_of(hub.batch(DEV, batch(make_events(3, 3), "b2")))
    assert ack.hwm == 7
    assert hub.resend_requests() == []


def test_hub_seq_tracking_survives_restart(hub, hub_keys, monkeypatch):
    hub.batch(DEV, batch(make_events(1, 3) + make_events(5, 1)))
    again = Ingest(hub.engine, CITY, hub_keys[0])
    assert again.seqs[DEV].contiguous == 3 and again.seqs[DEV].above == {5}
    monkeypatch.setattr(ingest_mod, "GAP_RESEND_AGE_S", 0.0)
    assert [protocol.parse_resend(m.payload) for m in again.resend_requests()] == [(4, 4)]


def test_hub_shelter_status_publishes_site_occupancy(hub):
    status = protocol.encode({"state": "online", "dev": "sh-1", "role": "shelter", "site": "school-3",
                              "capacity": 120})
    (message,) = hub.status("sh-1", status)
    assert message.retain and message.topic == protocol.occupancy_topic(CITY, "school-3")
    assert protocol.parse_occupancy(message.payload) == {"site": "school-3", "headcount": 0, "capacity": 120,
                                                         "level": "open"}


def test_hub_schema_newer_than_code_refused(hub_db_url):
    engine = store.connect(hub_db_url)
    with engine.begin() as conn:
        conn.execute(store.schema_version.update().values(version=store.SCHEMA_VERSION + 1))
    with pytest.raises(store.StoreError, match="newer"):
        store.connect(hub_db_url)


def test_hub_ingest_batch_of_200_is_fast(hub):
    start = time.perf_counter()
    for n in range(5):
        hub.batch(DEV, batch(make_events(1 + 200 * n, 200), f"b{n}"))
    assert len(stored_rows(hub)) == 1000
    assert time.perf_counter() - start < 5.0


def test_hub_corrects_unsynced_times_from_the_boots_synced_anchor(hub):
    from datetime import datetime, timedelta, timezone

    from kiosk.clock import ClockReading

    jst = timezone(timedelta(hours=9))
    wrong = datetime(1970, 1, 1, 9, 0, tzinfo=jst)  # a Pi that booted without network
    right = datetime(2026, 12, 3, 8, 30, tzinfo=jst)

    def punch(seq, wall, synced, mono_s, boot="boot-1"):
        reading = ClockReading(wall=wall, synced=synced, source="ntp" if synced else "unsynced", boot=boot,
                               mono_ns=int(mono_s * 1e9))
        return new_event("punch/1", {"staff_key": "k"}, dev=DEV, site="honcho", clock=reading).with_seq(seq)

    early = punch(1, wrong, False, 100)  # stored before any anchor exists
    hub.batch(DEV, batch([early], "b1"))
    anchor = punch(2, right, True, 160)  # NTP synced at mono 160 s
    late = punch(3, wrong + timedelta(seconds=100), False, 200)
    other_boot = punch(4, wrong, False, 100, boot="boot-2")
    hub.batch(DEV, batch([anchor, late, other_boot], "b2"))
    rows = {r.seq: r for r in stored_rows(hub)}
    assert rows[1].corrected_time == (right - timedelta(seconds=60)).isoformat(timespec="milliseconds")
    assert rows[3].corrected_time == (right + timedelta(seconds=40)).isoformat(timespec="milliseconds")
    assert rows[2].corrected_time is None and rows[4].corrected_time is None
    assert rows[1].time == early.time  # the original stamp is kept


def test_hub_failed_commit_gives_no_ack_and_a_later_copy_is_stored(tmp_path, hub_keys, monkeypatch):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(store, "SQLITE_BUSY_TIMEOUT_MS", 50)
    hub = Ingest(store.connect(f"sqlite:///{tmp_path}/hub.db"), CITY, hub_keys[0])
    events = make_events(1, 3)
    blocker = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # e.g. a backup holding the write lock
    with pytest.raises(OperationalError):
        hub.batch(DEV, batch(events))  # no ack comes out of a failed commit
    blocker.execute("ROLLBACK")
    assert stored_rows(hub) == [] and hub.seqs[DEV].contiguous == 0
    ack = ack_of(hub.batch(DEV, batch(events, "again")))
    assert [r.status for r in ack.results] == ["stored"] * 3 and ack.hwm == 3
