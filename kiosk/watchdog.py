"""systemd notifications: READY once, then WATCHDOG from the main loop.

Pet the watchdog from the loop that does the work (never from a side thread), so a hung loop
stops the petting and systemd restarts the process. Outside systemd (no NOTIFY_SOCKET) every
call does nothing.
"""

from __future__ import annotations

import os
import time

import sdnotify


class Watchdog:
    def __init__(self) -> None:
        self._notifier = sdnotify.SystemdNotifier() if os.environ.get("NOTIFY_SOCKET") else None
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        # Pet at twice the rate systemd asks for, as sd_watchdog_enabled(3) recommends.
        self._interval = usec / 2e6 if usec else None
        self._last = 0.0

    def ready(self, status: str = "") -> None:
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def pet(self) -> None:
        """Call every loop iteration; sends WATCHDOG=1 only as often as needed."""
        if self._interval is None:
            return
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._send("WATCHDOG=1")

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)
