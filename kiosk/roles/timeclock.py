"""The staff time clock: a tap becomes a punch (出勤 / 退勤), kept before it is shown.

Rules (issue 4):
- known card -> ``punch/1`` {staff_key, staff_id, direction}; once stored, the result screen
  (name, direction, time, kept-on-device / sent) and the ``ok`` (or ``offline``) signal.
- direction toggles from the person's last punch of the same working day (which starts at
  ``day_boundary``); the last punches are kept on the device (``Save``) so this works offline.
- the 出勤 / 退勤 buttons on the result screen record ``punch_correction/1``, never a rewrite.
- the same card again within ``double_tap_seconds`` of a punch records nothing: "already".
- unknown card -> ``unknown_card/1`` with the key, red screen; unreadable card -> red, nothing.
- the outbox refusing (disk floor) -> the paper-book screen, never green.
- an admin's result screen offers enrolment: staff number on a pad, then the new card ->
  ``enrolment/1``; the binding works on this kiosk at once (and is kept with ``Save``).

Screens shown (their params are the contract with kiosk/display/screens/timeclock.py):
``result``, ``already``, ``unknown``, ``card_error``, ``paper_book``, ``enrol_number``,
``enrol_tap``, ``enrolled``. Signals: ok, already, error, offline, enrol.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from kiosk.clock import ClockReading
from kiosk.events import Event, new_event
from kiosk.roles.base import (CardRead, Health, Record, Recorded, RecordFailed, Save, Show, Signal, Tick,
                              Touch)
from kiosk.roster import Roster, StaffEntry

STATE_NAME = "timeclock-state"
PAPER_SECONDS = 15.0  # the paper-book request must stay long enough to be read and acted on
MAX_STAFF_DIGITS = 12


@dataclass(frozen=True)
class TimeclockSettings:
    dev: str
    site: str
    double_tap_seconds: float = 60.0
    day_boundary: time = time(4, 0)
    enrol_timeout_seconds: float = 60.0
    result_seconds: float = 3.0


@dataclass(frozen=True)
class LastPunch:
    """A person's newest punch as this kiosk knows it."""

    event_id: str
    time: str       # ISO wall time of the punch
    direction: str  # "in" | "out"
    boot: str
    mono_ns: int

    def working_day(self, boundary: time) -> date:
        return _working_day(datetime.fromisoformat(self.time), boundary)


def _working_day(wall: datetime, boundary: time) -> date:
    return (wall - timedelta(hours=boundary.hour, minutes=boundary.minute)).date()


def _seconds_between(earlier: LastPunch, now: ClockReading) -> float:
    # The monotonic clock is immune to NTP steps but only comparable within one boot.
    if earlier.boot == now.boot:
        return (now.mono_ns - earlier.mono_ns) / 1e9
    return (now.wall - datetime.fromisoformat(earlier.time)).total_seconds()


