"""Ingest: validate a kiosk's batch, store it idempotently, and say what to answer (DESIGN §4).

``Ingest.batch`` commits first and only then returns the ack for the caller to publish, so an
ack always means "in the database". Each device's ``seq`` is tracked: every seq up to
``contiguous`` has been stored or rejected; a hole older than GAP_RESEND_AGE_S is asked for
again with ``cmd/resend``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from nacl.public import PrivateKey
from sqlalchemy import Engine, case, func, select, union_all, update

from cityhub import occupancy, store
from cityhub.clockfix import ClockAnchors
from kiosk.events import EventError, from_dict
from kiosk.privacy import SealError, open_sealed
from kiosk.sync import protocol

log = logging.getLogger(__name__)

# A hole in a device's seqs may just be a batch still on its way (or waiting in the broker);
# only after this long is it worth asking the kiosk for it.
GAP_RESEND_AGE_S = 180.0
# Ask for at most this many holes per device at a time.
GAP_RANGES_PER_REQUEST = 20
# Limits of the database columns; longer values are rejected, not truncated.
MAX_SEQ = 2**62
MAX_LENGTHS = {"schema": 64, "site": 63, "time": 40}
MAX_BOOT_LENGTH = 64


class Rejected(ValueError):
    pass


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class DeviceSeqs:
    contiguous: int = 0
    above: set[int] = field(default_factory=set)
    gap_since: float | None = None
    asked_at: float = float("-inf")

    def advanced(self, seqs: set[int]) -> tuple[int, set[int]]:
        """The contiguous mark and the seqs above it once ``seqs`` are seen too."""
        contiguous, above = self.contiguous, self.above | {s for s in seqs if s > self.contiguous}
        while contiguous + 1 in above:
            contiguous += 1
            above.discard(contiguous)
        return contiguous, above

    def gaps(self) -> list[tuple[int, int]]:
        ranges, expected = [], self.contiguous + 1
        for seq in sorted(self.above):
            if seq > expected:
                ranges.append((expected, seq - 1))
                if len(ranges) >= GAP_RANGES_PER_REQUEST:
                    break
            expected = seq + 1
        return ranges


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool = False


class Ingest:
    def __init__(self, engine: Engine, city: str, private_key: PrivateKey | None):
        self.engine = engine
        self.city = city
        self.private_key = private_key
        self.seqs: dict[str, DeviceSeqs] = {}
        self.anchors = ClockAnchors()
        self._load_seqs()

    def _load_seqs(self) -> None:
        with self.engine.connect() as conn:
            for dev, contiguous in conn.execute(select(store.devices.c.dev, store.devices.c.contiguous)):
                above = self._seen_above(conn, dev, contiguous)
                self.seqs[dev] = DeviceSeqs(contiguous, above, time.monotonic() if above else None)

    @staticmethod
    def _seen_above(conn, dev: str, contiguous: int) -> set[int]:
        seen = union_all(
            select(store.events.c.seq).where(store.events.c.dev == dev, store.events.c.seq > contiguous),
            select(store.rejections.c.seq).where(store.rejections.c.dev == dev, store.rejections.c.seq > contiguous))
        return set(conn.execute(seen).scalars())

    def _refresh(self, dev: str, tracker: DeviceSeqs) -> None:
        """Catch up with what other hub workers (shared subscription) stored for ``dev``."""
        with self.engine.connect() as conn:
            seen = self._seen_above(conn, dev, tracker.contiguous)
        self._advance(tracker, *tracker.advanced(seen))

    # --- events -------------------------------------------------------------------------------

    def batch(self, dev: str, payload: bytes) -> list[Outgoing]:
        """Store one ``evt`` message; the ack (and occupancy updates) to publish after commit."""
        batch_id, raws = protocol.parse_batch(payload)
        now = time.time()
        rows, rejected = [], []
        for raw in raws:
            try:
                rows.append(self._row(dev, raw, now))
            except Rejected as exc:
                rejected.append(self._rejection(dev, raw, str(exc), now))
        rejected = [r for r in rejected if r is not None]
        tracker = self.seqs.setdefault(dev, DeviceSeqs())
        contiguous, above = tracker.advanced({r["seq"] for r in rows} | {r["seq"] for r in rejected})
        try:
            stored_ids = self._store(dev, rows, rejected, contiguous, now)
        except Exception:
            self.anchors = ClockAnchors()  # its cache may hold anchors of the rolled-back transaction
            raise
        self._advance(tracker, contiguous, above)
        results = [protocol.Result(r["id"], r["seq"], "stored" if r["id"] in stored_ids else "duplicate")
                   for r in rows]
        results += [protocol.Result(r["id"], r["seq"], "rejected", r["reason"]) for r in rejected]
        log.debug("%s: batch %s: %d stored, %d duplicate, %d rejected", dev, batch_id, len(stored_ids),
                  len(rows) - len(stored_ids), len(rejected))
        if rejected:
            log.warning("%s: rejected %d event(s): %s", dev, len(rejected), rejected[0]["reason"])
        out = [Outgoing(protocol.ack_topic(self.city, dev), protocol.encode_ack(batch_id, results, contiguous))]
        changed = occupancy.sites_changed(r for r in rows if r["id"] in stored_ids)
        return out + self.occupancy_messages(changed)

    def _store(self, dev: str, rows: list[dict], rejected: list[dict], contiguous: int, now: float) -> set[str]:
        """One transaction: events, rejections, the device's seq mark; the ids newly stored."""
        with self.engine.begin() as conn:
            stored_ids = set()
            if rows:
                self.anchors.apply(conn, self.engine, dev, rows)
                stmt = store.insert_ignoring_duplicates(self.engine, store.events).returning(store.events.c.id)
                stored_ids = set(conn.execute(stmt, rows).scalars())
            if rejected:
                conn.execute(store.insert_ignoring_duplicates(self.engine, store.rejections), rejected)
            site = rows[0]["site"] if rows else None
            conn.execute(store.insert_ignoring_duplicates(self.engine, store.devices),
                         {"dev": dev, "city": self.city, "site": site, "contiguous": 0})
            # Never lower it: another hub worker may have seen more of this device's seqs.
            conn.execute(update(store.devices).where(store.devices.c.dev == dev).values(
                contiguous=case((store.devices.c.contiguous < contiguous, contiguous),
                                else_=store.devices.c.contiguous), last_seen=now))
        return stored_ids

    def _row(self, dev: str, raw: Any, now: float) -> dict[str, Any]:
        try:
            event = from_dict(raw)
        except EventError as exc:
            raise Rejected(str(exc)) from None
        if event.dev != dev:
            raise Rejected(f"event of device {event.dev[:63]!r} sent by {dev!r}")
        if event.seq < 1 or event.seq >= MAX_SEQ:
            raise Rejected(f"seq {event.seq} out of range")
        for name, limit in MAX_LENGTHS.items():
            if len(getattr(event, name)) > limit:
                raise Rejected(f"{name} longer than {limit} characters")
        if len(event.clock.boot) > MAX_BOOT_LENGTH or not -MAX_SEQ < event.clock.mono_ns < MAX_SEQ:
            raise Rejected("clock.boot or clock.mono_ns out of range")
        pii = None
        if event.pii is not None and self.private_key is not None:
            try:
                pii = _dumps(open_sealed(event.pii, self.private_key))
            except SealError as exc:
                raise Rejected(str(exc)) from None
        return {"dev": dev, "id": event.id, "seq": event.seq, "city": self.city, "site": event.site,
                "schema": event.schema, "time": event.time, "synced": event.clock.synced,
                "boot": event.clock.boot, "mono_ns": event.clock.mono_ns, "received_at": now,
                "body": _dumps(raw), "pii": pii}

    @staticmethod
    def _rejection(dev: str, raw: Any, reason: str, now: float) -> dict[str, Any] | None:
        """A row for ``rejections``, or None when the event has no usable id and seq to answer with."""
        event_id = raw.get("id") if isinstance(raw, dict) else None
        seq = raw.get("seq") if isinstance(raw, dict) else None
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 200 \
                or isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < MAX_SEQ:
            log.warning("%s: dropped an event without a usable id and seq: %s", dev, reason)
            return None
        return {"dev": dev, "id": event_id, "seq": seq, "reason": reason[:500],
                "body": _dumps(raw)[:100_000], "received_at": now}

    @staticmethod
    def _advance(tracker: DeviceSeqs, contiguous: int, above: set[int]) -> None:
        if contiguous != tracker.contiguous or not above:
            # The oldest hole moved (or closed): its age starts over.
            tracker.gap_since = time.monotonic() if above else None
        elif tracker.gap_since is None:
            tracker.gap_since = time.monotonic()
        tracker.contiguous, tracker.above = contiguous, above

    def resend_requests(self) -> list[Outgoing]:
        """``cmd/resend`` for every device whose oldest hole is older than GAP_RESEND_AGE_S."""
        now, out = time.monotonic(), []
        for dev, tracker in self.seqs.items():
            if tracker.gap_since is None or now - tracker.gap_since < GAP_RESEND_AGE_S \
                    or now - tracker.asked_at < GAP_RESEND_AGE_S:
                continue
            self._refresh(dev, tracker)
            if tracker.gap_since is None or now - tracker.gap_since < GAP_RESEND_AGE_S:
                continue
            tracker.asked_at = now
            for first, last in tracker.gaps():
                log.warning("%s: seq %d..%d missing for %.0f s; asking again", dev, first, last,
                            now - tracker.gap_since)
                out.append(Outgoing(protocol.cmd_topic(self.city, dev, "resend"), protocol.encode_resend(first, last)))
        return out

    # --- device status and site data ---------------------------------------------------------

    def status(self, dev: str, payload: bytes) -> list[Outgoing]:
        """Keep a kiosk's latest status; a shelter stand's capacity feeds the site's occupancy."""
        status = protocol.parse_status(payload)
        values = {"last_status": _dumps(status), "last_seen": time.time()}
        for key in ("site", "role"):
            if isinstance(status.get(key), str) and len(status[key]) <= 63:
                values[key] = status[key]
        with self.engine.begin() as conn:
            conn.execute(store.insert_ignoring_duplicates(self.engine, store.devices),
                         {"dev": dev, "city": self.city, "contiguous": 0})
            conn.execute(update(store.devices).where(store.devices.c.dev == dev).values(**values))
        if values.get("role") == "shelter":
            return self.occupancy_messages({values["site"]})
        return []

    def occupancy_messages(self, sites: set[str]) -> list[Outgoing]:
        if not sites:
            return []
        with self.engine.connect() as conn:
            return [Outgoing(protocol.occupancy_topic(self.city, site),
                             protocol.encode(occupancy.site_occupancy(conn, site)), retain=True)
                    for site in sorted(sites)]

    def shelter_sites(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(store.devices.c.site).where(store.devices.c.role == "shelter").distinct())
            return {site for (site,) in rows if site}

    def roster_signature(self) -> tuple:
        with self.engine.connect() as conn:
            return tuple(conn.execute(select(func.count(), func.max(store.roster.c.updated_at))).one())

    def roster_messages(self, previous_sites: set[str]) -> tuple[list[Outgoing], set[str]]:
        """Retained rosters for every site; an empty retained message clears a site now gone."""
        by_site: dict[str, dict] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(store.roster)):
                by_site.setdefault(row.site, {})[row.staff_key] = {
                    "staff_id": row.staff_id, "name": row.name, "kana": row.kana, "admin": bool(row.admin)}
        out = [Outgoing(protocol.roster_topic(self.city, site),
                        protocol.encode({"site": site, "staff": staff}), retain=True)
               for site, staff in sorted(by_site.items())]
        out += [Outgoing(protocol.roster_topic(self.city, site), b"", retain=True)
                for site in sorted(previous_sites - set(by_site))]
        return out, set(by_site)
