"""A shelter stand without a screen: the role, a virtual card, a real outbox, a chosen clock.

It does what the display loop does with effects (Record -> outbox append -> Recorded; CardOp ->
kiosk.cardops on the card -> CardResult) and keeps every Show for assertions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from nacl.signing import SigningKey

from kiosk import cardops
from kiosk.clock import ClockReading
from kiosk.nfc.emulator import EmulatorReader, VirtualCard
from kiosk.nfc.mynumber import MyNumberCard
from kiosk.outbox import DiskFull, Outbox, OutboxReader
from kiosk.privacy import generate_keypair, open_sealed
from kiosk.roles.base import CardOp, CardRemoved, Record, RecordFailed, Recorded, Scan, Show, Tick, Touch
from kiosk.roles.shelter import ShelterRole, ShelterSettings

JST = timezone(timedelta(hours=9))


@dataclass
class Stand:
    role: ShelterRole
    outbox: Outbox
    hub_private: object
    prereg_key: SigningKey
    reader: EmulatorReader = field(default_factory=lambda: EmulatorReader(transmit_timeout=2))
    shows: list[Show] = field(default_factory=list)
    effects: list[object] = field(default_factory=list)
    mono_ns: int = 1_000_000_000
    card: MyNumberCard | None = None
    full_disk: bool = False

    @classmethod
    def make(cls, tmp_path, dev: str = "sh-test-1", site: str = "daiichi", hub_private=None,
             prereg: SigningKey | None = None, data_dir=None, **settings) -> Stand:
        if hub_private is None:
            hub_private, _public = generate_keypair()
        prereg = prereg or SigningKey.generate()
        role = ShelterRole(ShelterSettings(dev=dev, site=site, **settings), hub_private.public_key, prereg.verify_key)
        return cls(role, Outbox(data_dir or tmp_path / f"{dev}-data", disk_floor_bytes=0), hub_private, prereg)

    def now(self) -> ClockReading:
        wall = datetime(2026, 12, 3, 18, 0, tzinfo=JST) + timedelta(microseconds=self.mono_ns // 1000)
        return ClockReading(wall=wall, synced=True, source="ntp", boot="boot-1", mono_ns=self.mono_ns)

    @property
    def screen(self) -> Show:
        return self.shows[-1]

    def feed(self, inp: object) -> list[object]:
        """Hand one input to the role and carry out its effects until it is quiet."""
        queue, produced = [inp], []
        while queue:
            effects = self.role.handle(queue.pop(0), self.now())
            produced += effects
            for effect in effects:
                if isinstance(effect, Show):
                    self.shows.append(effect)
                elif isinstance(effect, Record):
                    queue.append(self._store(effect.event))
                elif isinstance(effect, CardOp) and effect.op != "release":  # the worker's own op
                    queue.append(cardops.run(effect, self.card))
        self.effects += produced
        return produced

    def _store(self, event) -> object:
        if self.full_disk:
            return RecordFailed(event.id, "disk_full")
        try:
            stored = self.outbox.append(event)
        except DiskFull:
            return RecordFailed(event.id, "disk_full")
        return Recorded(stored.id, stored.seq)

    # conveniences

    def tap(self, card: VirtualCard) -> list[object]:
        self.reader.insert(card)
        return self.tap_session(self.reader.wait_for_card(1))

    def tap_session(self, session) -> list[object]:
        """A card handed over by any reader (the emulator's, or PcscReader through vpcd)."""
        self.card = MyNumberCard(session)
        return self.feed(cardops.card_read(session))

    def remove_card(self) -> list[object]:
        self.reader.remove()
        return self.feed(CardRemoved())

    def touch(self, target: str, value=None) -> list[object]:
        return self.feed(Touch(target, value))

    def digits(self, digits: str, then: str | None = "enter") -> None:
        for d in digits:
            self.touch("digit", d)
        if then:
            self.touch(then)

    def scan(self, text: str) -> list[object]:
        return self.feed(Scan(text))

    def wait(self, seconds: float) -> list[object]:
        self.mono_ns += int(seconds * 1e9)
        return self.feed(Tick())

    def events(self, schema: str | None = None):
        stored = OutboxReader(self.outbox.data_dir).pending(10_000)
        return [e for e in stored if schema is None or e.schema == schema]

    def opened(self, event) -> dict:
        return open_sealed(event.pii, self.hub_private)
