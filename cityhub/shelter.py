"""The hub's shelter views, derived from stored events: who is where, headcounts, duplicates,
stock, status, and headcount snapshots at fixed times.

Shelter stands send ``admission/1`` (a household; members as pseudonymous refs, ``staying`` =
members sleeping in the hall; names etc. in the sealed ``pii`` the ingest opened),
``departure/1`` (refs, kind out/back/leave), ``stock_count/1`` and ``shelter_status/1``. The
events are facts recorded offline, so every view is recomputed from them in event-time order;
a late batch simply changes the answer.

    cityhub shelter occupancy  --db URL            headcount, capacity, level per site
    cityhub shelter roster     --db URL --site S   people registered there (CSV, opened pii)
    cityhub shelter duplicates --db URL            the same person registered at two shelters
    cityhub shelter stock      --db URL            the latest count of each item per site
    cityhub shelter snapshots  --db URL            the fixed-time headcounts taken by serve
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import Connection, Engine, select

from cityhub import store
from kiosk.roles.shelter import ShelterSettings, congestion

log = logging.getLogger(__name__)

SCHEMAS = ("admission/1", "departure/1", "stock_count/1", "shelter_status/1")
MOVES = {"out": "out", "back": "in", "leave": "left"}  # departure kind -> the person's state
# The hub's congestion thresholds: VACAN's four levels (the stands' own defaults).
THRESHOLDS = ShelterSettings(dev="hub", site="*")
DEFAULT_SNAPSHOT_TIMES = ("06:00", "12:00", "18:00")
snapshots = store.shelter_snapshots


@dataclass(frozen=True)
class ShelterEvent:
    schema: str
    site: str
    dev: str
    seq: int
    time: datetime
    data: dict[str, Any]
    pii: dict[str, Any] | None


def shelter_events(conn: Connection, site: str | None = None, until: datetime | None = None) -> list[ShelterEvent]:
    """Every shelter event (of ``site``), oldest first by the kiosk's clock."""
    query = select(store.events.c.schema, store.events.c.site, store.events.c.dev, store.events.c.seq,
                   store.events.c.body, store.events.c.pii).where(store.events.c.schema.in_(SCHEMAS))
    if site is not None:
        query = query.where(store.events.c.site == site)
    found = []
    for row in conn.execute(query):
        body = json.loads(row.body)
        stamp = datetime.fromisoformat(body["time"])
        pii = json.loads(row.pii) if row.pii else None
        if not well_formed(row.schema, body.get("data"), pii):
            log.warning("%s seq %d: %s event of an unexpected shape left out of the shelter views",
                        row.dev, row.seq, row.schema)
            continue
        if until is None or stamp <= until:
            found.append(ShelterEvent(row.schema, row.site, row.dev, row.seq, stamp, body["data"], pii))
    return sorted(found, key=lambda e: (e.time, e.dev, e.seq))


def well_formed(schema: str, data: Any, pii: Any) -> bool:
    """Whether an event has the shape the stands send; the ingest stored it as a fact either
    way, but a view must not stumble over a buggy or hostile kiosk's event."""
    if not isinstance(data, dict):
        return False
    if schema == "admission/1":
        members = data.get("members")
        return (isinstance(data.get("household"), str) and _count(data.get("staying"))
                and isinstance(members, list) and all(isinstance(m, dict) and isinstance(m.get("ref"), str)
                                                      for m in members)
                and (pii is None or (isinstance(pii, dict) and isinstance(pii.get("members", []), list)
                                     and all(isinstance(m, dict) and isinstance(m.get("ref", ""), str)
                                             for m in pii.get("members", [])))))
    if schema == "departure/1":
        refs = data.get("refs")
        return isinstance(refs, list) and all(isinstance(r, str) for r in refs) and data.get("kind") in MOVES
    if schema == "stock_count/1":
        items = data.get("items")
        return isinstance(items, dict) and all(_count(v) for v in items.values())
    return data.get("status") in ("open", "full", "closed")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --- who is where ------------------------------------------------------------------------------

@dataclass
class Person:
    ref: str
    site: str
    household: str
    staying: bool
    state: str = "in"  # in | out | left
    details: dict[str, Any] = field(default_factory=dict)  # from the opened pii


