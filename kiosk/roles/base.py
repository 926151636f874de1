"""The vocabulary shared by every role: what goes in, what comes out.

A role is a plain object with ``handle(inp, now) -> list[Effect]``, where ``now`` is a
``kiosk.clock.ClockReading`` (wall time plus whether to believe it), so events carry their
clock provenance and tests choose the time. The display loop and the
tests drive the same role objects; only the loop turns effects into pixels, LEDs and files.

The durability rule lives in this shape: a role that wants something kept returns ``Record``
and shows nothing yet. The loop appends the event to the outbox (fsync'd) and hands the outcome
back as ``Recorded`` (or ``RecordFailed``); only then does the role return the success screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.clock import ClockReading


# --- inputs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CardRead:
    """A card was read. ``key`` is the stable key the reader derived, or None with ``error``."""

    key: str | None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CardRemoved:
    pass


@dataclass(frozen=True)
class CardResult:
    """The answer to a ``CardOp``: ``value`` on success, else ``error`` (a code such as
    ``removed``, ``blocked``, ``wrong_pin``, ``unreadable``)."""

    op: str
    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Touch:
    """A button on the current screen was pressed; ``target`` is the button's id."""

    target: str
    value: Any = None


@dataclass(frozen=True)
class Scan:
    """A line of text from a QR scanner (keyboard wedge or camera)."""

    text: str


@dataclass(frozen=True)
class Tick:
    """Time passed; roles use it for timeouts."""


@dataclass(frozen=True)
class Health:
    """Whether the city server is reachable now (from the sync state); sent when it changes."""

    hub_reachable: bool


@dataclass(frozen=True)
class Recorded:
    """The outbox stored ``event_id`` durably with this ``seq``."""

    event_id: str
    seq: int


@dataclass(frozen=True)
class RecordFailed:
    """The outbox refused an event; ``reason`` is a code such as ``disk_full``."""

    event_id: str
    reason: str


# --- effects --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Show:
    """Put a screen up. ``screen`` names a layout; ``params`` fill it; ``seconds`` until idle."""

    screen: str
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None


@dataclass(frozen=True)
class Signal:
    """An LED/buzzer pattern by name: ok, already, error, offline, enrol."""

    pattern: str


@dataclass(frozen=True)
class CardOp:
    """Ask the card that is still on the reader for something (e.g. ``tries_left``,
    ``verify_pin``, ``read_basic_info``); the answer comes back as ``CardResult``.
    ``args`` is kept out of repr so a PIN can never reach a log line through it."""

    op: str
    args: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Record:
    """Store this event (kiosk.events.Event) in the outbox; the outcome comes back as an input."""

    event: Any


@dataclass(frozen=True)
class Save:
    """Keep a small piece of the role's own state on the device (the loop writes
    ``<data>/<name>.json`` atomically) so it survives a restart; read back at start-up."""

    name: str
    data: Any


class Role(Protocol):
    def handle(self, inp: object, now: ClockReading) -> list[object]: ...
