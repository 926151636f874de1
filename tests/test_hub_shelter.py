"""The hub's shelter side: stored and opened admissions, headcounts, duplicates across shelters,
stock, admin status, fixed-time snapshots, and the whole chain stand -> sync -> broker -> hub."""

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from nacl.signing import SigningKey
from sqlalchemy import select

from cityhub import occupancy, shelter, store
from cityhub.ingest import Ingest
from kiosk import qrcodes
from kiosk.nfc.emulator import VirtualCard
from kiosk.nfc.reader import PcscReader
from kiosk.outbox import SyncState
from kiosk.qrcodes import Prereg, PreregMember
from kiosk.roles.shelter import SiteUpdate
from kiosk.sync import protocol
from tests.fixtures.broker import CITY, wait_until
from tests.shelter_harness import Stand
from tests.test_shelter_card import finish_household
from tests.test_shelter_household import staff_entry
from tests.test_shelter_operations import ADMIN, admin_key

JST = timezone(timedelta(hours=9))
FAMILY = Prereg("FAMILY23", (PreregMember("鈴木 一郎", "スズキ イチロウ", date(1955, 1, 1), "1", ("elderly",)),
                             PreregMember("鈴木 良子", "スズキ ヨシコ", date(1957, 2, 2), "2")))


@pytest.fixture
def keys():
    from kiosk.privacy import generate_keypair
    return generate_keypair()[0], SigningKey.generate()


@pytest.fixture
def hub(hub_db_url, keys):
    engine = store.connect(hub_db_url)
    return Ingest(engine, CITY, keys[0])


def stand_at(tmp_path, keys, dev, site, **settings):
    return Stand.make(tmp_path, dev=dev, site=site, hub_private=keys[0], prereg=keys[1], **settings)


def deliver(hub, stand):
    """What `kiosk sync` does: every pending event to the hub in one batch; the hub's answers."""
    events = stand.events()
    return hub.batch(stand.role.settings.dev, protocol.encode_batch(f"b{len(events)}", [e.to_dict() for e in events]))


def admit_card(stand, card):
    stand.tap(card)
    stand.digits("1234")
    stand.touch("ok")
    finish_household(stand)
    stand.touch("ok")


def admit_qr(stand, prereg):
    stand.scan(qrcodes.encode(prereg, stand.prereg_key))
    stand.touch("ok")
    finish_household(stand)
    stand.touch("ok")


def admit_staff(stand, keys_typed, era, digits, sex):
    stand.touch("staff_entry")
    staff_entry(stand, keys_typed, era, digits, sex)
    finish_household(stand)
    stand.touch("ok")


def leave(stand, card, kind="leave"):
    stand.tap(card)
    stand.touch("kind", kind)
    stand.touch("ok")
    stand.touch("ok")


def test_hub_shelter_admission_stored_opened_and_counted(hub, tmp_path, keys):
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    admit_card(stand, VirtualCard(name="避難 一郎", birth_date=date(1960, 6, 6)))
    admit_qr(stand, FAMILY)
    out = deliver(hub, stand)
    (message,) = [m for m in out if m.topic == protocol.occupancy_topic(CITY, "school-a")]
    assert message.retain
    assert protocol.parse_occupancy(message.payload)["headcount"] == 3
    with hub.engine.connect() as conn:
        people = shelter.registrations(shelter.shelter_events(conn, "school-a"))
    names = sorted(p.details["name"] for p in people.values())
    assert names == ["避難 一郎", "鈴木 一郎", "鈴木 良子"]
    assert {p.details["channel"] for p in people.values()} == {"card", "qr"}


def test_hub_shelter_departures_and_outings_change_the_headcount(hub, tmp_path, keys):
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    first, second = VirtualCard(name="一"), VirtualCard(name="二", birth_date=date(1990, 1, 1))
    admit_card(stand, first)
    admit_card(stand, second)
    leave(stand, first, "out")
    leave(stand, second, "leave")
    deliver(hub, stand)
    with hub.engine.connect() as conn:
        assert shelter.headcount(conn, "school-a") == 1  # the one out keeps the place
        states = sorted(p.state for p in shelter.registrations(shelter.shelter_events(conn)).values())
    assert states == ["left", "out"]


def test_hub_shelter_same_person_at_two_shelters_is_flagged(hub, tmp_path, keys):
    a = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    b = stand_at(tmp_path, keys, "sh-b-1", "school-b")
    card = VirtualCard(name="重複 太郎", birth_date=date(1970, 7, 7))
    admit_card(a, card)
    admit_card(b, card)                                           # same card key
    admit_qr(a, FAMILY)
    admit_qr(b, FAMILY)                                           # same QR id
    admit_staff(a, "タナカ ハナ", "showa", "300303", "2")
    admit_staff(b, "タナカ  ハナ", "western", "19550303", "2")      # same kana + birth date
    deliver(hub, a)
    deliver(hub, b)
    with hub.engine.connect() as conn:
        found = shelter.duplicates(conn)
    assert {d.key.split(":")[0] for d in found} == {"card", "qr", "person"}
    assert {"person:タナカハナ|1955-03-03", "person:重複太郎|1970-07-07"} <= {d.key for d in found}
    assert all(d.sites == ("school-a", "school-b") for d in found)


