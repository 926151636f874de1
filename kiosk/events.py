"""Events as they travel from the kiosk to the city server (DESIGN §4).

An event is created with ``seq = 0``; the outbox stamps the next per-device ``seq`` when it
stores it. ``(dev, id)`` is the dedupe key everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import uuid6

from kiosk.clock import ClockReading


class EventError(ValueError):
    """A payload that is not a valid event; ``field`` names the offending part."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"event field {field!r}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class ClockInfo:
    synced: bool
    source: str
    boot: str
    mono_ns: int


@dataclass(frozen=True)
class Event:
    schema: str
    id: str
    dev: str
    site: str
    seq: int
    time: str
    clock: ClockInfo
    data: dict[str, Any] = field(default_factory=dict)
    pii: str | None = None

    def with_seq(self, seq: int) -> Event:
        return replace(self, seq=seq)

    def to_dict(self) -> dict[str, Any]:
        """The wire form, without ``pii`` when there is none. Written out by hand because
        dataclasses.asdict deep-copies and was half of ``kiosk sync``'s CPU; ``data`` is
        therefore the event's own dict, to be read, not changed."""
        clock = self.clock
        out = {"schema": self.schema, "id": self.id, "dev": self.dev, "site": self.site, "seq": self.seq,
               "time": self.time, "clock": {"synced": clock.synced, "source": clock.source, "boot": clock.boot,
                                            "mono_ns": clock.mono_ns}, "data": self.data}
        if self.pii is not None:
            out["pii"] = self.pii
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def new_event(
    schema: str,
    data: dict[str, Any],
    *,
    dev: str,
    site: str,
    clock: ClockReading,
    pii: str | None = None,
) -> Event:
    """A fresh event with a UUIDv7 id, stamped with the given clock reading."""
    return Event(
        schema=schema,
        id=str(uuid6.uuid7()),
        dev=dev,
        site=site,
        seq=0,
        time=clock.wall.isoformat(timespec="milliseconds"),
        clock=ClockInfo(synced=clock.synced, source=clock.source, boot=clock.boot, mono_ns=clock.mono_ns),
        data=data,
        pii=pii,
    )


def _require(mapping: dict, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    name = f"{where}{key}"
    if key not in mapping:
        raise EventError(name, "missing")
    value = mapping[key]
    # bool is an int in Python; a seq of `true` is still a wrong type.
    if isinstance(value, bool) and kind is not bool:
        raise EventError(name, f"expected {_kind_name(kind)}, got bool")
    if not isinstance(value, kind):
        raise EventError(name, f"expected {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def from_dict(raw: Any) -> Event:
    """Validate a decoded JSON object and build an Event; raises EventError naming the field."""
    if not isinstance(raw, dict):
        raise EventError("(event)", f"expected an object, got {type(raw).__name__}")
    unknown = set(raw) - {"schema", "id", "dev", "site", "seq", "time", "clock", "data", "pii"}
    if unknown:
        raise EventError(sorted(unknown)[0], "unknown field")
    schema = _require(raw, "schema", str)
    if "/" not in schema:
        raise EventError("schema", f"{schema!r} is not of the form name/version")
    event_id = _require(raw, "id", str)
    try:
        uuid6.UUID(event_id)
    except ValueError:
        raise EventError("id", f"{event_id[:40]!r} is not a UUID") from None
    seq = _require(raw, "seq", int)
    if seq < 0:
        raise EventError("seq", "must not be negative")
    stamp = _require(raw, "time", str)
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        raise EventError("time", f"{stamp[:40]!r} is not an ISO 8601 time") from None
    if parsed.utcoffset() is None:
        raise EventError("time", "has no UTC offset")
    clock = _require(raw, "clock", dict)
    pii = raw.get("pii")
    if pii is not None and not isinstance(pii, str):
        raise EventError("pii", f"expected str, got {type(pii).__name__}")
    return Event(
        schema=schema,
        id=event_id,
        dev=_require(raw, "dev", str),
        site=_require(raw, "site", str),
        seq=seq,
        time=stamp,
        clock=ClockInfo(
            synced=_require(clock, "synced", bool, "clock."),
            source=_require(clock, "source", str, "clock."),
            boot=_require(clock, "boot", str, "clock."),
            mono_ns=_require(clock, "mono_ns", int, "clock."),
        ),
        data=_require(raw, "data", dict),
        pii=pii,
    )


def from_json(text: str | bytes) -> Event:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting depth
        raise EventError("(event)", f"not JSON: {exc}") from None
    return from_dict(raw)
