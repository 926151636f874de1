"""LED and buzzer patterns, checked on gpiozero's own mock pins over time."""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockPWMPin

from kiosk.feedback import PATTERNS, Feedback
from tests.gpio import mock_pin_factory

GREEN, RED, BUZZER = 17, 27, 22


class RecordingPWMPin(MockPWMPin):
    """A PWM mock pin that also remembers every frequency it was set to (a tone's pitch)."""

    def __init__(self, factory, info):
        super().__init__(factory, info)
        self.frequencies = []

    def _set_frequency(self, value):
        if value is not None:
            self.frequencies.append(value)
        super()._set_frequency(value)


@pytest.fixture
def factory():
    with mock_pin_factory(RecordingPWMPin) as factory:
        yield factory


def settle(pin, changes: int, timeout: float = 5.0) -> None:
    """Wait until the pin has made ``changes`` state changes (after its initial state)."""
    deadline = time.monotonic() + timeout
    while len(pin.states) < changes + 1:
        assert time.monotonic() < deadline, f"pin saw only {pin.states}"
        time.sleep(0.01)


TOLERANCE = 0.1  # s; gpiozero's own 0.05 is too tight for a 2-core CI box running other suites


def assert_timeline(pin, expected) -> None:
    """States exactly, times (deltas between changes, as MockPin records them) within TOLERANCE."""
    assert [bool(s.state) for s in pin.states] == [state for _, state in expected], pin.states
    for actual, (delta, _) in zip(pin.states, expected):
        assert actual.timestamp == pytest.approx(delta, abs=TOLERANCE), pin.states


def test_feedback_ok_lights_green_and_beeps_once(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    green, red, buzzer = (factory.pin(n) for n in (GREEN, RED, BUZZER))
    feedback.signal("ok")
    settle(green, 2)
    settle(buzzer, 2)
    assert_timeline(green, [(0, False), (0, True), (1.5, False)])
    assert_timeline(buzzer, [(0, False), (0, True), (0.1, False)])
    assert_timeline(red, [(0, False)])
    feedback.close()


def test_feedback_already_blinks_twice(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    green, buzzer = factory.pin(GREEN), factory.pin(BUZZER)
    feedback.signal("already")
    settle(green, 4)
    settle(buzzer, 4)
    assert_timeline(green, [(0, False), (0, True), (0.15, False), (0.15, True), (0.15, False)])
    assert_timeline(buzzer, [(0, False), (0, True), (0.08, False), (0.08, True), (0.08, False)])
    feedback.close()


def test_feedback_error_lights_red_never_green(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    green, red, buzzer = (factory.pin(n) for n in (GREEN, RED, BUZZER))
    feedback.signal("error")
    settle(red, 2)
    settle(buzzer, 6)
    assert_timeline(red, [(0, False), (0, True), (2.0, False)])
    assert_timeline(buzzer, [(0, False), (0, True), (0.15, False), (0.1, True), (0.15, False), (0.1, True),
                             (0.15, False)])
    assert not any(state.state for state in green.states)
    feedback.close()


def test_feedback_offline_differs_from_ok(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    green, red = factory.pin(GREEN), factory.pin(RED)
    feedback.signal("offline")
    settle(red, 4)
    settle(green, 2)
    assert_timeline(red, [(0, False), (0, True), (0.2, False), (0.2, True), (0.2, False)])
    assert_timeline(green, [(0, False), (0, True), (1.5, False)])
    feedback.close()


def test_feedback_enrol_blinks_three_times(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    green, buzzer = factory.pin(GREEN), factory.pin(BUZZER)
    feedback.signal("enrol")
    settle(green, 6)
    settle(buzzer, 2)
    assert_timeline(green, [(0, False)] + [(0 if i == 0 else 0.2, state) for i, state in
                                            enumerate([True, False] * 3)])
    assert_timeline(buzzer, [(0, False), (0, True), (0.4, False)])
    feedback.close()


def test_feedback_signal_returns_at_once(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    started = time.monotonic()
    feedback.signal("error")
    assert time.monotonic() - started < 0.1
    assert factory.pin(RED).state  # lit while the call has already returned
    feedback.close()


def test_feedback_new_pattern_cuts_old_one_short(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    red, green = factory.pin(RED), factory.pin(GREEN)
    feedback.signal("error")
    feedback.signal("ok")
    assert not red.state and green.state
    feedback.close()


def test_feedback_tonal_buzzer_plays_pattern_tone(factory):
    feedback = Feedback(GREEN, RED, BUZZER, tonal=True)
    pin = factory.pin(BUZZER)
    pin.frequencies.clear()  # the PWM device's own start-up frequency
    feedback.signal("error")
    settle(pin, 6)
    assert pin.frequencies == pytest.approx([PATTERNS["error"].tone] * 3)
    assert [bool(s.state) for s in pin.states] == [False, True, False, True, False, True, False]
    feedback.close()


def test_feedback_unknown_pattern_rejected(factory):
    feedback = Feedback(GREEN, RED, BUZZER)
    with pytest.raises(KeyError):
        feedback.signal("party")
    feedback.close()
