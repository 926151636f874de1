"""Apply kiosk.toml from the SD card's boot partition at every boot (kiosk-config.service).

The file is checked with the same ``kiosk.config.parse`` as ``kiosk`` itself (a BOM and CRLF
line ends from Windows editors are fine), then turned into the OS settings: hostname (the
device id), time zone, time servers for systemd-timesyncd, Wi-Fi for wpa_supplicant, and
``/etc/kiosk/kiosk.toml``. Files the config names (certificates, keys, the broker password, the
Wi-Fi passphrase) live on the data partition under ``/var/lib/kiosk/certs/``; a file of the same
name on the boot partition is copied there, so IT may delete it from the card after first boot.

A broken file leaves no ``/etc/kiosk/kiosk.toml`` (nothing runs on a stale or half-valid
config) and its error goes to ``ERROR_FILE``, which the UI shows on screen. The root is a RAM
overlay, so everything under /etc is rebuilt from the boot partition at each boot.

Run as root: ``python -m kiosk.bootconfig``.
"""

from __future__ import annotations

import grp
import hashlib
import os
import socket
import sys
from pathlib import Path, PurePosixPath

from kiosk import config
from kiosk.files import write_atomic

BOOT_FILE = PurePosixPath("/boot/firmware/kiosk.toml")
DATA_DIR = PurePosixPath("/var/lib/kiosk")
CERT_DIR = DATA_DIR / "certs"
ETC_FILE = PurePosixPath("/etc/kiosk/kiosk.toml")
ERROR_FILE = PurePosixPath("/run/kiosk/config-error.txt")
WPA_FILE = PurePosixPath("/etc/wpa_supplicant/wpa_supplicant-wlan0.conf")
TIMESYNC_FILE = PurePosixPath("/etc/systemd/timesyncd.conf.d/50-kiosk.conf")
GROUP = "kiosk"

ERROR_HEADING = "設定ファイル kiosk.toml に誤りがあります / kiosk.toml has an error"
ERROR_HINT = ("SDカードの起動パーティションの kiosk.toml を直して再起動してください。\n"
              "Fix kiosk.toml on the SD card's boot partition and restart.")


class BootConfigError(config.ConfigError):
    """kiosk.toml is valid TOML for the kiosk but cannot work on the appliance."""


def apply(root: Path = Path("/"), group: str = GROUP) -> config.Config:
    """Validate and apply the boot partition's kiosk.toml under ``root``; raises ConfigError."""
    at = _Root(root, grp.getgrnam(group).gr_gid)
    at.remove(ERROR_FILE)
    at.remove(ETC_FILE)
    boot_file = at.path(BOOT_FILE)
    if not boot_file.exists():
        raise config.ConfigError(f"kiosk.toml: not found on the boot partition ({BOOT_FILE})")
    raw = boot_file.read_bytes()
    loaded = config.parse(raw, "kiosk.toml")
    _check_appliance(loaded)
    for name in _referenced_files(loaded):
        _install_file(at, name)
    at.write(PurePosixPath("/etc/hostname"), f"{loaded.device.id}\n")
    at.write(PurePosixPath("/etc/hosts"), _hosts(loaded.device.id))
    _set_timezone(at, loaded.system.timezone)
    _set_time_servers(at, loaded.system.time_servers)
    _set_wifi(at, loaded.system)
    at.write(ETC_FILE, raw.decode("utf-8-sig").replace("\r\n", "\n"), private=True)
    return loaded


