"""The appliance's systemd units and host settings (systemd/), checked without an image.

``systemd-analyze verify`` runs against a temporary root holding the host's own system units
(the targets and pcscd.socket ours depend on), our units, and stand-ins for the kiosk's
executables, so it checks our files and not what happens to be installed in /opt.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SYSTEMD = REPO / "systemd"
UNITS = sorted(p.name for p in SYSTEMD.glob("*.service"))
KIOSK_PROCESSES = ("kiosk-ui.service", "kiosk-sync.service")
DEPENDENCY_KEYS = {"After", "Before", "Wants", "Requires", "Requisite", "BindsTo", "PartOf",
                   "Conflicts", "WantedBy", "RequiredBy", "OnFailure"}


def _entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; unit files repeat keys, so no configparser."""
    section, entries = "", []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
    return entries


def _values(path: Path, key: str) -> list[str]:
    return [value for _, k, value in _entries(path) if k == key]


def _one(path: Path, key: str) -> str:
    (value,) = _values(path, key)
    return value


@pytest.fixture
def verify_root(tmp_path: Path) -> Path:
    shutil.copytree("/lib/systemd/system", tmp_path / "lib/systemd/system", symlinks=True)
    shutil.copytree(SYSTEMD, tmp_path / "etc/systemd/system", ignore=shutil.ignore_patterns("*.conf", "*.rules", "*.network"))
    bin_dir = tmp_path / "opt/kiosk/venv/bin"
    bin_dir.mkdir(parents=True)
    for name in ("kiosk", "python"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    return tmp_path


def _verify(root: Path, unit: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", "--man=no", "--generators=no", f"--root={root}", unit],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("unit", UNITS)
def test_unit_passes_systemd_analyze_verify(verify_root: Path, unit: str) -> None:
    result = _verify(verify_root, unit)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stderr


def test_verify_reports_a_misspelled_key(verify_root: Path) -> None:
    unit = verify_root / "etc/systemd/system/kiosk-sync.service"
    unit.write_text(unit.read_text().replace("User=kiosk", "Usr=kiosk"))
    assert "Unknown key 'Usr'" in _verify(verify_root, "kiosk-sync.service").stderr


def test_units_depend_only_on_units_that_exist(verify_root: Path) -> None:
    # verify accepts After=network.online.target (OctoPi's typo) silently: check names ourselves.
    known = {p.name for p in (verify_root / "lib/systemd/system").iterdir()} | set(UNITS)
    files = [SYSTEMD / u for u in UNITS] + list(SYSTEMD.glob("*.service.d/*.conf"))
    missing = []
    for path in files:
        for _, key, value in _entries(path):
            if key in DEPENDENCY_KEYS:
                for name in value.split():
                    template = re.sub(r"@[^.]+\.", "@.", name)
                    if name not in known and template not in known:
                        missing.append(f"{path.name}: {key}={name}")
    assert missing == []


def test_units_never_wait_for_the_network_or_time_sync() -> None:
    for unit in UNITS:
        named = {name for _, key, value in _entries(SYSTEMD / unit) if key in DEPENDENCY_KEYS
                 for name in value.split()}
        assert not named & {"network-online.target", "time-sync.target", "systemd-time-wait-sync.service"}, unit


@pytest.mark.parametrize("unit", KIOSK_PROCESSES)
def test_kiosk_process_restarts_forever_under_a_watchdog(unit: str) -> None:
    path = SYSTEMD / unit
    assert _one(path, "Type") == "notify"
    assert int(_one(path, "WatchdogSec")) > 0
    assert _one(path, "Restart") == "always"
    assert _one(path, "StartLimitIntervalSec") == "0"
    assert _one(path, "User") == "kiosk"


@pytest.mark.parametrize("unit", KIOSK_PROCESSES)
def test_kiosk_process_may_write_only_the_data_directory(unit: str) -> None:
    path = SYSTEMD / unit
    assert _one(path, "ProtectSystem") == "strict"
    assert _one(path, "ProtectHome") == "yes"
    assert _one(path, "NoNewPrivileges") == "yes"
    assert _values(path, "ReadWritePaths") == ["/var/lib/kiosk"]


def test_ui_owns_tty1_with_kmsdrm_and_keeps_hardware_access() -> None:
    path = SYSTEMD / "kiosk-ui.service"
    assert _one(path, "TTYPath") == "/dev/tty1"
    assert {"SDL_VIDEODRIVER=kmsdrm", "SDL_RENDER_DRIVER=opengles2"} <= set(_values(path, "Environment"))
    assert "getty@tty1.service" in _one(path, "Conflicts").split()
    assert set(_one(path, "SupplementaryGroups").split()) >= {"video", "render", "input", "gpio"}
    # Each of these closes the device list: no /dev/dri, /dev/input or /dev/gpiochip.
    for key in ("PrivateDevices", "DeviceAllow", "ProtectClock", "DevicePolicy"):
        assert _values(path, key) == [], key


def test_config_oneshot_runs_before_network_and_kiosk() -> None:
    path = SYSTEMD / "kiosk-config.service"
    assert _one(path, "Type") == "oneshot"
    assert _one(path, "DefaultDependencies") == "no"
    assert {"network-pre.target", "systemd-timesyncd.service"} <= set(_one(path, "Before").split())
    assert _one(path, "ExecStart").endswith("python -m kiosk.bootconfig")
    for unit in KIOSK_PROCESSES:
        assert "kiosk-config.service" in _one(SYSTEMD / unit, "After").split()


def test_host_has_hardware_watchdog_and_volatile_capped_journal() -> None:
    watchdog = SYSTEMD / "system.conf.d/10-kiosk-watchdog.conf"
    assert re.fullmatch(r"\d+s", _one(watchdog, "RuntimeWatchdogSec"))
    journal = SYSTEMD / "journald.conf.d/10-kiosk-volatile.conf"
    assert _one(journal, "Storage") == "volatile"
    assert re.fullmatch(r"\d+M", _one(journal, "RuntimeMaxUse"))


def test_pn533_drivers_are_blacklisted() -> None:
    text = (SYSTEMD / "modprobe.d/kiosk-blacklist-pn533.conf").read_text()
    assert {"pn533_usb", "pn533"} <= set(re.findall(r"^blacklist (\S+)", text, re.M))


def test_gpiochip_belongs_to_the_kiosk_users_gpio_group() -> None:
    rule = (SYSTEMD / "udev/60-kiosk-gpio.rules").read_text()
    assert 'KERNEL=="gpiochip*"' in rule and 'GROUP="gpio"' in rule and 'MODE="0660"' in rule
    sysusers = (SYSTEMD / "sysusers.d/kiosk.conf").read_text()
    groups = set(re.findall(r"^m kiosk (\S+)", sysusers, re.M))
    assert groups == {"video", "render", "input", "gpio"}
    assert re.search(r"^g gpio ", sysusers, re.M)
