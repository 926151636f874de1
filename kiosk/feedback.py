"""The green LED, the red LED and the buzzer: one named pattern per outcome.

Wiring (BCM numbers from ``[gpio]``): each LED through a resistor to ground, an active buzzer
between its pin and ground (or a passive one with ``tonal_buzzer = true``). Off the Pi,
gpiozero's mock pin factory stands in (``GPIOZERO_PIN_FACTORY=mock``).

Patterns never block: gpiozero blinks and beeps on its own background threads, and a new
pattern cuts the previous one short so the lights always show the newest outcome::

    feedback = Feedback(green=17, red=27, buzzer=22)
    feedback.signal("ok")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from gpiozero import LED, Buzzer, TonalBuzzer


@dataclass(frozen=True)
class Pattern:
    """Seconds on/off and repeats for each part; ``n = 0`` keeps the part dark/silent."""

    green: tuple[float, float, int] = (0, 0, 0)
    red: tuple[float, float, int] = (0, 0, 0)
    beep: tuple[float, float, int] = (0, 0, 0)
    tone: float = 880.0  # Hz, for a passive buzzer; TonalBuzzer plays 220-880 Hz by default


PATTERNS = {
    # accepted and sent on: steady green, one short beep
    "ok": Pattern(green=(1.5, 0, 1), beep=(0.1, 0, 1), tone=880.0),
    # second tap inside the window: two quick green blinks, two short beeps
    "already": Pattern(green=(0.15, 0.15, 2), beep=(0.08, 0.08, 2), tone=660.0),
    # refused (unknown card, unreadable, disk full): long red, three low beeps
    "error": Pattern(red=(2.0, 0, 1), beep=(0.15, 0.1, 3), tone=247.0),
    # accepted but kept on the device (city server unreachable): green plus a red flick
    "offline": Pattern(green=(1.5, 0, 1), red=(0.2, 0.2, 2), beep=(0.1, 0, 1), tone=880.0),
    # enrolment done: three green blinks, one long beep
    "enrol": Pattern(green=(0.2, 0.2, 3), beep=(0.4, 0, 1), tone=523.0),
}


class Feedback:
    """LEDs and buzzer on GPIO; ``pin_factory`` None means gpiozero's default."""

    def __init__(self, green: int, red: int, buzzer: int, *, tonal: bool = False, pin_factory=None):
        self.green = LED(green, pin_factory=pin_factory)
        self.red = LED(red, pin_factory=pin_factory)
        self.buzzer = (TonalBuzzer if tonal else Buzzer)(buzzer, pin_factory=pin_factory)
        self._tone_stop = threading.Event()
        self._tone_thread: threading.Thread | None = None

    def signal(self, name: str) -> None:
        pattern = PATTERNS[name]
        self._blink(self.green, pattern.green)
        self._blink(self.red, pattern.red)
        if isinstance(self.buzzer, TonalBuzzer):
            self._tones(pattern)
        else:
            self._blink(self.buzzer, pattern.beep)

    def close(self) -> None:
        self._stop_tones()
        for device in (self.green, self.red, self.buzzer):
            device.close()

    @staticmethod
    def _blink(device, timing: tuple[float, float, int]) -> None:
        on, off, n = timing
        if n:
            device.blink(on_time=on, off_time=off, n=n, background=True)
        else:
            device.off()

    def _tones(self, pattern: Pattern) -> None:
        # TonalBuzzer has no beep(): play the tone on a thread that a newer pattern can stop.
        self._stop_tones()
        stop = self._tone_stop = threading.Event()
        self._tone_thread = threading.Thread(target=self._play, args=(pattern, stop), daemon=True)
        self._tone_thread.start()

    def _play(self, pattern: Pattern, stop: threading.Event) -> None:
        on, off, n = pattern.beep
        for _ in range(n):
            self.buzzer.play(pattern.tone)
            if stop.wait(on):
                break
            self.buzzer.stop()
            if stop.wait(off):
                break
        self.buzzer.stop()

    def _stop_tones(self) -> None:
        self._tone_stop.set()
        if self._tone_thread is not None:
            self._tone_thread.join()
            self._tone_thread = None