def test_hub_shelter_transfer_after_leaving_is_not_flagged(hub, tmp_path, keys):
    a = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    b = stand_at(tmp_path, keys, "sh-b-1", "school-b")
    card = VirtualCard(name="移動 花子")
    admit_card(a, card)
    leave(a, card)
    admit_card(b, card)
    deliver(hub, a)
    deliver(hub, b)
    with hub.engine.connect() as conn:
        assert shelter.duplicates(conn) == []


def test_hub_shelter_stock_and_admin_status(hub, tmp_path, keys):
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a", admin_keys=frozenset({admin_key()}))
    stand.tap(ADMIN)
    stand.touch("stock")
    stand.touch("select", "water_2l")
    stand.digits("120", then="save")
    stand.touch("ok")
    stand.tap(ADMIN)
    stand.touch("status", "closed")
    out = deliver(hub, stand)
    with hub.engine.connect() as conn:
        assert shelter.stock(conn)["school-a"]["items"]["water_2l"] == 120
        assert shelter.status(conn, "school-a") == "closed"
    (message,) = [m for m in out if m.topic.endswith("/occupancy")]
    assert protocol.parse_occupancy(message.payload)["level"] == "closed"


@pytest.mark.parametrize("schema, data, pii", [
    ("admission/1", {"household": "h", "staying": 1, "members": "everyone"}, None),
    ("admission/1", {"household": "h", "staying": True, "members": []}, None),
    ("admission/1", {"household": "h", "staying": 1, "members": [{"ref": ["x"]}]}, None),
    ("admission/1", {"household": "h", "staying": 1, "members": [{"ref": "card:x"}]}, {"members": [{"ref": {}}]}),

    ("departure/1", {"refs": "card:x", "kind": "leave"}, None),
    ("departure/1", {"refs": ["card:x"], "kind": "teleport"}, None),
    ("stock_count/1", {"items": {"water_2l": -3}}, None),
    ("shelter_status/1", {"status": "party"}, None),
])
def test_hub_shelter_odd_events_do_not_break_the_views(hub, tmp_path, keys, schema, data, pii):
    """A buggy or hostile kiosk's event is stored (a fact) but kept out of the counts."""
    from kiosk.clock import read_clock
    from kiosk.events import new_event
    from kiosk.privacy import seal
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    admit_card(stand, VirtualCard())
    odd = new_event(schema, data, dev="sh-a-1", site="school-a", clock=read_clock(),
                    pii=seal(pii, keys[0].public_key) if pii else None)
    stand.outbox.append(odd)
    out = deliver(hub, stand)
    assert [r.status for r in protocol.parse_ack(out[0].payload).results] == ["stored", "stored"]
    with hub.engine.connect() as conn:
        assert shelter.headcount(conn, "school-a") == 1
        assert shelter.status(conn, "school-a") == "open"
        shelter.duplicates(conn)
        shelter.stock(conn)


def test_hub_shelter_odd_personal_data_values_are_not_identities(hub, tmp_path, keys):
    from kiosk.clock import read_clock
    from kiosk.events import new_event
    from kiosk.privacy import seal
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    odd = new_event("admission/1", {"household": "h", "staying": 1, "members": [{"ref": "staff:000001"}]},
                    dev="sh-a-1", site="school-a", clock=read_clock(),
                    pii=seal({"members": [{"ref": "staff:000001", "name": 5, "birth_date": ["1990"]}]},
                             keys[0].public_key))
    stand.outbox.append(odd)
    deliver(hub, stand)
    with hub.engine.connect() as conn:
        assert shelter.headcount(conn, "school-a") == 1
        (person,) = shelter.registrations(shelter.shelter_events(conn)).values()
    assert shelter.identity_keys(person) == set()


def test_hub_shelter_snapshots_at_the_configured_times(hub, tmp_path, keys):
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    admit_card(stand, VirtualCard())
    deliver(hub, stand)
    noon = datetime(2026, 12, 3, 12, 30, tzinfo=JST)
    assert shelter.take_due_snapshots(hub.engine, {"school-a"}, occupancy.capacity, now=noon) == 2
    assert shelter.take_due_snapshots(hub.engine, {"school-a"}, occupancy.capacity, now=noon) == 0
    assert shelter.take_due_snapshots(hub.engine, {"school-a"}, occupancy.capacity,
                                      now=noon.replace(hour=18, minute=1)) == 1
    with hub.engine.connect() as conn:
        rows = conn.execute(select(shelter.snapshots).order_by(shelter.snapshots.c.slot)).all()
    # The admission is stamped 18:00:01, after every slot of the day.
    assert [(r.slot, r.headcount, r.level) for r in rows] == [
        ("2026-12-03 06:00", 0, "unknown"), ("2026-12-03 12:00", 0, "unknown"), ("2026-12-03 18:00", 0, "unknown")]


