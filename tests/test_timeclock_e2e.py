"""End to end: a virtual My Number Card tapped on the vpcd reader of a private pcscd ->
pyscard -> staff-id chain -> role -> punch fsync'd in the outbox -> result frame -> LEDs."""

from __future__ import annotations

import pygame

from kiosk.display.simulate import DEMO_STAFF, demo_card
from kiosk.nfc.reader import PcscReader
from kiosk.outbox import SyncState
from tests.screenshots import save_screenshot
from tests.test_display_app import (BUZZER, GREEN, RED, display, kiosk_factory,  # noqa: F401
                                    pins, run_until, stored, wait_for_changes)


def assert_lit_for(pin, seconds: float) -> None:
    """One on-period of ``seconds`` (mock pin timestamps are deltas between changes)."""
    assert [bool(s.state) for s in pin.states] == [False, True, False]
    assert abs(pin.states[2].timestamp - seconds) < 0.1  # loaded CI boxes jitter


def test_timeclock_e2e_vpcd_tap_punches_shows_result_and_signals(pcscd, kiosk_factory, tmp_path, pins):
    SyncState(health={"connected": True, "hub_online": True}).save(tmp_path)  # city server reachable
    kiosk = kiosk_factory(reader=PcscReader(pcscd.reader_name))
    with pcscd.card(demo_card(7)):
        run_until(kiosk, lambda: kiosk.screen.name == "result" and not kiosk.dirty, timeout=20)
    (event,) = stored(tmp_path)
    assert event.schema == "punch/1"
    assert event.data["staff_id"] == DEMO_STAFF[7][0] and event.data["direction"] == "in"
    assert event.data["staff_key"].startswith("jpki:")
    assert kiosk.screen.params["name"] == DEMO_STAFF[7][1] and kiosk.screen.params["kept_offline"] is False
    # kiosk.feedback PATTERNS["ok"]: green for 1.5 s, one 0.1 s beep, red dark.
    wait_for_changes(pins.pin(GREEN), 2)
    wait_for_changes(pins.pin(BUZZER), 2)
    assert_lit_for(pins.pin(GREEN), 1.5)
    assert_lit_for(pins.pin(BUZZER), 0.1)
    assert not any(s.state for s in pins.pin(RED).states)
    save_screenshot(kiosk.surface, "e2e_vpcd_result_800x480")


def test_timeclock_e2e_vpcd_not_a_mynumber_card_records_nothing(pcscd, kiosk_factory, tmp_path, pins):
    from kiosk.nfc.emulator import VirtualCard

    kiosk = kiosk_factory(reader=PcscReader(pcscd.reader_name))
    odd = VirtualCard(tamper=lambda command, answer: bytes.fromhex("6A82"))  # every AP "not found"
    with pcscd.card(odd):
        run_until(kiosk, lambda: kiosk.screen.name == "card_error" and not kiosk.dirty, timeout=20)
    assert stored(tmp_path) == []
    wait_for_changes(pins.pin(RED), 1)
    assert pins.pin(RED).states[1].state and not any(s.state for s in pins.pin(GREEN).states)
