"""`kiosk sync`: drain the outbox to the broker until the hub confirms every event (DESIGN §4).

One thread does everything: network I/O and callbacks (through Link.step), publishing, acks,
resends, heartbeats, and petting the watchdog. The outbox is only read; confirmations,
rejections, the roster, occupancy and health go to sync-state.json through OutboxReader.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiosk import __version__
from kiosk import config as config_mod
from kiosk.clock import boot_id, is_synchronised
from kiosk.outbox import OutboxReader
from kiosk.sync import protocol
from kiosk.sync.link import BrokerSettings, Link
from kiosk.watchdog import Watchdog

log = logging.getLogger(__name__)

# A batch is one MQTT message: big enough that the hub commits many events per transaction,
# small enough that a resend after a lost message costs little on a slow link.
BATCH_MAX_EVENTS = 500
BATCH_MAX_BYTES = 256 * 1024
# Batches in flight at once: keeps the pipe full while the hub commits the previous one.
WINDOW_BATCHES = 4
# A batch unanswered again and again waits up to this many resend periods: a hub that is slow
# (not down) is not buried under copies. While the hub's status says offline nothing is resent
# (the broker queues the first copy for it); its return sends every waiting batch at once.
RESEND_BACKOFF_MAX = 4
HEARTBEAT_S = 60.0
# How often the outbox is looked at for new events when nothing else happened.
POLL_S = 0.5
# sync-state.json (read by the UI) is rewritten at most this often for health alone.
HEALTH_SAVE_S = 2.0
LOOP_STEP_S = 0.05


@dataclass
class Batch:
    id: str
    payload: bytes
    seqs: dict[int, str]  # seq -> event id still waiting for an answer
    sent_at: float = 0.0
    sends: int = 0


@dataclass
class Health:
    connected: bool = False
    hub_online: bool | None = None
    clock_offset_s: float | None = None
    hub_hwm: int | None = None
    last_ack_time: float | None = None


class Forwarder:
    def __init__(self, cfg: config_mod.Config, watchdog: Watchdog | None = None):
        self.cfg = cfg
        self.dev, self.city, self.site = cfg.device.id, cfg.device.city, cfg.device.site
        self.reader = OutboxReader(cfg.data_dir)
        self.watchdog = watchdog or Watchdog()
        self.in_flight: dict[str, Batch] = {}
        self.health = Health()
        self._last_fill = 0.0
        self._last_heartbeat = 0.0
        self._last_health_save = 0.0
        m = cfg.mqtt
        settings = BrokerSettings(m.host, m.port, m.tls, m.ca_file, m.cert_file, m.key_file,
                                  m.username, m.password_file)
        self.link = Link(settings, f"kiosk-{self.dev}", protocol.status_topic(self.city, self.dev),
                         self._status_payload("offline"), self._on_connect, self._on_message)

    # --- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.watchdog.ready(f"syncing {self.dev}")
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.link.close(protocol.status_topic(self.city, self.dev), self._status_payload("offline"))
            self.health.connected = False
            self._save_health(force=True)

    def step(self) -> None:
        self.watchdog.pet()
        self.link.step(LOOP_STEP_S)
        now = time.monotonic()
        if self.link.connected:
            self._resend_overdue(now)
            if len(self.in_flight) < WINDOW_BATCHES and now - self._last_fill >= POLL_S:
                self._fill_window(now)
            if now - self._last_heartbeat >= HEARTBEAT_S:
                self._heartbeat(now)
        if self.health.connected != self.link.connected:
            self.health.connected = self.link.connected
            self._save_health(force=True)
        elif now - self._last_health_save >= HEALTH_SAVE_S:
            self._save_health()

    def _fill_window(self, now: float) -> None:
        self._last_fill = now
        waiting = {seq for batch in self.in_flight.values() for seq in batch.seqs}
        room = WINDOW_BATCHES - len(self.in_flight)
        pending = self.reader.pending(limit=len(waiting) + room * BATCH_MAX_EVENTS)
        fresh = [e for e in pending if e.seq not in waiting]
        while fresh and len(self.in_flight) < WINDOW_BATCHES:
            batch, fresh = self._make_batch(fresh)
            self.in_flight[batch.id] = batch
            self._send(batch, now)

    @staticmethod
    def _make_batch(events: list) -> tuple[Batch, list]:
        """The next batch from ``events`` (at least one event, within the size bounds) and the rest."""
        chosen, size = [], 0
        for event in events[:BATCH_MAX_EVENTS]:
            encoded = protocol.encode(event.to_dict())
            size += len(encoded) + 1
            if chosen and size > BATCH_MAX_BYTES:
                break
            chosen.append((event, encoded))
        batch_id = uuid.uuid4().hex
        payload = protocol.join_batch(batch_id, [encoded for _e, encoded in chosen])
        return Batch(batch_id, payload, {e.seq: e.id for e, _encoded in chosen}), events[len(chosen):]

    def _send(self, batch: Batch, now: float) -> None:
        if self.link.publish(protocol.evt_topic(self.city, self.dev), batch.payload) is not None:
            batch.sent_at = now
            batch.sends += 1

    def _resend_overdue(self, now: float) -> None:
        if self.health.hub_online is False:
            return
        for batch in self.in_flight.values():
            wait = self.cfg.mqtt.resend_seconds * min(2 ** max(batch.sends - 1, 0), RESEND_BACKOFF_MAX)
            if now - batch.sent_at >= wait:
                log.info("no answer for batch %s (%d events); sending it again", batch.id, len(batch.seqs))
                self._send(batch, now)

    def _all_due(self) -> None:
        for batch in self.in_flight.values():
            batch.sent_at = float("-inf")
            batch.sends = 0

    # --- incoming -----------------------------------------------------------------------------

    def _on_connect(self) -> None:
        self.link.subscribe([
            protocol.ack_topic(self.city, self.dev),
            protocol.cmd_topic(self.city, self.dev, "#"),
            protocol.roster_topic(self.city, self.site),
            protocol.occupancy_topic(self.city, self.site),
            protocol.hub_status_topic(self.city),
        ])
        self._last_heartbeat = 0.0
        self._last_fill = 0.0

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            where = protocol.parse_topic(topic)
            if where.city != self.city or (where.dev and where.dev != self.dev) \
                    or (where.site and where.site != self.site):
                raise protocol.ProtocolError(f"not for this device: {topic[:120]}")
            handler = {"ack": self._on_ack, "cmd": self._on_cmd, "roster": self._on_roster,
                       "occupancy": self._on_occupancy, "hub_status": self._on_hub_status}.get(where.kind)
            if handler is None:
                raise protocol.ProtocolError(f"unexpected topic {topic[:120]}")
            handler(where, payload)
        except protocol.ProtocolError as exc:
            log.warning("ignored a message on %s: %s", topic[:120], exc)

    def _on_ack(self, where: protocol.Topic, payload: bytes) -> None:
        ack = protocol.parse_ack(payload)
        # Answers to copies of events confirmed (and maybe purged) already need nothing.
        self.reader.confirm([(r.id, r.seq) for r in ack.results
                             if r.status != "rejected" and not self.reader.state.is_confirmed(r.seq)])
        rejected = [(r.id, r.seq, r.reason) for r in ack.results if r.status == "rejected"]
        if rejected:
            log.error("the hub rejected %d event(s), kept on this kiosk: %s", len(rejected),
                      "; ".join(f"seq {seq}: {reason}" for _i, seq, reason in rejected[:5]))
            self.reader.reject(rejected)
        answered = {(r.seq, r.id) for r in ack.results}
        for batch_id in list(self.in_flight):
            batch = self.in_flight[batch_id]
            for seq, event_id in list(batch.seqs.items()):
                if (seq, event_id) in answered:
                    del batch.seqs[seq]
            if not batch.seqs:
                del self.in_flight[batch_id]
        self.health.clock_offset_s = round(time.time() - ack.server_time, 1)
        self.health.hub_hwm = ack.hwm
        self.health.last_ack_time = time.time()
        self._last_fill = 0.0  # room in the window: look for more at once

    def _on_cmd(self, where: protocol.Topic, payload: bytes) -> None:
        if where.name != "resend":
            raise protocol.ProtocolError(f"unknown command {where.name[:40]!r}")
        first, last = protocol.parse_resend(payload)
        log.info("hub asks for seq %d..%d again", first, last)
        for batch in self.in_flight.values():
            if any(first <= seq <= last for seq in batch.seqs):
                batch.sent_at = float("-inf")  # overdue: goes out on this loop iteration
        self._last_fill = 0.0

    def _on_roster(self, where: protocol.Topic, payload: bytes) -> None:
        self.reader.state.roster = protocol.parse_roster(payload) if payload else {}
        self.reader.state.save(self.cfg.data_dir)

    def _on_occupancy(self, where: protocol.Topic, payload: bytes) -> None:
        self.reader.state.occupancy = protocol.parse_occupancy(payload) if payload else {}
        self.reader.state.save(self.cfg.data_dir)

    def _on_hub_status(self, where: protocol.Topic, payload: bytes) -> None:
        online = protocol.parse_status(payload)["state"] == "online"
        if online and self.health.hub_online is False:
            self._all_due()  # the hub is back: whatever it has not answered goes again now
        self.health.hub_online = online

    # --- status -------------------------------------------------------------------------------

    def _heartbeat(self, now: float) -> None:
        self._last_heartbeat = now
        self.link.publish(protocol.status_topic(self.city, self.dev), self._status_payload("online"), retain=True)

    def _backlog_summary(self) -> dict:
        return {"backlog": self.reader.backlog(), "rejected": len(self.reader.state.rejected),
                "oldest_unconfirmed_time": self.reader.oldest_unconfirmed_time()}

    @staticmethod
    def _age(stamp: str | None) -> float | None:
        return None if stamp is None else round(time.time() - datetime.fromisoformat(stamp).timestamp(), 1)

    def _status_payload(self, state: str) -> bytes:
        base = {"state": state, "dev": self.dev, "role": self.cfg.device.role, "site": self.site,
                "version": __version__, "boot": boot_id()}
        if state == "offline":
            return protocol.encode(base)
        synced, source = is_synchronised()
        backlog = self._backlog_summary()
        status = {**base, "backlog": backlog["backlog"], "rejected": backlog["rejected"],
                  "oldest_unconfirmed_age_s": self._age(backlog["oldest_unconfirmed_time"]),
                  "clock": {"synced": synced, "source": source, "offset_s": self.health.clock_offset_s},
                  "reader_present": reader_present(self.cfg.reader.backend),
                  "disk_free_bytes": shutil.disk_usage(self.cfg.data_dir).free,
                  "time": time.time()}
        if self.cfg.device.role == "shelter":
            status["capacity"] = self.cfg.shelter.capacity
        return protocol.encode(status)

    def _save_health(self, force: bool = False) -> None:
        """Rewrite sync-state.json when health changed; it holds no clock-driven values (an
        age would change every time and wear the SD card), so the UI computes ages itself."""
        self._last_health_save = time.monotonic()
        h = self.health
        health = {"connected": h.connected, "hub_online": h.hub_online, **self._backlog_summary(),
                  "clock_offset_s": h.clock_offset_s, "hub_hwm": h.hub_hwm,
                  "last_ack_time": h.last_ack_time}
        if force or health != self.reader.state.health:
            self.reader.state.health = health
            self.reader.state.save(self.cfg.data_dir)


def reader_present(backend: str) -> bool | None:
    """Whether pcscd sees a reader; None where there is no PC/SC reader to ask about."""
    if backend != "pcsc":
        return None
    try:
        from smartcard.System import readers

        return bool(readers())
    except Exception:  # pcscd down or pyscard missing: as good as no reader
        return False


def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk sync", description="forward stored events to the city server")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every batch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s kiosk-sync %(levelname)s %(message)s")
    try:
        forwarder = Forwarder(config_mod.load(config_path or config_mod.DEFAULT_PATH))
    except config_mod.ConfigError as exc:
        print(f"kiosk sync: {exc}")
        return 2
    except (OSError, ssl.SSLError) as exc:  # certificate, key or password file
        print(f"kiosk sync: cannot use the [mqtt] credentials: {exc}")
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    forwarder.run(stop)
    return 0
