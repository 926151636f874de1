"""Shelter occupancy per site, as the hub publishes it (retained) for kiosks and the public page.

The count itself is cityhub/shelter.py's (admissions minus departures across all stands of a
site, in event-time order); the level follows VACAN's four steps or an admin's 満 / 受付停止.
The ingest calls ``sites_changed`` after each commit and publishes ``site_occupancy`` for them.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from sqlalchemy import Connection, select

from cityhub import shelter
from cityhub.store import devices
from kiosk.sync import protocol


def headcount(conn: Connection, site: str) -> int:
    """People in the shelter now."""
    return shelter.headcount(conn, site)


def capacity(conn: Connection, site: str) -> int | None:
    """The capacity the site's shelter stands report in their status (largest if they differ)."""
    reported = []
    rows = conn.execute(select(devices.c.last_status).where(devices.c.site == site, devices.c.role == "shelter"))
    for (status,) in rows:
        value = json.loads(status or "{}").get("capacity")
        if isinstance(value, int) and not isinstance(value, bool):
            reported.append(value)
    return max(reported) if reported else None


def site_occupancy(conn: Connection, site: str) -> dict[str, Any]:
    count, cap = headcount(conn, site), capacity(conn, site)
    return protocol.occupancy_payload(site, count, cap, shelter.level(count, cap, shelter.status(conn, site)))


def sites_changed(stored: Iterable[dict[str, Any]]) -> set[str]:
    """Sites whose occupancy may have changed with these newly stored events."""
    return {event["site"] for event in stored if event["schema"] in shelter.SCHEMAS}
