"""Shelter occupancy per site, as the hub publishes it (retained) for kiosks and the public page.

The seam for the shelter work: ``headcount`` is the only piece that reads shelter events and is
to be replaced by the real count (admissions minus departures across all stands of a site).
The ingest calls ``sites_changed`` after each commit and publishes ``site_occupancy`` for them.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from sqlalchemy import Connection, select

from cityhub.store import devices
from kiosk.sync import protocol

# A site is "crowded" from this share of its capacity on (the public page shows it in orange).
CROWDED_SHARE = 0.8


def headcount(conn: Connection, site: str) -> int:
    """People in the shelter now. Placeholder until the shelter event types are counted."""
    return 0


def capacity(conn: Connection, site: str) -> int | None:
    """The capacity the site's shelter stands report in their status (largest if they differ)."""
    reported = []
    rows = conn.execute(select(devices.c.last_status).where(devices.c.site == site, devices.c.role == "shelter"))
    for (status,) in rows:
        value = json.loads(status or "{}").get("capacity")
        if isinstance(value, int) and not isinstance(value, bool):
            reported.append(value)
    return max(reported) if reported else None


def level(count: int, cap: int | None) -> str:
    if not cap:
        return "unknown"
    if count >= cap:
        return "full"
    return "crowded" if count >= CROWDED_SHARE * cap else "open"


def site_occupancy(conn: Connection, site: str) -> dict[str, Any]:
    count, cap = headcount(conn, site), capacity(conn, site)
    return protocol.occupancy_payload(site, count, cap, level(count, cap))


def sites_changed(stored: Iterable[dict[str, Any]]) -> set[str]:
    """Sites whose occupancy may have changed with these newly stored events."""
    return {event["site"] for event in stored if event["schema"].startswith("shelter")}