def registrations(events: Iterable[ShelterEvent]) -> dict[tuple[str, str], Person]:
    """(site, ref) -> the person's latest registration there, after departures and returns."""
    people: dict[tuple[str, str], Person] = {}
    for event in events:
        if event.schema == "admission/1":
            details = {m.get("ref"): m for m in (event.pii or {}).get("members", [])}
            extra = {k: v for k, v in (event.pii or {}).items() if k != "members"}
            for member in event.data.get("members", []):
                ref = member["ref"]
                people[(event.site, ref)] = Person(ref, event.site, event.data.get("household", ""),
                                                   event.data.get("staying", 0) > 0, "in",
                                                   dict(details.get(ref, {}), **extra))
        elif event.schema == "departure/1":
            for ref in event.data.get("refs", []):
                person = people.get((event.site, ref))
                if person is not None:
                    person.state = MOVES[event.data["kind"]]
    return people


def headcount(conn: Connection, site: str, until: datetime | None = None) -> int:
    """People sleeping in the hall: admitted to stay here and not left (an outing keeps the place)."""
    people = registrations(shelter_events(conn, site, until))
    return sum(1 for p in people.values() if p.staying and p.state != "left")


def status(conn: Connection, site: str) -> str:
    """The last 満 / 受付停止 / open an admin set on a stand of this site."""
    latest = "open"
    for event in shelter_events(conn, site):
        if event.schema == "shelter_status/1":
            latest = event.data["status"]
    return latest


def level(count: int, capacity: int | None, site_status: str = "open") -> str:
    if capacity is None and site_status == "open":
        return "unknown"
    return congestion(count, capacity or 0, THRESHOLDS, site_status)


# --- the same person at two shelters ------------------------------------------------------------

@dataclass(frozen=True)
class Duplicate:
    key: str  # "card:..." / "qr:..." / "person:<name>|<birth date>"
    sites: tuple[str, ...]
    refs: tuple[str, ...]


def identity_keys(person: Person) -> set[str]:
    """What makes two registrations the same person: the card key or QR member id (the ref),
    and the name (or kana) with the birth date, normalised (full-width, spaces)."""
    keys = set() if person.ref.startswith("staff:") else {person.ref}
    born = person.details.get("birth_date")
    for name in (person.details.get("name"), person.details.get("kana")):
        if isinstance(name, str) and name.strip() and isinstance(born, str) and born:
            keys.add(f"person:{_normal(name)}|{born}")
    return keys


def _normal(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split())


def duplicates(conn: Connection) -> list[Duplicate]:
    """Everyone registered (not left) at more than one site at once."""
    by_key: dict[str, list[Person]] = {}
    for person in registrations(shelter_events(conn)).values():
        if person.state == "left":
            continue
        for key in identity_keys(person):
            by_key.setdefault(key, []).append(person)
    found = []
    for key, people in sorted(by_key.items()):
        sites = tuple(sorted({p.site for p in people}))
        if len(sites) > 1:
            found.append(Duplicate(key, sites, tuple(sorted({p.ref for p in people}))))
    return found


# --- stock and snapshots ---------------------------------------------------------------------

def stock(conn: Connection) -> dict[str, dict[str, Any]]:
    """site -> {"time": ..., "items": {item: count}} from the latest stock_count of the site."""
    latest: dict[str, dict[str, Any]] = {}
    for event in shelter_events(conn):
        if event.schema == "stock_count/1":
            latest[event.site] = {"time": event.time.isoformat(), "items": dict(event.data.get("items", {}))}
    return latest


def due_slots(now: datetime, times: Iterable[str], taken: set[str]) -> list[tuple[str, datetime]]:
    """Today's slots ("YYYY-MM-DD HH:MM" local, and as a time) that have passed and were not taken."""
    day = now.strftime("%Y-%m-%d")
    due = []
    for t in sorted(times):
        slot = now.replace(hour=int(t[:2]), minute=int(t[3:]), second=0, microsecond=0)
        if slot <= now and f"{day} {t}" not in taken:
            due.append((f"{day} {t}", slot))
    return due


