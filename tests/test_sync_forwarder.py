"""`kiosk sync` and `cityhub serve` as real processes against a real mosquitto."""

import json
import signal
import time

from sqlalchemy import create_engine, func, select

from cityhub import roster, store
from kiosk.outbox import Outbox, SyncState
from kiosk.privacy import public_key_from_text, seal
from kiosk.sync import protocol
from tests.fixtures.broker import CITY, Probe, append_events, wait_until

DEV = "tc-honcho-1"


def confirmed_through(data_dir):
    return SyncState.load(data_dir).confirmed_through


def segment_files(data_dir):
    return sorted((data_dir / "outbox").glob("seg-*.json"))


def stored_count(db_url):
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(store.events)).scalar()
    finally:
        engine.dispose()


def test_sync_drains_outbox_and_purges_confirmed_segments(tmp_path, mosquitto, processes, kiosk_config, hub_keys):
    data = tmp_path / "kiosk"
    box = Outbox(data, disk_floor_bytes=0)
    appended = append_events(box, 250, DEV, pii_key=public_key_from_text(hub_keys[1]))
    db = f"sqlite:///{tmp_path}/hub.db"
    processes.hub(db, mosquitto, hub_keys[2])
    processes.sync(kiosk_config(DEV, mosquitto, data))
    wait_until(lambda: confirmed_through(data) == 250, 30, "all 250 events confirmed")
    # Sealed segments are gone; the UI's open segment stays.
    wait_until(lambda: len(segment_files(data)) == 1, 10, "confirmed segments purged")
    engine = store.connect(db)
    with engine.connect() as conn:
        rows = conn.execute(select(store.events).order_by(store.events.c.seq)).all()
    assert [r.seq for r in rows] == list(range(1, 251))
    assert [json.loads(r.body) for r in rows] == [e.to_dict() for e in appended]
    assert json.loads(rows[0].pii) == {"name": "職員 0"} and rows[1].pii is None


def test_sync_status_retained_and_will_says_offline(tmp_path, mosquitto, processes, kiosk_config):
    data = tmp_path / "kiosk"
    append_events(Outbox(data, disk_floor_bytes=0), 3, DEV)
    sync = processes.sync(kiosk_config(DEV, mosquitto, data))
    probe = Probe(mosquitto, [protocol.status_topic(CITY, DEV)])
    status = json.loads(wait_until(lambda: probe.on("/status"), 15, "an online status")[-1])
    assert status["state"] == "online" and status["backlog"] == 3  # no hub: nothing confirmed
    assert status["oldest_unconfirmed_age_s"] >= 0 and status["disk_free_bytes"] > 0
    assert {"boot", "version", "clock", "reader_present", "role", "site"} <= status.keys()
    wait_until(lambda: SyncState.load(data).health.get("connected") is True, 10, "health says connected")
    sync.send_signal(signal.SIGKILL)
    sync.wait()
    wait_until(lambda: json.loads(probe.on("/status")[-1])["state"] == "offline", 30, "the will")
    probe.close()


def test_sync_rejected_event_kept_and_not_resent(tmp_path, mosquitto, processes, kiosk_config, hub_keys):
    data = tmp_path / "kiosk"
    box = Outbox(data, disk_floor_bytes=0)
    from kiosk.clock import read_clock
    from kiosk.events import new_event
    from kiosk.privacy import generate_keypair

    _other, wrong_key = generate_keypair()
    bad = box.append(new_event("punch/1", {"staff_key": "k"}, dev=DEV, site="honcho", clock=read_clock(),
                               pii=seal({"name": "x"}, public_key_from_text(wrong_key))))
    append_events(box, 2, DEV)
    db = f"sqlite:///{tmp_path}/hub.db"
    hub = processes.hub(db, mosquitto, hub_keys[2])
    processes.sync(kiosk_config(DEV, mosquitto, data, resend_seconds=0.5))
    state = wait_until(lambda: (s := SyncState.load(data)).rejected and s.is_confirmed(3) and s, 30, "answers")
    assert state.rejected[bad.seq]["id"] == bad.id and "cannot be opened" in state.rejected[bad.seq]["reason"]
    # Copies sent before the answer arrived may still be answered; after that, nothing more.
    wait_until(lambda: SyncState.load(data).health.get("rejected") == 1, 10, "rejected count in health")
    rejections_seen = processes.log("hub").count("rejected 1 event")
    more = append_events(box, 1, DEV)
    quiet_until = time.monotonic() + 4 * 0.5  # four resend periods
    wait_until(lambda: SyncState.load(data).is_confirmed(more[0].seq) and time.monotonic() > quiet_until, 30,
               "a later event confirmed, four resend periods on")
    assert processes.log("hub").count("rejected 1 event") == rejections_seen
    assert confirmed_through(data) == 0  # seq 1 stays, rejected, on the kiosk
    assert hub.poll() is None


