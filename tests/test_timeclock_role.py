"""The time clock's rules, driven without screen, card or disk."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from kiosk.clock import ClockReading
from kiosk.roles.base import (CardRead, Health, Record, Recorded, RecordFailed, Save, Show, Signal, Tick,
                              Touch)
from kiosk.roles.timeclock import STATE_NAME, TimeclockRole, TimeclockSettings
from kiosk.roster import Roster, StaffEntry

JST = timezone(timedelta(hours=9))
HANAKO = StaffEntry("10234", "山田 花子", "ヤマダ ハナコ", "key-hanako")
TARO = StaffEntry("10235", "佐藤 太郎", "サトウ タロウ", "key-taro")
ADMIN = StaffEntry("90001", "管理 者", "カンリ シャ", "key-admin", admin=True)
NEWBIE = StaffEntry("10300", "新人 一郎", "シンジン イチロウ", "")


class Clock:
    """A test clock: wall and monotonic time move together unless told otherwise."""

    def __init__(self, start: datetime = datetime(2026, 12, 3, 8, 29, tzinfo=JST), synced: bool = True):
        self.wall, self.mono, self.synced, self.boot = start, 10**12, synced, "boot-1"

    def now(self) -> ClockReading:
        return ClockReading(self.wall, self.synced, "ntp" if self.synced else "unsynced", self.boot, self.mono)

    def advance(self, seconds: float) -> ClockReading:
        self.wall += timedelta(seconds=seconds)
        self.mono += int(seconds * 1e9)
        return self.now()


class Harness:
    """Drives a role the way the app does: Record effects are stored (or refused) at once."""

    def __init__(self, state: dict | None = None, disk_full: bool = False, **settings):
        self.clock = Clock()
        self.role = TimeclockRole(TimeclockSettings(dev="tc-1", site="honcho", **settings),
                                  Roster([HANAKO, TARO, ADMIN, NEWBIE]), state)
        self.events, self.saved, self.disk_full = [], None, disk_full

    def send(self, inp: object) -> list[object]:
        out = []
        pending = [inp]
        while pending:
            effects = self.role.handle(pending.pop(0), self.clock.now())
            for effect in effects:
                if isinstance(effect, Record):
                    if self.disk_full:
                        pending.append(RecordFailed(effect.event.id, "disk_full"))
                    else:
                        self.events.append(effect.event)
                        pending.append(Recorded(effect.event.id, len(self.events)))
                elif isinstance(effect, Save):
                    self.saved = effect
            out.extend(effects)
        return out

    def tap(self, key: str | None, error: str | None = None) -> list[object]:
        return self.send(CardRead(key, error))


def shows(effects):
    return [e for e in effects if isinstance(e, Show)]


def signals(effects):
    return [e.pattern for e in effects if isinstance(e, Signal)]


def test_known_card_records_punch_before_showing_result():
    h = Harness()
    first = h.role.handle(CardRead("key-hanako"), h.clock.now())
    assert [type(e) for e in first] == [Record]  # nothing shown until the outbox answers
    event = first[0].event
    assert event.schema == "punch/1"
    assert event.data == {"staff_key": "key-hanako", "staff_id": "10234", "direction": "in"}
    after = h.role.handle(Recorded(event.id, 7), h.clock.now())
    (result,) = shows(after)
    assert result.screen == "result" and result.params["name"] == "山田 花子"
    assert result.params["direction"] == "in" and result.params["seq"] == 7
    assert result.seconds == 3.0
    assert signals(after) == ["offline"]  # hub not reachable yet: kept on the device


def test_known_card_signals_ok_when_hub_reachable():
    h = Harness()
    h.send(Health(True))
    effects = h.tap("key-hanako")
    assert signals(effects) == ["ok"]
    assert shows(effects)[0].params["kept_offline"] is False


def test_direction_toggles_within_working_day():
    h = Harness(double_tap_seconds=60)
    h.tap("key-hanako")
    h.clock.advance(9 * 3600)
    h.tap("key-hanako")
    h.clock.advance(600)
    h.tap("key-hanako")
    assert [e.data["direction"] for e in h.events] == ["in", "out", "in"]


def test_direction_resets_at_day_boundary_for_night_shift():
    h = Harness(day_boundary=time(4, 0))
    h.clock.wall = datetime(2026, 12, 3, 22, 0, tzinfo=JST)
    h.tap("key-hanako")                 # in at 22:00
    h.clock.advance(5 * 3600)           # 03:00 next day: still the same working day
    h.tap("key-hanako")
    h.clock.advance(2 * 3600)           # 05:00: a new working day
    h.tap("key-hanako")
    assert [e.data["direction"] for e in h.events] == ["in", "out", "in"]


def test_direction_survives_restart_from_saved_state():
    h = Harness()
    h.tap("key-hanako")
    assert h.saved.name == STATE_NAME
    restarted = Harness(state=h.saved.data)
    restarted.clock = h.clock
    h.clock.advance(3600)
    restarted.tap("key-hanako")
    assert restarted.events[0].data["direction"] == "out"


def test_double_tap_within_window_records_nothing():
    h = Harness(double_tap_seconds=60)
    h.tap("key-hanako")
    first_time = h.events[0].time
    h.clock.advance(59)
    effects = h.tap("key-hanako")
    assert len(h.events) == 1
    (screen,) = shows(effects)
    assert screen.screen == "already" and screen.params["time"] == first_time
    assert signals(effects) == ["already"]


def test_double_tap_window_measured_from_first_punch():
    h = Harness(double_tap_seconds=60)
    h.tap("key-hanako")
    h.clock.advance(40)
    h.tap("key-hanako")
    h.clock.advance(25)  # 65 s after the first punch
    h.tap("key-hanako")
    assert [e.data["direction"] for e in h.events] == ["in", "out"]


def test_double_tap_uses_monotonic_time_when_wall_clock_jumps():
    h = Harness(double_tap_seconds=60)
    h.tap("key-hanako")
    h.clock.wall += timedelta(hours=3)  # NTP step after boot
    h.clock.mono += int(5e9)
    h.tap("key-hanako")
    assert len(h.events) == 1


def test_other_card_not_blocked_by_double_tap_window():
    h = Harness()
    h.tap("key-hanako")
    h.tap("key-taro")
    assert [e.data["staff_id"] for e in h.events] == ["10234", "10235"]


def test_unknown_card_records_event_and_shows_red():
    h = Harness()
    effects = h.tap("key-stranger")
    assert [e.schema for e in h.events] == ["unknown_card/1"]
    assert h.events[0].data == {"staff_key": "key-stranger"}
    assert shows(effects)[0].screen == "unknown"
    assert signals(effects) == ["error"]


def test_unknown_card_reported_once_per_window():
    h = Harness()
    h.tap("key-stranger")
    h.clock.advance(5)
    effects = h.tap("key-stranger")
    assert len(h.events) == 1 and shows(effects)[0].screen == "unknown"


def test_unknown_card_reported_again_after_window():
    h = Harness(double_tap_seconds=60)
    h.tap("key-stranger")
    h.clock.advance(61)
    h.tap("key-stranger")
    assert [e.schema for e in h.events] == ["unknown_card/1", "unknown_card/1"]


@pytest.mark.parametrize("error", ["unreadable", "not_mynumber", "removed", None])
def test_unreadable_card_records_nothing(error):
    h = Harness()
    effects = h.tap(None, error)
    assert h.events == []
    (screen,) = shows(effects)
    assert screen.screen == "card_error" and screen.params["reason"] == (error or "unreadable")
    assert signals(effects) == ["error"]


def test_unsynced_clock_still_records_and_says_so():
    h = Harness()
    h.clock.synced = False
    effects = h.tap("key-hanako")
    assert h.events[0].clock.synced is False
    assert shows(effects)[0].params["clock_synced"] is False


def test_disk_full_shows_paper_book_never_green():
    h = Harness(disk_full=True)
    effects = h.tap("key-hanako")
    assert [s.screen for s in shows(effects)] == ["paper_book"]
    assert signals(effects) == ["error"]
    assert not any(isinstance(e, Save) for e in effects)


def test_disk_full_does_not_advance_direction():
    h = Harness(disk_full=True)
    h.tap("key-hanako")
    h.disk_full = False
    h.tap("key-hanako")
    assert h.events[0].data["direction"] == "in"


def test_correction_records_new_event_not_rewrite():
    h = Harness()
    h.tap("key-hanako")
    punch = h.events[0]
    effects = h.send(Touch("direction", "out"))
    assert len(h.events) == 2
    correction = h.events[1]
    assert correction.schema == "punch_correction/1"
    assert correction.data == {"staff_key": "key-hanako", "staff_id": "10234", "corrects": punch.id,
                               "direction": "out"}
    (screen,) = shows(effects)
    assert screen.params["direction"] == "out" and screen.params["corrected"] is True
    h.clock.advance(3600)
    h.tap("key-hanako")
    assert h.events[2].data["direction"] == "in"  # toggles from the corrected direction


def test_correction_to_same_direction_records_nothing():
    h = Harness()
    h.tap("key-hanako")
    assert h.send(Touch("direction", "in")) == []
    assert len(h.events) == 1


def test_correction_after_result_screen_gone_is_ignored():
    h = Harness(result_seconds=3.0)
    h.tap("key-hanako")
    h.clock.advance(3.5)
    assert h.send(Touch("direction", "out")) == []
    assert len(h.events) == 1


def enrol_number(h: Harness, digits: str) -> list[object]:
    h.tap("key-admin")
    h.send(Touch("enrol"))
    for digit in digits:
        h.send(Touch("digit", digit))
    return h.send(Touch("ok"))


def test_enrolment_binds_new_card_at_once():
    h = Harness()
    effects = enrol_number(h, "10300")
    assert shows(effects)[0].screen == "enrol_tap" and shows(effects)[0].params["name"] == "新人 一郎"
    effects = h.tap("key-new-card")
    enrolment = h.events[-1]
    assert enrolment.schema == "enrolment/1"
    assert enrolment.data == {"staff_key": "key-new-card", "staff_id": "10300", "enrolled_by": "90001"}
    assert shows(effects)[0].screen == "enrolled" and signals(effects) == ["enrol"]
    h.tap("key-new-card")
    assert h.events[-1].schema == "punch/1" and h.events[-1].data["staff_id"] == "10300"


def test_enrolment_binding_survives_restart():
    h = Harness()
    enrol_number(h, "10300")
    h.tap("key-new-card")
    restarted = Harness(state=h.saved.data)
    restarted.tap("key-new-card")
    assert restarted.events[0].data["staff_id"] == "10300"


def test_enrolment_only_offered_to_admin():
    h = Harness()
    h.tap("key-hanako")
    assert h.send(Touch("enrol")) == []


def test_enrolment_unknown_staff_number_asks_again():
    h = Harness()
    effects = enrol_number(h, "77777")
    (screen,) = shows(effects)
    assert screen.screen == "enrol_number" and screen.params["error"] == "not_found"
    assert screen.params["digits"] == ""


def test_enrolment_number_pad_edits_and_limits_digits():
    h = Harness()
    h.tap("key-admin")
    h.send(Touch("enrol"))
    for digit in "1" * 20:
        h.send(Touch("digit", digit))
    effects = h.send(Touch("back"))
    assert shows(effects)[0].params["digits"] == "1" * 11
    assert h.send(Touch("digit", "x")) == []


def test_enrolment_card_already_bound_refused():
    h = Harness()
    enrol_number(h, "10300")
    effects = h.tap("key-taro")
    assert shows(effects)[0].params["error"] == "already_bound"
    assert h.events[-1].schema == "punch/1"  # only the admin's own punch


def test_enrolment_times_out_to_idle():
    h = Harness(enrol_timeout_seconds=60)
    enrol_number(h, "10300")
    h.clock.advance(59)
    assert h.send(Tick()) == []
    h.clock.advance(2)
    assert shows(h.send(Tick()))[0].screen == "idle"
    h.tap("key-new-card")
    assert h.events[-1].schema == "unknown_card/1"


def test_enrolment_cancel_returns_to_idle():
    h = Harness()
    h.tap("key-admin")
    h.send(Touch("enrol"))
    assert shows(h.send(Touch("cancel")))[0].screen == "idle"
    h.clock.advance(120)
    h.tap("key-taro")
    assert h.events[-1].schema == "punch/1"


@pytest.mark.parametrize("state", [
    {"last": {"key-hanako": {"nonsense": 1}}, "bindings": {"k": 5}},
    {"last": {"key-hanako": {"event_id": "e", "time": "yesterday", "direction": "in", "boot": "b",
                             "mono_ns": 1}}},
    {"last": {"key-hanako": {"event_id": "e", "time": "2026-12-03T08:00:00+09:00", "direction": "sideways",
                             "boot": "b", "mono_ns": 1}}},
    {"last": {"key-hanako": "string"}},
    {"last": [1, 2], "bindings": ["x"]},
])
def test_saved_state_with_garbage_is_tolerated(state):
    h = Harness(state=state)
    h.tap("key-hanako")
    assert h.events[0].data["direction"] == "in"