class TimeclockRole:
    """Pure decision logic; construct with the settings, the roster and the saved state."""

    def __init__(self, settings: TimeclockSettings, roster: Roster, state: dict | None = None):
        self.settings = settings
        self.roster = roster
        self.hub_reachable = False
        self._last: dict[str, LastPunch] = {}
        self._bindings: dict[str, str] = {}  # key -> staff_id, enrolled here
        self._load(state or {})
        self._pending: dict[str, tuple[str, dict]] = {}  # event id -> (kind, context)
        self._shown: dict | None = None      # the punch on the result screen, for corrections
        self._shown_until = 0
        self._enrol: dict | None = None      # enrolment in progress
        self._unknown_seen: dict[str, int] = {}

    # --- state kept on the device -----------------------------------------------------------

    def _load(self, state: dict) -> None:
        last, bindings = state.get("last"), state.get("bindings")
        for key, raw in (last.items() if isinstance(last, dict) else ()):
            try:
                punch = LastPunch(**raw)
                datetime.fromisoformat(punch.time)
                if punch.direction not in ("in", "out") or not isinstance(punch.mono_ns, int):
                    raise ValueError(punch.direction)
            except (TypeError, ValueError):
                continue  # a malformed entry only costs that person's toggle
            self._last[key] = punch
        self._bindings = {k: v for k, v in (bindings.items() if isinstance(bindings, dict) else ())
                          if isinstance(v, str)}

    def _save(self) -> Save:
        return Save(STATE_NAME, {"last": {k: vars(v) for k, v in self._last.items()},
                                 "bindings": dict(self._bindings)})

    def lookup(self, key: str) -> StaffEntry | None:
        entry = self.roster.by_key(key)
        if entry is None and key in self._bindings:
            entry = self.roster.by_staff_id(self._bindings[key])
        return entry

    # --- inputs -----------------------------------------------------------------------------

    def handle(self, inp: object, now: ClockReading) -> list[object]:
        if isinstance(inp, CardRead):
            return self._enrol_card(inp, now) if self._enrol else self._card(inp, now)
        if isinstance(inp, Recorded):
            return self._recorded(inp, now)
        if isinstance(inp, RecordFailed):
            return self._failed(inp)
        if isinstance(inp, Touch):
            return self._touch(inp, now)
        if isinstance(inp, Tick):
            return self._tick(now)
        if isinstance(inp, Health):
            self.hub_reachable = inp.hub_reachable
        return []

    def _card(self, inp: CardRead, now: ClockReading) -> list[object]:
        self._shown = None
        if inp.key is None:
            return [Show("card_error", {"reason": inp.error or "unreadable"}, self.settings.result_seconds),
                    Signal("error")]
        entry = self.lookup(inp.key)
        if entry is None:
            return self._unknown(inp.key, now)
        last = self._last.get(inp.key)
        if last and 0 <= _seconds_between(last, now) < self.settings.double_tap_seconds:
            self._show_until(now)
            self._shown = {"key": inp.key, "entry": entry}
            return [Show("already", {"name": entry.name, "kana": entry.kana, "direction": last.direction,
                                     "time": last.time, "admin": entry.admin}, self.settings.result_seconds),
                    Signal("already")]
        direction = self._next_direction(last, now)
        event = self._event("punch/1", {"staff_key": inp.key, "staff_id": entry.staff_id,
                                        "direction": direction}, now)
        self._pending[event.id] = ("punch", {"key": inp.key, "entry": entry, "event": event})
        return [Record(event)]

    def _next_direction(self, last: LastPunch | None, now: ClockReading) -> str:
        boundary = self.settings.day_boundary
        if last is None or last.working_day(boundary) != _working_day(now.wall, boundary):
            return "in"
        return "out" if last.direction == "in" else "in"

    def _unknown(self, key: str, now: ClockReading) -> list[object]:
        effects: list[object] = [Show("unknown", {}, self.settings.result_seconds * 2), Signal("error")]
        window_ns = self.settings.double_tap_seconds * 1e9
        # One event per card per window: a confused person tapping five times is one report.
        self._unknown_seen = {k: t for k, t in self._unknown_seen.items() if now.mono_ns - t < window_ns}
        if key not in self._unknown_seen:
            self._unknown_seen[key] = now.mono_ns
            effects.append(Record(self._event("unknown_card/1", {"staff_key": key}, now)))
        return effects

    def _recorded(self, inp: Recorded, now: ClockReading) -> list[object]:
        kind, ctx = self._pending.pop(inp.event_id, (None, None))
        if kind in ("punch", "correction"):
            return self._punch_kept(kind, ctx, inp, now)
        if kind == "enrolment":
            self._bindings[ctx["key"]] = ctx["entry"].staff_id
            self._enrol = None
            return [self._save(), Show("enrolled", {"name": ctx["entry"].name, "staff_id": ctx["entry"].staff_id},
                                       self.settings.result_seconds), Signal("enrol")]
        return []

    def _punch_kept(self, kind: str, ctx: dict, inp: Recorded, now: ClockReading) -> list[object]:
        key, entry, event = ctx["key"], ctx["entry"], ctx["event"]
        if kind == "punch":
            last = LastPunch(event.id, event.time, event.data["direction"], event.clock.boot, event.clock.mono_ns)
        else:
            last = replace(self._last[key], direction=event.data["direction"])
        self._last[key] = last
        self._shown = {"key": key, "entry": entry}
        self._show_until(now)
        params = {"name": entry.name, "kana": entry.kana, "direction": last.direction, "time": last.time,
                  "seq": inp.seq, "clock_synced": event.clock.synced, "corrected": kind == "correction",
                  "admin": entry.admin, "kept_offline": not self.hub_reachable}
        return [self._save(), Show("result", params, self.settings.result_seconds),
                Signal("ok" if self.hub_reachable else "offline")]

    def _failed(self, inp: RecordFailed) -> list[object]:
        kind, _ = self._pending.pop(inp.event_id, (None, None))
        if kind is None:  # an unknown_card report: its screen is already up
            return []
        self._enrol = None
        self._shown = None
        return [Show("paper_book", {"reason": inp.reason}, PAPER_SECONDS), Signal("error")]

    # --- touches ----------------------------------------------------------------------------

    def _touch(self, inp: Touch, now: ClockReading) -> list[object]:
        if self._enrol is not None:
            return self._enrol_touch(inp, now)
        if self._shown is None or now.mono_ns > self._shown_until:
            return []
        if inp.target == "direction" and inp.value in ("in", "out"):
            return self._correct(inp.value, now)
        if inp.target == "enrol" and self._shown["entry"].admin:
            self._enrol = {"admin": self._shown["entry"], "digits": "", "entry": None, "until": 0}
            self._shown = None
            return self._enrol_show(now)
        return []

    def _correct(self, direction: str, now: ClockReading) -> list[object]:
        shown = self._shown
        last: LastPunch = self._last[shown["key"]]
        if direction == last.direction:
            return []
        event = self._event("punch_correction/1", {"staff_key": shown["key"], "staff_id": shown["entry"].staff_id,
                                                   "corrects": last.event_id, "direction": direction}, now)
        self._pending[event.id] = ("correction", {"key": shown["key"], "entry": shown["entry"], "event": event})
        self._shown = None  # one correction per screen; the new result screen offers the next
        return [Record(event)]

    # --- enrolment --------------------------------------------------------------------------

    def _enrol_show(self, now: ClockReading, error: str = "") -> list[object]:
        enrol = self._enrol
        enrol["until"] = now.mono_ns + int(self.settings.enrol_timeout_seconds * 1e9)
        if enrol["entry"] is None:
            return [Show("enrol_number", {"digits": enrol["digits"], "error": error,
                                          "admin": enrol["admin"].name})]
        return [Show("enrol_tap", {"name": enrol["entry"].name, "staff_id": enrol["entry"].staff_id,
                                   "error": error})]

    def _enrol_touch(self, inp: Touch, now: ClockReading) -> list[object]:
        enrol = self._enrol
        if inp.target == "cancel":
            self._enrol = None
            return [Show("idle")]
        if enrol["entry"] is not None:
            return []
        if inp.target == "digit" and isinstance(inp.value, str) and inp.value.isdigit() and len(inp.value) == 1:
            if len(enrol["digits"]) < MAX_STAFF_DIGITS:
                enrol["digits"] += inp.value
        elif inp.target == "back":
            enrol["digits"] = enrol["digits"][:-1]
        elif inp.target == "ok":
            entry = self.roster.by_staff_id(enrol["digits"])
            if entry is None:
                enrol["digits"] = ""
                return self._enrol_show(now, "not_found") + [Signal("error")]
            enrol["entry"] = entry
        else:
            return []
        return self._enrol_show(now)

    def _enrol_card(self, inp: CardRead, now: ClockReading) -> list[object]:
        enrol = self._enrol
        if enrol["entry"] is None:
            return []  # the number comes first; a stray tap changes nothing
        if inp.key is None:
            return self._enrol_show(now, inp.error or "unreadable") + [Signal("error")]
        owner = self.lookup(inp.key)
        if owner is not None:
            return self._enrol_show(now, "already_bound") + [Signal("error")]
        event = self._event("enrolment/1", {"staff_key": inp.key, "staff_id": enrol["entry"].staff_id,
                                            "enrolled_by": enrol["admin"].staff_id}, now)
        self._pending[event.id] = ("enrolment", {"key": inp.key, "entry": enrol["entry"]})
        return [Record(event)]

    def _tick(self, now: ClockReading) -> list[object]:
        if self._enrol is not None and now.mono_ns > self._enrol["until"]:
            self._enrol = None
            return [Show("idle")]
        return []

    # --- helpers ----------------------------------------------------------------------------

    def _show_until(self, now: ClockReading) -> None:
        self._shown_until = now.mono_ns + int(self.settings.result_seconds * 1e9)

    def _event(self, schema: str, data: dict, now: ClockReading) -> Event:
        return new_event(schema, data, dev=self.settings.dev, site=self.settings.site, clock=now)