def test_sync_roster_and_occupancy_reach_the_state_file(tmp_path, mosquitto, processes, kiosk_config):
    data = tmp_path / "kiosk"
    db = f"sqlite:///{tmp_path}/hub.db"
    roster.replace_sites(store.connect(db), roster.read_csv(
        "site,staff_key,staff_id,name,admin\nhoncho,key-a,10234,山田 花子,1\nother,key-b,1,x,\n".encode()))
    processes.hub(db, mosquitto)
    processes.sync(kiosk_config(DEV, mosquitto, data))
    state = wait_until(lambda: (s := SyncState.load(data)).roster and s, 20, "the roster")
    assert state.roster == {"site": "honcho", "staff": {"key-a": {"staff_id": "10234", "name": "山田 花子",
                                                                  "kana": "", "admin": True}}}
    # A shelter stand's status makes the hub publish its site's occupancy.
    shelter_data = tmp_path / "shelter"
    processes.sync(kiosk_config("sh-1", mosquitto, shelter_data, site="school-3", role="shelter"))
    occupancy = wait_until(lambda: SyncState.load(shelter_data).occupancy, 20, "occupancy")
    assert occupancy == {"site": "school-3", "headcount": 0, "capacity": 100, "level": "open"}
    # A new import reaches a running hub and kiosk.
    roster.replace_sites(store.connect(db), roster.read_csv(
        "site,staff_key,staff_id,name,admin\nhoncho,key-c,3,佐藤,\n".encode()))
    wait_until(lambda: "key-c" in SyncState.load(data).roster.get("staff", {}), 20, "the new roster")


def test_sync_answers_resend_command_before_its_timeout(tmp_path, mosquitto, processes, kiosk_config):
    data = tmp_path / "kiosk"
    append_events(Outbox(data, disk_floor_bytes=0), 3, DEV)
    # No hub: a probe stands in for it and never acknowledges.
    probe = Probe(mosquitto, [protocol.evt_topic(CITY, DEV)])
    processes.sync(kiosk_config(DEV, mosquitto, data, resend_seconds=600))
    wait_until(lambda: probe.on("/evt"), 15, "the first batch")
    probe.publish(protocol.cmd_topic(CITY, DEV, "resend"), protocol.encode_resend(2, 2))
    wait_until(lambda: len(probe.on("/evt")) >= 2, 10, "the batch sent again")
    first, second = (protocol.parse_batch(p) for p in probe.on("/evt")[:2])
    assert first == second  # same batch, same event ids
    probe.close()


def test_hub_status_online_then_offline_on_stop(tmp_path, mosquitto, processes):
    probe = Probe(mosquitto, [protocol.hub_status_topic(CITY)])
    hub = processes.hub(f"sqlite:///{tmp_path}/hub.db", mosquitto)
    wait_until(lambda: probe.on("_hub/status") and json.loads(probe.on("_hub/status")[-1])["state"] == "online",
               15, "hub online")
    hub.send_signal(signal.SIGTERM)
    assert hub.wait(10) == 0
    wait_until(lambda: json.loads(probe.on("_hub/status")[-1])["state"] == "offline", 10, "hub offline")
    probe.close()


def test_hub_two_workers_share_one_kiosks_events(tmp_path, mosquitto, processes, kiosk_config, postgres):
    data = tmp_path / "kiosk"
    append_events(Outbox(data, disk_floor_bytes=0), 1200, DEV)
    db = postgres.new_database()  # empty: the two workers create the schema together
    for worker in ("a", "b"):
        processes.spawn(f"hub-{worker}", ["-m", "cityhub.cli", "serve", "--city", CITY, "--db", db, "--mqtt",
                                          mosquitto.url, "--client-id", f"cityhub-{worker}", "--share", "hub", "-v"])
    wait_until(lambda: all("connected to" in processes.log(f"hub-{w}") for w in "ab"), 15, "both workers")
    processes.sync(kiosk_config(DEV, mosquitto, data))
    wait_until(lambda: confirmed_through(data) == 1200, 60, "all events confirmed")
    assert stored_count(db) == 1200
    assert all("stored" in processes.log(f"hub-{w}") for w in "ab"), "one worker did all the work"


def test_sync_and_hub_missing_credentials_named_not_traceback(tmp_path, kiosk_config, mosquitto):
    import subprocess
    import sys

    config = kiosk_config(DEV, mosquitto, tmp_path / "kiosk")
    config.write_text(config.read_text().replace("tls = false", f'tls = true\nca_file = "{tmp_path}/missing-ca.crt"'))
    sync = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "sync"], capture_output=True,
                          text=True, timeout=30)
    assert sync.returncode == 2 and "credentials" in sync.stdout and "Traceback" not in sync.stderr
    hub = subprocess.run([sys.executable, "-m", "cityhub.cli", "serve", "--city", CITY, "--db",
                          f"sqlite:///{tmp_path}/h.db", "--mqtt", "mqtt://cityhub@127.0.0.1:1", "--password-file",
                          str(tmp_path / "nope")], capture_output=True, text=True, timeout=30)
    assert hub.returncode == 2 and "nope" in hub.stdout and "Traceback" not in hub.stderr
