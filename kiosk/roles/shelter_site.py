"""The shelter as a place: settings, what the hub says about it, congestion, stock counts.

Pure values and functions for kiosk/roles/shelter.py and cityhub/shelter.py, which compute the
same four levels (VACAN's): 空いています, やや混雑, 混雑, 満, plus 受付停止 set by staff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.roles.shelter_text import CARE, STOCK, labelled

MAX_STOCK = 99999


@dataclass(frozen=True)
class SiteUpdate:
    """What the sync process knows (sync-state.json): the hub's retained occupancy for this
    site, whether the hub is reachable, and the roster (staff key -> entry with ``admin``)."""

    occupancy: dict[str, Any] | None = None
    online: bool = False
    roster: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShelterSettings:
    dev: str
    site: str
    capacity: int = 100
    busy_percent: float = 30.0
    crowded_percent: float = 60.0
    full_percent: float = 80.0
    care_categories: tuple[str, ...] = tuple(CARE)
    stock_items: tuple[str, ...] = tuple(STOCK)
    admin_keys: frozenset[str] = frozenset()
    confirmation_seconds: float = 10.0
    idle_timeout_seconds: float = 120.0

    @classmethod
    def from_config(cls, config: Any) -> ShelterSettings:
        s = config.shelter
        return cls(dev=config.device.id, site=config.device.site, capacity=s.capacity,
                   busy_percent=s.busy_percent, crowded_percent=s.crowded_percent,
                   full_percent=s.full_percent, care_categories=tuple(s.care_categories),
                   stock_items=tuple(s.stock_items), admin_keys=frozenset(s.admin_keys),
                   confirmation_seconds=s.confirmation_seconds,
                   idle_timeout_seconds=s.idle_timeout_seconds)


def congestion(headcount: int, capacity: int, settings: ShelterSettings, status: str = "open") -> str:
    """The level code (shelter_text.LEVELS): an admin's 満 / 受付停止 wins over the count."""
    if status in ("full", "closed"):
        return status
    if capacity <= 0:
        return "full"
    percent = 100.0 * headcount / capacity
    if percent < settings.busy_percent:
        return "open"
    if percent < settings.crowded_percent:
        return "busy"
    return "crowded" if percent < settings.full_percent else "full"


class StockSheet:
    """The stock-count screen: a count per configured item and the item being typed into."""

    def __init__(self, items: tuple[str, ...]):
        self.items = [labelled(i, STOCK) for i in items]
        self.counts = {key: 0 for key, _ja, _en in self.items}
        self.selected: str | None = None
        self.entry = ""

    def press(self, target: str, value: Any) -> bool:
        """Apply one key (plus, minus, select, digit, delete); False if it meant nothing."""
        if target in ("plus", "minus", "select") and value in self.counts:
            if target != "select":
                step = 1 if target == "plus" else -1
                self.counts[value] = min(MAX_STOCK, max(0, self.counts[value] + step))
            self.selected, self.entry = value, ""
        elif target == "digit" and self.selected and str(value).isdigit() and len(str(value)) == 1:
            self.entry = (self.entry + str(value))[:len(str(MAX_STOCK))]
            self.counts[self.selected] = int(self.entry)
        elif target == "delete" and self.selected:
            self.entry = self.entry[:-1]
            self.counts[self.selected] = int(self.entry or 0)
        else:
            return False
        return True

    def view(self) -> dict[str, Any]:
        return {"items": [(key, ja, en, self.counts[key]) for key, ja, en in self.items],
                "selected": self.selected, "entry": self.entry}
