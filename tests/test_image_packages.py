"""What goes into the SD image, checked from image-build/ without building it."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = REPO / "image-build"
# Test tools and build tools. With vsmartcard-vpcd installed pcscd listens on the network and
# anyone could insert a virtual card; the rest have no business on a kiosk.
FORBIDDEN = ["vsmartcard-vpcd", "pcsc-tools", "mosquitto", "mosquitto-clients", "xvfb", "xauth",
             "postgresql*", "python3-pytest*", "python3-hypothesis", "python3-pip", "gcc*", "make",
             "swig", "*-dev", "gdb", "strace", "ltrace", "tcpdump", "dphys-swapfile"]
REQUIRED = ["linux-image-arm64", "raspi-firmware", "firmware-brcm80211", "wireless-regdb",
            "overlayroot", "busybox", "initramfs-tools", "systemd-timesyncd", "pcscd", "libccid",
            "python3-pyscard", "libgl1-mesa-dri", "libegl1", "libgbm1", "fonts-ipaexfont-gothic",
            "python3", "python3-venv", "wpasupplicant"]


def _packages() -> list[str]:
    lines = (IMAGE / "packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _wheel_deps():
    spec = importlib.util.spec_from_file_location("wheel_deps", IMAGE / "wheel_deps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_packages_hold_no_test_tools() -> None:
    found = [p for p in _packages() for pattern in FORBIDDEN if fnmatch.fnmatch(p, pattern)]
    assert found == []


def test_image_packages_hold_the_appliance_runtime() -> None:
    assert sorted(set(REQUIRED) - set(_packages())) == []


def test_image_packages_are_plain_names_listed_once() -> None:
    packages = _packages()
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", p) for p in packages)
    assert len(packages) == len(set(packages))


def test_image_venv_takes_no_test_extras_and_substitutes_pyscard_and_pygame(tmp_path: Path) -> None:
    wheel = tmp_path / "city_kiosk-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("city_kiosk-0.1.0.dist-info/METADATA", "\n".join([
            "Metadata-Version: 2.1", "Name: city-kiosk", "Version: 0.1.0",
            "Requires-Dist: pyscard>=2.0.5", "Requires-Dist: pygame>=2.5", "Requires-Dist: tinydb>=4.8",
            'Requires-Dist: pytest>=8; extra == "test"', 'Requires-Dist: SQLAlchemy>=2.0; extra == "hub"', ""]))
    assert _wheel_deps().requirements(str(wheel)) == ["pygame-ce>=2.5", "tinydb>=4.8", "lgpio>=0.2.2.0"]


def test_image_root_is_read_only_overlay_with_journaled_data_and_no_swap() -> None:
    cmdline = (IMAGE / "files/raspi-extra-cmdline").read_text().split()
    assert {"ro", "overlayroot=tmpfs:recurse=0", "consoleblank=0", "vt.global_cursor_default=0"} <= set(cmdline)
    modules = (IMAGE / "files/initramfs-modules").read_text().split("\n")
    assert "overlay" in modules and "ext4" in modules
    fstab = [line.split() for line in (IMAGE / "files/fstab").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    by_mount = {fields[1]: fields for fields in fstab}
    assert "data=journal" in by_mount["/var/lib/kiosk"][3].split(",")
    assert "ro" in by_mount["/boot/firmware"][3].split(",")
    assert not any(fields[2] == "swap" for fields in fstab)


def test_image_masks_interactive_first_boot_and_swap() -> None:
    script = (IMAGE / "customize.sh").read_text()
    joined = script.replace("\\\n", " ")
    masked = re.search(r"systemctl mask ([^\n]*)", joined)[1].split()
    assert {"systemd-firstboot.service", "swap.target", "systemd-networkd-wait-online.service"} <= set(masked)
    assert "systemd-firstboot --root" in script  # preseeded: locale and time zone, no prompt
