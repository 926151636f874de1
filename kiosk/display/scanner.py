"""A QR scanner in keyboard mode types its text and presses Enter; this collects it.

Keystrokes arrive as text-input events. A human never types 30 characters in a burst, so a
pause longer than ``GAP_SECONDS`` starts the line over: stray key presses on the stand's
keyboard do not end up in front of the next code. ``enter()`` returns the line (or None).
"""

from __future__ import annotations

GAP_SECONDS = 1.0
MAX_LENGTH = 4096  # far above any code we print; a stuck key cannot grow it forever


class ScanBuffer:
    def __init__(self) -> None:
        self.text = ""
        self._last = 0.0

    def type(self, text: str, now: float) -> None:
        if now - self._last > GAP_SECONDS:
            self.text = ""
        self._last = now
        self.text = (self.text + text)[:MAX_LENGTH]

    def enter(self, now: float) -> str | None:
        line, self.text = self.text, ""
        if not line.strip() or now - self._last > GAP_SECONDS:
            return None
        return line
