"""kiosk.toml from the boot partition applied to a temporary root (kiosk/bootconfig.py)."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from kiosk import bootconfig, config

GROUP = grp.getgrgid(os.getgid()).gr_name
GOOD = """[device]
id = "tc-honcho-1"
site = "honcho"
site_name = "本庁舎 職員通用口"
city = "452025"
role = "timeclock"

[mqtt]
host = "mqtt.city.example.jp"
ca_file = "/var/lib/kiosk/certs/ca.crt"
cert_file = "/var/lib/kiosk/certs/device.crt"
key_file = "/var/lib/kiosk/certs/device.key"

[system]
time_servers = ["ntp.nict.jp", "ntp.jst.mfeed.ad.jp"]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with a boot partition holding the certificates, and Tokyo's zoneinfo."""
    (tmp_path / "boot/firmware").mkdir(parents=True)
    for name in ("ca.crt", "device.crt", "device.key"):
        (tmp_path / "boot/firmware" / name).write_text(f"-----{name}-----\n")
    zone = tmp_path / "usr/share/zoneinfo/Asia/Tokyo"
    zone.parent.mkdir(parents=True)
    zone.write_bytes(b"TZif2")
    return tmp_path


def _boot(root: Path, text: str | bytes) -> None:
    (root / "boot/firmware/kiosk.toml").write_bytes(text.encode() if isinstance(text, str) else text)


def _error(root: Path) -> str:
    return (root / "run/kiosk/config-error.txt").read_text()


def _wifi(ssid: str, psk_file: str = "") -> str:
    return GOOD + f"wifi_ssid = '{ssid}'\n" + (f'wifi_psk_file = "{psk_file}"\n' if psk_file else "")


@pytest.mark.parametrize("encode", [
    lambda t: t.encode(),
    lambda t: b"\xef\xbb\xbf" + t.encode(),
    lambda t: t.replace("\n", "\r\n").encode(),
    lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode(),
], ids=["plain", "bom", "crlf", "bom-crlf"])
def test_bootconfig_good_file_is_applied(root: Path, encode) -> None:
    _boot(root, encode(GOOD))
    loaded = bootconfig.run(root, GROUP)
    assert loaded is not None and loaded.device.id == "tc-honcho-1"
    etc = root / "etc/kiosk/kiosk.toml"
    assert etc.read_text() == GOOD  # BOM and CR gone, content unchanged
    assert config.load(etc).device.role == "timeclock"
    assert stat.S_IMODE(etc.stat().st_mode) == 0o640
    assert (root / "etc/hostname").read_text() == "tc-honcho-1\n"
    assert "127.0.1.1\ttc-honcho-1" in (root / "etc/hosts").read_text()
    assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Asia/Tokyo"
    assert (root / "etc/timezone").read_text() == "Asia/Tokyo\n"
    timesync = (root / "etc/systemd/timesyncd.conf.d/50-kiosk.conf").read_text()
    assert timesync == "[Time]\nNTP=ntp.nict.jp ntp.jst.mfeed.ad.jp\n"
    assert not (root / "run/kiosk/config-error.txt").exists()
    assert not (root / "etc/wpa_supplicant/wpa_supplicant-wlan0.conf").exists()


def test_bootconfig_copies_certificates_to_the_data_partition(root: Path) -> None:
    _boot(root, GOOD)
    assert bootconfig.run(root, GROUP) is not None
    key = root / "var/lib/kiosk/certs/device.key"
    assert key.read_text() == "-----device.key-----\n"
    assert stat.S_IMODE(key.stat().st_mode) == 0o640
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o750


def test_bootconfig_keeps_certificates_removed_from_the_card_after_first_boot(root: Path) -> None:
    _boot(root, GOOD)
    assert bootconfig.run(root, GROUP) is not None
    (root / "boot/firmware/device.key").unlink()
    assert bootconfig.run(root, GROUP) is not None
    assert (root / "var/lib/kiosk/certs/device.key").read_text() == "-----device.key-----\n"


@pytest.mark.parametrize("text", [
    GOOD.replace('role = "timeclock"', 'role = "shelterr"'),
    GOOD.replace('role = "timeclock"', "role = “timeclock”"),  # smart quotes from a word processor
    GOOD.replace("[device]", "[devise]"),
    GOOD.replace('city = "452025"', "city = 452025"),
    GOOD + "[system]\nwifi_ssid = 'x'\n",  # a section twice
    "",
], ids=["bad-role", "smart-quotes", "typo-section", "number-not-string", "duplicate-section", "empty"])
def test_bootconfig_broken_file_shows_the_kiosk_error(root: Path, text: str) -> None:
    with pytest.raises(config.ConfigError) as expected:
        config.parse(text.encode(), "kiosk.toml")
    _boot(root, "\ufeff" + text.replace("\n", "\r\n"))
    assert bootconfig.run(root, GROUP) is None
    shown = _error(root)
    assert str(expected.value) in shown  # the same words `kiosk config check` prints
    assert "設定ファイル kiosk.toml に誤りがあります" in shown and "kiosk.toml has an error" in shown
    assert not (root / "etc/kiosk/kiosk.toml").exists()


