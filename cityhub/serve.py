"""`cityhub serve`: ingest every kiosk's events from the broker, confirm them, publish site data.

    cityhub serve --city 452025 --db sqlite:////var/lib/cityhub/hub.db --mqtt mqtts://broker:8883 \
        --ca ca.crt --cert cityhub.crt --key-file cityhub.key --sealing-key /etc/cityhub/hub.key

One thread: network I/O and callbacks (Link.step), the database, periodic work, the watchdog.
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import threading
import time
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from cityhub import occupancy, shelter, store
from cityhub.ingest import Ingest, Outgoing
from cityhub.keys import load_private_key
from kiosk import __version__
from kiosk.sync import protocol
from kiosk.sync.link import BrokerSettings, Link
from kiosk.watchdog import Watchdog

log = logging.getLogger(__name__)

# How often the roster table is checked for an import, and holes for resend requests.
PERIODIC_S = 2.0
LOOP_STEP_S = 0.05


class Hub:
    def __init__(self, ingest: Ingest, settings: BrokerSettings, client_id: str = "cityhub",
                 share: str = "", watchdog: Watchdog | None = None,
                 snapshot_times: tuple[str, ...] = shelter.DEFAULT_SNAPSHOT_TIMES):
        self.ingest = ingest
        self.snapshot_times = snapshot_times
        self.city = ingest.city
        self.share = share
        self.watchdog = watchdog or Watchdog()
        self._roster_signature: tuple | None = None
        self._roster_sites: set[str] = set()
        self._last_periodic = 0.0
        self.link = Link(settings, client_id, protocol.hub_status_topic(self.city),
                         self._hub_status("offline"), self._on_connect, self._on_message)

    def run(self, stop: threading.Event) -> None:
        self.watchdog.ready(f"cityhub for {self.city}")
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.link.close(protocol.hub_status_topic(self.city), self._hub_status("offline"))
            self.ingest.engine.dispose()

    def step(self) -> None:
        self.watchdog.pet()
        self.link.step(LOOP_STEP_S)
        now = time.monotonic()
        if self.link.connected and now - self._last_periodic >= PERIODIC_S:
            self._last_periodic = now
            self._send(self.ingest.resend_requests())
            self._publish_rosters()
            shelter.take_due_snapshots(self.ingest.engine, self.ingest.shelter_sites(), occupancy.capacity,
                                       self.snapshot_times)

    def _on_connect(self) -> None:
        events = f"{protocol.PREFIX}/{self.city}/+/evt"
        self.link.subscribe([f"$share/{self.share}/{events}" if self.share else events,
                             f"{protocol.PREFIX}/{self.city}/+/status"])
        self.link.publish(protocol.hub_status_topic(self.city), self._hub_status("online"), retain=True)
        self._roster_signature = None  # the broker may have lost retained messages: publish again
        self._send(self.ingest.occupancy_messages(self.ingest.shelter_sites()))
        self._last_periodic = 0.0

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            where = protocol.parse_topic(topic)
            if where.kind == "hub_status":
                return  # our own, matched by the kiosks' status wildcard
            if where.city != self.city or where.kind not in ("evt", "status"):
                raise protocol.ProtocolError("not a topic this hub serves")
            handle = self.ingest.batch if where.kind == "evt" else self.ingest.status
            self._send(handle(where.dev, payload))
        except protocol.ProtocolError as exc:
            log.warning("ignored a message on %s: %s", topic[:120], exc)

    def _publish_rosters(self) -> None:
        signature = self.ingest.roster_signature()
        if signature != self._roster_signature:
            messages, self._roster_sites = self.ingest.roster_messages(self._roster_sites)
            self._send(messages)
            self._roster_signature = signature

    def _send(self, messages: list[Outgoing]) -> None:
        for message in messages:
            self.link.publish(message.topic, message.payload, retain=message.retain)

    def _hub_status(self, state: str) -> bytes:
        return protocol.encode({"state": state, "version": __version__, "time": time.time()})


def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="cityhub serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--city", required=True, help="6-digit local government code served")
    parser.add_argument("--db", default="sqlite:///cityhub.db",
                        help="SQLAlchemy URL (default sqlite:///cityhub.db; postgresql+psycopg://... in production)")
    parser.add_argument("--mqtt", default="mqtt://localhost:1883", help="mqtt://[user@]host[:port] or mqtts://...")
    parser.add_argument("--ca", default="", help="CA certificate that signed the broker's")
    parser.add_argument("--cert", default="", help="the hub's client certificate")
    parser.add_argument("--key-file", default="", help="the client certificate's key")
    parser.add_argument("--password-file", default="", help="file with the MQTT password (username in the URL)")
    parser.add_argument("--sealing-key", type=Path, help="the hub's private key from `cityhub keys init`")
    parser.add_argument("--client-id", default="cityhub", help="MQTT client id (one per hub worker)")
    parser.add_argument("--share", default="cityhub",
                        help="shared-subscription group: hub workers in one group split the events "
                             "(default cityhub; '' for a broker without $share support)")
    parser.add_argument("--snapshot-times", default=",".join(shelter.DEFAULT_SNAPSHOT_TIMES),
                        help="shelter headcount snapshots at these local times (default 06:00,12:00,18:00)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s cityhub %(levelname)s %(message)s")
    try:
        settings = BrokerSettings.from_url(args.mqtt, ca_file=args.ca, cert_file=args.cert,
                                           key_file=args.key_file, password_file=args.password_file)
        private_key = load_private_key(args.sealing_key) if args.sealing_key else None
        engine = store.connect(args.db)
        snapshot_times = shelter.parse_times(args.snapshot_times)
        hub = Hub(Ingest(engine, args.city, private_key), settings, args.client_id, args.share,
                  snapshot_times=snapshot_times)
    except (ValueError, OSError, ssl.SSLError, store.StoreError, SQLAlchemyError) as exc:
        print(f"cityhub serve: {exc}")  # a certificate, key or password file included
        return 2
    if private_key is None:
        log.warning("no --sealing-key: personal data is stored sealed only")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    hub.run(stop)
    return 0
