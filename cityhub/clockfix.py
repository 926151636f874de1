"""Corrected times for events stamped while the kiosk's clock was not synchronised (DESIGN §4).

A Pi without network has no idea what time it is, but its CLOCK_BOOTTIME keeps counting. The
first event of a boot stamped with a synced clock is that boot's anchor (wall time, mono_ns);
any event of the same boot then has ``corrected_time = anchor wall + (mono_ns - anchor mono)``,
whether it arrives after the anchor or was stored before it (then it is filled in later).
Reports use ``coalesce(corrected_time, time)``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select, update

from cityhub import store


def corrected(anchor: tuple[str, int], mono_ns: int) -> str:
    wall, anchor_mono = anchor
    moment = datetime.fromisoformat(wall) + timedelta(microseconds=(mono_ns - anchor_mono) // 1000)
    return moment.isoformat(timespec="milliseconds")


class ClockAnchors:
    def __init__(self) -> None:
        # (dev, boot) -> anchor, or None when the database has none (yet): one query per boot.
        self._known: dict[tuple[str, str], tuple[str, int] | None] = {}

    def apply(self, conn: Connection, engine, dev: str, rows: list[dict[str, Any]]) -> None:
        """Fill ``corrected_time`` of ``rows`` (about to be inserted) and of stored events that
        a new anchor in ``rows`` can now correct. Runs inside the caller's transaction."""
        new = {}
        for row in rows:
            if row["synced"] and (dev, row["boot"]) not in new and self._lookup(conn, dev, row["boot"]) is None:
                new[(dev, row["boot"])] = (row["time"], row["mono_ns"])
        if new:
            conn.execute(store.insert_ignoring_duplicates(engine, store.clock_anchors),
                         [{"dev": d, "boot": b, "time": t, "mono_ns": m} for (d, b), (t, m) in new.items()])
            self._known.update(new)
            for (_d, boot), anchor in new.items():
                self._backfill(conn, dev, boot, anchor)
        for row in rows:
            anchor = None if row["synced"] else self._lookup(conn, dev, row["boot"])
            row["corrected_time"] = corrected(anchor, row["mono_ns"]) if anchor else None

    def _lookup(self, conn: Connection, dev: str, boot: str) -> tuple[str, int] | None:
        if (dev, boot) not in self._known:
            found = conn.execute(select(store.clock_anchors.c.time, store.clock_anchors.c.mono_ns).where(
                store.clock_anchors.c.dev == dev, store.clock_anchors.c.boot == boot)).first()
            self._known[(dev, boot)] = None if found is None else (found.time, found.mono_ns)
        return self._known[(dev, boot)]

    @staticmethod
    def _backfill(conn: Connection, dev: str, boot: str, anchor: tuple[str, int]) -> None:
        events = store.events
        waiting = conn.execute(select(events.c.id, events.c.mono_ns).where(and_(
            events.c.dev == dev, events.c.boot == boot, events.c.synced.is_(False),
            events.c.corrected_time.is_(None)))).all()
        for event_id, mono_ns in waiting:
            conn.execute(update(events).where(events.c.dev == dev, events.c.id == event_id)
                         .values(corrected_time=corrected(anchor, mono_ns)))