def parse_times(text: str) -> tuple[str, ...]:
    """"06:00,12:00,18:00" -> ("06:00", "12:00", "18:00"); ValueError names a bad entry."""
    times = tuple(t.strip() for t in text.split(",") if t.strip())
    for t in times:
        if not (len(t) == 5 and t[2] == ":" and t[:2].isdigit() and t[3:].isdigit()
                and int(t[:2]) < 24 and int(t[3:]) < 60):
            raise ValueError(f"snapshot time {t!r} is not HH:MM")
    return times


def take_due_snapshots(engine: Engine, sites: Iterable[str], capacity_of, times: Iterable[str] = DEFAULT_SNAPSHOT_TIMES,
                       now: datetime | None = None) -> int:
    """Record each site's headcount for every fixed time that has passed today; returns how many
    were taken. The count is as of the slot (events stamped up to it), so a hub that was down at
    06:00 still reports 06:00 correctly. ``capacity_of(conn, site)`` gives the capacity
    (cityhub.occupancy.capacity)."""
    now = now or datetime.now().astimezone()
    taken = 0
    with engine.begin() as conn:
        for site in sorted(sites):
            done = set(conn.execute(select(snapshots.c.slot).where(snapshots.c.site == site)).scalars())
            for slot, moment in due_slots(now, times, done):
                count, cap = headcount(conn, site, until=moment), capacity_of(conn, site)
                conn.execute(snapshots.insert().values(site=site, slot=slot, headcount=count, capacity=cap,
                                                       level=level(count, cap, status(conn, site)),
                                                       taken_at=time.time()))
                taken += 1
    return taken


# --- command line ------------------------------------------------------------------------------

def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="cityhub shelter", description="shelter reports from the hub's database")
    parser.add_argument("report", choices=["occupancy", "roster", "duplicates", "stock", "snapshots"])
    parser.add_argument("--db", default="sqlite:///cityhub.db", help="SQLAlchemy URL of the hub's database")
    parser.add_argument("--site", help="the shelter (site id) for the roster")
    args = parser.parse_args(argv)
    try:
        engine = store.connect(args.db)
    except Exception as exc:  # a database URL or file the hub cannot use
        print(f"cityhub shelter: {exc}", file=sys.stderr)
        return 2
    with engine.connect() as conn:
        _REPORTS[args.report](conn, args)
    return 0


def _print_occupancy(conn: Connection, args) -> None:
    from cityhub.occupancy import site_occupancy
    sites = sorted({e.site for e in shelter_events(conn)})
    print("site\theadcount\tcapacity\tlevel")
    for site in sites:
        o = site_occupancy(conn, site)
        print(f"{site}\t{o['headcount']}\t{o['capacity'] if o['capacity'] is not None else '-'}\t{o['level']}")


def _print_roster(conn: Connection, args) -> None:
    out = csv.writer(sys.stdout)
    out.writerow(["site", "household", "ref", "state", "staying", "name", "kana", "birth_date", "sex",
                  "address", "needs", "channel", "verified", "consent"])
    for p in registrations(shelter_events(conn, args.site)).values():
        d = p.details
        out.writerow([p.site, p.household, p.ref, p.state, p.staying, d.get("name", ""), d.get("kana", ""),
                      d.get("birth_date", ""), d.get("sex", ""), d.get("address", ""), ";".join(d.get("needs", [])),
                      d.get("channel", ""), d.get("verified", ""), d.get("consent", "")])


def _print_duplicates(conn: Connection, args) -> None:
    for dup in duplicates(conn):
        print(f"{dup.key}\t{','.join(dup.sites)}\t{','.join(dup.refs)}")


def _print_stock(conn: Connection, args) -> None:
    for site, latest in sorted(stock(conn).items()):
        items = ", ".join(f"{k}={v}" for k, v in latest["items"].items())
        print(f"{site}\t{latest['time']}\t{items}")


def _print_snapshots(conn: Connection, args) -> None:
    print("site\tslot\theadcount\tcapacity\tlevel")
    for row in conn.execute(select(snapshots).order_by(snapshots.c.slot, snapshots.c.site)):
        print(f"{row.site}\t{row.slot}\t{row.headcount}\t{row.capacity if row.capacity is not None else '-'}\t{row.level}")


_REPORTS = {"occupancy": _print_occupancy, "roster": _print_roster, "duplicates": _print_duplicates,
            "stock": _print_stock, "snapshots": _print_snapshots}
