"""Fault tests: real mosquitto, real `cityhub serve` and `kiosk sync` processes, and a UI-side
process appending about 20 events per second throughout. Each scenario ends with the same check
against the hub's database: every appended event stored exactly once with identical content,
nothing else, no seq gaps, and the outbox holding nothing confirmed.

`python -m tests.test_faults append DATA_DIR DEV LOG RATE` is the UI-side appender.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from cityhub import store
from kiosk.outbox import Outbox, SyncState
from kiosk.privacy import public_key_from_text
from tests.fixtures.broker import Mosquitto, append_events, wait_until

DEV = "tc-fault-1"
RATE = 20.0
pytestmark = pytest.mark.timeout(180)


class Scenario:
    def __init__(self, tmp_path, broker, processes, kiosk_config, hub_keys, prefill: int):
        self.tmp, self.broker, self.processes = tmp_path, broker, processes
        self.data = tmp_path / "kiosk"
        self.db = f"sqlite:///{tmp_path}/hub.db"
        self.key_file = hub_keys[2]
        self.config = kiosk_config(DEV, broker, self.data, resend_seconds=2.0)
        self.log = tmp_path / "appended.jsonl"
        box = Outbox(self.data, disk_floor_bytes=0)
        with self.log.open("w") as out:
            for event in append_events(box, prefill, DEV, pii_key=public_key_from_text(hub_keys[1])):
                out.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
        del box  # from here on the appender process is the outbox's only writer
        self.engine = create_engine(self.db)
        self.hub = self.sync = self.appender = None

    def start_hub(self):
        self.hub = self.processes.hub(self.db, self.broker, self.key_file)
        return self.hub

    def start_sync(self):
        self.sync = self.processes.sync(self.config)
        return self.sync

    def start_appender(self):
        self.appender = self.processes.spawn("appender", ["-m", "tests.test_faults", "append", str(self.data), DEV,
                                                          str(self.log), str(RATE)])

    def stored(self) -> int:
        try:
            with self.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(store.events)).scalar()
        except Exception:  # the hub has not created its tables yet
            return 0

    def wait_stored(self, at_least: int, timeout: float = 30):
        wait_until(lambda: self.stored() >= at_least, timeout, f"{at_least} events stored")

    def finish_and_check(self, timeout: float = 90):
        self.appender.send_signal(signal.SIGTERM)
        assert self.appender.wait(15) == 0, self.processes.log("appender")
        appended = [json.loads(line) for line in self.log.read_text().splitlines()]
        last = len(appended)
        try:
            wait_until(lambda: SyncState.load(self.data).confirmed_through == last, timeout,
                       f"all {last} events confirmed")
            wait_until(lambda: len(list((self.data / "outbox").glob("seg-*.json"))) <= 1, 10,
                       "confirmed segments purged")
        except AssertionError:
            print(self.processes.log("sync")[-3000:], self.processes.log("hub")[-3000:], sep="\n---\n")
            raise
        with self.engine.connect() as conn:
            rows = conn.execute(select(store.events).where(store.events.c.dev == DEV)
                                .order_by(store.events.c.seq)).all()
            assert conn.execute(select(func.count()).select_from(store.events)).scalar() == len(rows)
        assert [r.seq for r in rows] == list(range(1, last + 1)), "seq gaps or duplicates"
        assert [json.loads(r.body) for r in rows] == appended, "stored content differs from appended"
        assert all(e["seq"] == n for n, e in enumerate(appended, start=1))
        sealed = sorted((self.data / "outbox").glob("seg-*.json"))[:-1]
        assert sealed == []  # nothing confirmed left behind in a sealed segment
        assert self.sync.poll() is None and self.hub.poll() is None, "a process died"
        self.engine.dispose()
        return last


@pytest.fixture
def scenario(tmp_path, mosquitto, processes, kiosk_config, hub_keys):
    def make(prefill: int) -> Scenario:
        return Scenario(tmp_path, mosquitto, processes, kiosk_config, hub_keys, prefill)
    return make


def restart_broker(broker: Mosquitto) -> None:
    broker.start()


def test_faults_broker_killed_and_restarted_mid_drain(scenario, mosquitto):
    s = scenario(600)
    s.start_hub()
    s.start_appender()
    s.start_sync()
    for _ in range(2):
        s.wait_stored(s.stored() + 150)
        mosquitto.kill()
        time.sleep(random.uniform(0.1, 1.5))  # the outage itself
        restart_broker(mosquitto)
    assert s.finish_and_check() > 600


def test_faults_sync_sigkilled_at_random_moments_20_times(scenario):
    s = scenario(300)
    s.start_hub()
    s.start_appender()
    for _ in range(20):
        sync = s.start_sync()
        time.sleep(random.uniform(0.2, 1.2))  # a random moment in its life
        sync.send_signal(signal.SIGKILL)
        sync.wait()
    s.start_sync()
    assert s.finish_and_check() > 300


def test_faults_hub_killed_mid_batch(scenario):
    s = scenario(1500)
    s.start_hub()
    s.start_appender()
    s.start_sync()
    for _ in range(3):
        s.wait_stored(s.stored() + random.randint(50, 300))
        s.hub.send_signal(signal.SIGKILL)
        s.hub.wait()
        s.start_hub()
    assert s.finish_and_check() > 1500


def test_faults_broker_frozen_30_seconds(scenario, mosquitto):
    s = scenario(200)
    s.start_hub()
    s.start_appender()
    s.start_sync()
    s.wait_stored(50)
    mosquitto.freeze()
    time.sleep(30)  # the fault: a broker that hangs for half a minute
    mosquitto.thaw()
    assert s.finish_and_check() > 200 + 30 * RATE * 0.5  # appending went on during the freeze


def test_faults_over_1000_events_queued_while_hub_offline(scenario):
    s = scenario(1200)
    hub = s.start_hub()
    wait_until(lambda: "connected to" in s.processes.log("hub"), 15, "hub's first session")
    hub.send_signal(signal.SIGTERM)  # maintenance: a clean stop, its session stays on the broker
    assert hub.wait(10) == 0
    s.start_appender()
    s.start_sync()
    wait_until(lambda: "sending it again" in s.processes.log("sync") or "connected to" in s.processes.log("sync"),
               15, "sync connected")
    time.sleep(5)  # the hub stays away while events pile up on the kiosk and in the broker
    assert SyncState.load(s.data).confirmed_through == 0
    s.start_hub()
    assert s.finish_and_check() > 1200


def append_forever(data_dir: str, dev: str, log_path: str, rate: float) -> int:
    """The UI side: append at ``rate`` per second; log each event once append has returned."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    box = Outbox(Path(data_dir), disk_floor_bytes=0)
    with open(log_path, "a") as log:
        next_at = time.monotonic()
        while not stop:
            (event,) = append_events(box, 1, dev)
            log.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
            log.flush()
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["append"]:
    sys.exit(append_forever(*sys.argv[2:5], float(sys.argv[5])))