def test_bootconfig_broken_file_replaces_the_last_good_config(root: Path) -> None:
    _boot(root, GOOD)
    assert bootconfig.run(root, GROUP) is not None
    _boot(root, GOOD.replace('id = "tc-honcho-1"', 'id = "TC 1"'))
    assert bootconfig.run(root, GROUP) is None
    assert '[device] id = "TC 1"' in _error(root)
    assert not (root / "etc/kiosk/kiosk.toml").exists()
    _boot(root, GOOD)
    assert bootconfig.run(root, GROUP) is not None
    assert not (root / "run/kiosk/config-error.txt").exists()


def test_bootconfig_not_utf8_is_reported(root: Path) -> None:
    _boot(root, GOOD.replace("本庁舎", "本庁舎").encode("shift_jis"))
    assert bootconfig.run(root, GROUP) is None
    assert "not UTF-8" in _error(root)


def test_bootconfig_missing_file_is_reported(root: Path) -> None:
    assert bootconfig.run(root, GROUP) is None
    assert "not found on the boot partition (/boot/firmware/kiosk.toml)" in _error(root)


@pytest.mark.parametrize("text, words", [
    (GOOD.replace("/var/lib/kiosk/certs/device.key", "/etc/shadow"),
     '[mqtt] key_file = "/etc/shadow": must be a file in /var/lib/kiosk/certs/'),
    (GOOD.replace("device.key", "other.key"), "no other.key on the boot partition"),
    (GOOD + '\n[storage]\ndirectory = "/tmp/kiosk"\n', "must be /var/lib/kiosk on the appliance"),
    (GOOD.replace("[system]", '[system]\ntimezone = "Asia/Tokio"'), 'timezone = "Asia/Tokio": unknown time zone'),
    (GOOD.replace('"ntp.nict.jp",', '"ntp nict",'), '"ntp nict" is not a host name'),
], ids=["cert-outside-data", "cert-missing", "storage-in-ram", "unknown-zone", "bad-ntp"])
def test_bootconfig_appliance_rules_are_reported(root: Path, text: str, words: str) -> None:
    _boot(root, text)
    assert bootconfig.run(root, GROUP) is None
    assert words in _error(root)
    assert not (root / "etc/shadow").exists()


def test_bootconfig_wifi_passphrase_becomes_a_derived_key(root: Path) -> None:
    # IEEE 802.11i-2004 test vector: passphrase "password", SSID "IEEE".
    (root / "boot/firmware/wifi.txt").write_bytes(b"\xef\xbb\xbfpassword\r\n")
    _boot(root, _wifi("IEEE", "/var/lib/kiosk/certs/wifi.txt"))
    assert bootconfig.run(root, GROUP) is not None
    wpa = root / "etc/wpa_supplicant/wpa_supplicant-wlan0.conf"
    text = wpa.read_text()
    assert "country=JP\n" in text and f"ssid={b'IEEE'.hex()}\n" in text
    assert "psk=f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e\n" in text
    assert "password" not in text
    assert stat.S_IMODE(wpa.stat().st_mode) == 0o600


def test_bootconfig_wifi_without_passphrase_is_an_open_network(root: Path) -> None:
    ssid = '避難所 "Free" Wi-Fi'
    _boot(root, _wifi(ssid))
    assert bootconfig.run(root, GROUP) is not None
    text = (root / "etc/wpa_supplicant/wpa_supplicant-wlan0.conf").read_text()
    assert f"ssid={ssid.encode().hex()}\n" in text and "key_mgmt=NONE" in text


@pytest.mark.parametrize("passphrase", [b"short", b"x" * 64, "パスワード12345".encode()], ids=["short", "long", "non-ascii"])
def test_bootconfig_bad_wifi_passphrase_is_reported(root: Path, passphrase: bytes) -> None:
    (root / "boot/firmware/wifi.txt").write_bytes(passphrase)
    _boot(root, _wifi("CityWiFi", "/var/lib/kiosk/certs/wifi.txt"))
    assert bootconfig.run(root, GROUP) is None
    assert "passphrase must be 8-63 plain ASCII characters" in _error(root)
