"""Whether the clock is synchronised: the kernel's answer, and the fallback when it cannot be asked."""

import ctypes
import ctypes.util
import time
from pathlib import Path

from kiosk import clock


def test_kernel_answers_with_a_bool_here():
    assert isinstance(clock.kernel_synced(), bool)


def test_timex_layout_matches_the_kernel():
    # If the struct were laid out wrongly, `status` would be read from the wrong bytes; the
    # kernel's copy of the current time lands in time_sec only when the layout is right.
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    timex = clock._Timex()
    assert libc.adjtimex(ctypes.byref(timex)) >= 0
    assert abs(timex.time_sec - time.time()) < 5
    assert ctypes.sizeof(clock._Timex) >= 208  # sizeof(struct timex) on 64-bit Linux


def test_verdict_follows_the_kernel_when_it_answers(tmp_path, monkeypatch):
    flag = tmp_path / "synchronized"
    flag.touch()  # the kernel wins over the flag file
    monkeypatch.setattr(clock, "kernel_synced", lambda: False)
    assert clock.is_synchronised(flag) == (False, "unsynced")
    monkeypatch.setattr(clock, "kernel_synced", lambda: True)
    assert clock.is_synchronised(tmp_path / "absent") == (True, "ntp")


def test_fallback_to_timesyncd_flag_when_adjtimex_cannot_be_called(tmp_path, monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    clock._libc.cache_clear()  # libc is looked up once per process
    monkeypatch.setattr(clock, "_libc", clock._libc.__wrapped__)
    assert clock.kernel_synced() is None
    flag = tmp_path / "synchronized"
    assert clock.is_synchronised(flag) == (False, "unsynced")
    flag.touch()
    assert clock.is_synchronised(flag) == (True, "ntp")


def test_read_clock_gives_boot_id_and_rising_monotonic_time():
    first, second = clock.read_clock(), clock.read_clock()
    assert first.boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert second.mono_ns >= first.mono_ns > 0
    assert first.wall.utcoffset() is not None
    assert first.synced == clock.is_synchronised()[0]


def test_boot_id_unknown_when_unreadable(tmp_path, monkeypatch):
    monkeypatch.setattr(clock, "BOOT_ID_FILE", tmp_path / "absent")
    assert clock.boot_id() == "unknown"