def report(root: Path, error: Exception) -> str:
    """Write the error where the UI shows it (ERROR_FILE); returns the text written."""
    text = f"{ERROR_HEADING}\n\n{error}\n\n{ERROR_HINT}\n"
    path = root / ERROR_FILE.relative_to("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o755)
    write_atomic(path, text.encode())
    os.chmod(path, 0o644)
    return text


def read_report(root: Path = Path("/")) -> str | None:
    """The error ``report`` wrote at this boot without its heading and hint (the UI's error
    screen draws those), or None when kiosk.toml was applied."""
    path = root / ERROR_FILE.relative_to("/")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{ERROR_FILE}: cannot read: {exc.strerror or exc}"
    return text.strip().removeprefix(ERROR_HEADING).removesuffix(ERROR_HINT).strip()


def _check_appliance(loaded: config.Config) -> None:
    if loaded.data_dir != Path(DATA_DIR):
        raise BootConfigError(f'kiosk.toml: [storage] directory = "{loaded.storage.directory}": '
                              f"must be {DATA_DIR} on the appliance (the data partition; "
                              "anything else is lost at power-off)")
    for label, name in _file_keys(loaded):
        if name and PurePosixPath(name).parent != CERT_DIR:
            raise BootConfigError(f'kiosk.toml: {label} = "{name}": must be a file in {CERT_DIR}/ '
                                  "(copied there from the boot partition)")


def _file_keys(loaded: config.Config) -> list[tuple[str, str]]:
    m, s = loaded.mqtt, loaded.system
    return [("[mqtt] ca_file", m.ca_file), ("[mqtt] cert_file", m.cert_file),
            ("[mqtt] key_file", m.key_file), ("[mqtt] password_file", m.password_file),
            ("[system] wifi_psk_file", s.wifi_psk_file)]


def _referenced_files(loaded: config.Config) -> list[str]:
    return [PurePosixPath(name).name for _, name in _file_keys(loaded) if name]


def _install_file(at: _Root, name: str) -> None:
    source = at.path(BOOT_FILE.parent / name)
    target = at.path(CERT_DIR / name)
    at.mkdir(CERT_DIR, private=True)
    if source.is_file():
        at.write(CERT_DIR / name, source.read_bytes(), private=True)
    elif not target.is_file():
        raise BootConfigError(f"kiosk.toml: {CERT_DIR / name}: not on the data partition and "
                              f"no {name} on the boot partition to copy there")


def _hosts(hostname: str) -> str:
    return f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _set_timezone(at: _Root, zone: str) -> None:
    zoneinfo = PurePosixPath("/usr/share/zoneinfo") / zone
    if not at.path(zoneinfo).is_file():
        raise BootConfigError(f'kiosk.toml: [system] timezone = "{zone}": unknown time zone')
    localtime = at.path(PurePosixPath("/etc/localtime"))
    localtime.unlink(missing_ok=True)
    localtime.symlink_to(zoneinfo)
    at.write(PurePosixPath("/etc/timezone"), f"{zone}\n")


def _set_time_servers(at: _Root, servers: list[str]) -> None:
    for server in servers:
        if not server or any(c.isspace() for c in server):
            raise BootConfigError(f'kiosk.toml: [system] time_servers: "{server}" is not a host name')
    if servers:
        at.write(TIMESYNC_FILE, f"[Time]\nNTP={' '.join(servers)}\n")
    else:
        at.remove(TIMESYNC_FILE)


def _set_wifi(at: _Root, system: config.SystemSection) -> None:
    if not system.wifi_ssid:
        at.remove(WPA_FILE)
        return
    ssid = system.wifi_ssid.encode()
    if system.wifi_psk_file:
        key = f"psk={_psk(at, system.wifi_psk_file, ssid)}"
    else:
        key = "key_mgmt=NONE"
    # The SSID in hex and the key as a derived hex PSK: nothing in the file needs quoting.
    at.write(WPA_FILE, f"ctrl_interface=DIR=/run/wpa_supplicant\nupdate_config=0\n"
                       f"country={system.wifi_country}\n"
                       f"network={{\n\tssid={ssid.hex()}\n\tscan_ssid=1\n\t{key}\n}}\n", mode=0o600)


def _psk(at: _Root, name: str, ssid: bytes) -> str:
    text = at.path(CERT_DIR / PurePosixPath(name).name).read_bytes().decode("utf-8-sig", "replace")
    passphrase = text.strip("\r\n")
    if len(passphrase) == 64 and all(c in "0123456789abcdefABCDEF" for c in passphrase):
        return passphrase.lower()
    if not 8 <= len(passphrase) <= 63 or not all(" " <= c <= "~" for c in passphrase):
        raise BootConfigError(f"kiosk.toml: [system] wifi_psk_file = \"{name}\": the passphrase must "
                              "be 8-63 plain ASCII characters (or 64 hex digits)")
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid, 4096, 32).hex()


class _Root:
    """Writes under a root directory (``/`` on the Pi, a temp dir in tests)."""

    def __init__(self, root: Path, gid: int) -> None:
        self.root = root
        self.gid = gid

    def path(self, absolute: PurePosixPath) -> Path:
        return self.root / absolute.relative_to("/")

    def mkdir(self, absolute: PurePosixPath, private: bool = False) -> None:
        """Private directories are root:kiosk 0750, others root 0755."""
        path = self.path(absolute)
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, 0, self.gid if private else 0)
        os.chmod(path, 0o750 if private else 0o755)

    def write(self, absolute: PurePosixPath, data: str | bytes, private: bool = False, mode: int = 0o644) -> None:
        """Atomic write; private files are root:kiosk 0640 (the kiosk reads, never writes)."""
        path = self.path(absolute)
        self.mkdir(absolute.parent, private)
        write_atomic(path, data.encode() if isinstance(data, str) else data)
        os.chown(path, 0, self.gid if private else 0)
        os.chmod(path, 0o640 if private else mode)

    def remove(self, absolute: PurePosixPath) -> None:
        self.path(absolute).unlink(missing_ok=True)


def run(root: Path = Path("/"), group: str = GROUP) -> config.Config | None:
    """Apply kiosk.toml, or report why it cannot be applied and return None."""
    try:
        return apply(root, group)
    except config.ConfigError as exc:
        print(report(root, exc), file=sys.stderr)
        return None


def main() -> int:
    loaded = run()
    if loaded is not None:
        socket.sethostname(loaded.device.id)
        print(f"kiosk.toml applied: {loaded.device.role} {loaded.device.id} at {loaded.device.site}")
    # Exit 0 either way: the UI starts and shows the error; a failed unit would show nothing more.
    return 0


if __name__ == "__main__":
    sys.exit(main())