def test_hub_shelter_snapshot_counts_as_of_its_time(hub, tmp_path, keys):
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    admit_card(stand, VirtualCard())  # stamped 2026-12-03 18:00 JST by the harness clock
    deliver(hub, stand)
    late = datetime(2026, 12, 3, 23, 0, tzinfo=JST)
    shelter.take_due_snapshots(hub.engine, {"school-a"}, occupancy.capacity, ("12:00", "22:00"), now=late)
    with hub.engine.connect() as conn:
        rows = conn.execute(select(shelter.snapshots).order_by(shelter.snapshots.c.slot)).all()
    assert [(r.slot[-5:], r.headcount) for r in rows] == [("12:00", 0), ("22:00", 1)]


@pytest.mark.parametrize("text", ["6:00", "24:00", "12:60", "noon", "12:00,xx"])
def test_hub_shelter_snapshot_times_are_checked(text):
    with pytest.raises(ValueError):
        shelter.parse_times(text)


def test_hub_shelter_roster_report_as_csv(hub, tmp_path, keys, hub_db_url, capsys):
    stand = stand_at(tmp_path, keys, "sh-a-1", "school-a")
    admit_qr(stand, FAMILY)
    deliver(hub, stand)
    assert shelter.main(["roster", "--db", hub_db_url, "--site", "school-a"], None) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("site,household,ref")
    assert any("鈴木 良子" in line and "1957-02-02" in line for line in lines)


def test_hub_shelter_end_to_end_every_channel(tmp_path, mosquitto, processes, kiosk_config, hub_keys, pcscd):
    """Card (through pcscd + vpcd), code B, QR and staff entry: each reaches the hub's database
    through `kiosk sync`, the broker and `cityhub serve`, and is stored with its personal data
    opened; the hub's occupancy comes back to the stand."""
    private, public, key_file = hub_keys
    db = f"sqlite:///{tmp_path}/hub.db"
    data = tmp_path / "stand-data"
    stand = Stand.make(tmp_path, dev="sh-e2e-1", site="school-e", hub_private=private, data_dir=data)
    processes.hub(db, mosquitto, key_file)
    processes.sync(kiosk_config("sh-e2e-1", mosquitto, data, site="school-e", role="shelter", public_key=public))

    reader = PcscReader(pcscd.reader_name)
    cards = [VirtualCard(name="カード 花子", birth_date=date(1980, 8, 8)),
             VirtualCard(name="照合 次郎", birth_date=date(1945, 4, 5), pin_tries=0)]
    with pcscd.card(cards[0]):
        stand.tap_session(reader.wait_for_card(10))
        stand.digits("1234")
        stand.touch("ok")
        finish_household(stand)
        stand.touch("ok")
    with pcscd.card(cards[1]):
        stand.tap_session(reader.wait_for_card(10))
        stand.touch("code_b")
        stand.digits("450405" + "2034" + "1234")
        stand.touch("ok")
        finish_household(stand)
        stand.touch("ok")
    admit_qr(stand, FAMILY)
    admit_staff(stand, "ヤマ", "heisei", "100101", "9")
    for card in cards:  # the individual number, its hash and PIN A: never selected
        assert card.apdus and not any(card.selected(ef) for ef in (0x0001, 0x0003, 0x0014))

    engine = store.connect(db)

    def stored():
        with engine.connect() as conn:
            rows = conn.execute(select(store.events.c.pii).where(store.events.c.schema == "admission/1")).all()
        return rows if len(rows) == 4 else None

    rows = wait_until(stored, 60, "four admissions at the hub")
    members = [m for (pii,) in rows for m in json.loads(pii)["members"]]
    by_channel = {m["channel"]: m for m in members}
    assert by_channel["card"]["name"] == "カード 花子" and by_channel["card"]["verified"] is True
    assert by_channel["code_b"]["name"] == "照合 次郎"
    assert by_channel["qr"]["name"] in ("鈴木 一郎", "鈴木 良子")
    assert by_channel["staff"]["kana"] == "ヤマ" and by_channel["staff"]["verified"] is False
    occupancy_seen = wait_until(lambda: SyncState.load(data).occupancy.get("headcount") == 5
                                and SyncState.load(data).occupancy, 30, "the hub's occupancy at the stand")
    stand.feed(SiteUpdate(occupancy_seen, online=True))
    assert stand.role.occupancy()["source"] == "hub" and stand.role.occupancy()["headcount"] == 5
