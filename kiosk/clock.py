"""Wall time with its provenance: is the clock synced, which boot, how long since boot.

A Pi has no real-time clock. An event stamped before NTP has synced may carry a wrong wall time;
the boot id and the CLOCK_BOOTTIME reading let the hub correct it later (DESIGN §4).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
# systemd-timesyncd touches this file once it has synchronised the clock.
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")

# adjtimex(2): STA_UNSYNC set in `status` means the kernel considers the clock unsynchronised;
# the call itself returns TIME_ERROR (5) in that state.
_STA_UNSYNC = 0x0040
_TIME_ERROR = 5


@dataclass(frozen=True)
class ClockReading:
    """One reading of the clock: what the wall clock said, and whether to believe it."""

    wall: datetime
    synced: bool
    source: str
    boot: str
    mono_ns: int


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (64-bit Linux): 11 longs/ints then padding; we only read
    # `status`, but the kernel writes the whole struct, so it must be full size.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    # find_library runs `ldconfig -p` in a subprocess (~4 ms): look once per process.
    libc_name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
    except OSError:
        return None


def kernel_synced() -> bool | None:
    """The kernel's own view (adjtimex), or None when it cannot be asked."""
    libc = _libc()
    if libc is None:
        return None
    try:
        timex = _Timex()  # modes = 0: read only
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR and not (timex.status & _STA_UNSYNC)


def is_synchronised(timesyncd_flag: Path = TIMESYNCD_FLAG) -> tuple[bool, str]:
    """Whether to trust the wall clock, and where that verdict came from."""
    verdict = kernel_synced()
    if verdict is not None:
        return verdict, "ntp" if verdict else "unsynced"
    # Fallback for sandboxes where adjtimex is refused: timesyncd's flag file.
    if timesyncd_flag.exists():
        return True, "ntp"
    return False, "unsynced"


def boot_id() -> str:
    return _read_boot_id(BOOT_ID_FILE)


@functools.cache
def _read_boot_id(path: Path) -> str:
    # Constant for the life of the process; read_clock runs on every tap and every frame.
    try:
        return path.read_text().strip()
    except OSError:
        return "unknown"


def read_clock() -> ClockReading:
    synced, source = is_synchronised()
    return ClockReading(
        wall=datetime.now(timezone.utc).astimezone(),
        synced=synced,
        source=source,
        boot=boot_id(),
        mono_ns=time.clock_gettime_ns(time.CLOCK_BOOTTIME),
    )
