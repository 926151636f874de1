"""The config file: the example loads, and every kind of broken file gets a message naming the problem."""

import dataclasses
import typing
from pathlib import Path

import pytest

from kiosk import config
from kiosk.config import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"
MINIMAL = """
[device]
id = "tc-honcho-1"
site = "honcho"
city = "452025"
role = "timeclock"
"""


def sections():
    hints = typing.get_type_hints(config.Config)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(config.Config) if f.name != "path"]


def test_example_config_loads():
    loaded = config.load(EXAMPLE)
    assert loaded.device.role in config.ROLES
    assert loaded.path == EXAMPLE


@pytest.mark.parametrize("section, cls", sections())
def test_example_config_documents_every_key(section, cls):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert f"[{section}]" in text
    undocumented = [f.name for f in dataclasses.fields(cls) if f"\n{f.name} =" not in text]
    assert undocumented == []


def test_minimal_config_takes_defaults():
    loaded = config.parse(MINIMAL)
    assert loaded.storage.disk_floor_mb == 200.0
    assert loaded.data_dir == Path("/var/lib/kiosk")
    assert loaded.mqtt.port == 8883


def test_bom_and_crlf_from_a_windows_editor_are_fine():
    raw = b"\xef\xbb\xbf" + MINIMAL.replace("\n", "\r\n").encode("utf-8")
    assert config.parse(raw).device.id == "tc-honcho-1"


def test_japanese_text_values_are_kept():
    loaded = config.parse(MINIMAL.replace('role = "timeclock"', 'role = "timeclock"\nsite_name = "本庁舎"'))
    assert loaded.device.site_name == "本庁舎"


def test_int_is_accepted_where_a_number_is_expected():
    loaded = config.parse(MINIMAL + "[storage]\ndisk_floor_mb = 50\n")
    assert loaded.storage.disk_floor_mb == 50.0 and isinstance(loaded.storage.disk_floor_mb, float)


@pytest.mark.parametrize("text, message", [
    (MINIMAL.replace('"timeclock"', '"shelterr"'),
     'kiosk.toml: [device] role = "shelterr": must be one of timeclock, shelter, bereavement'),
    (MINIMAL + "[mqtt]\nprot = 1883\n",
     "kiosk.toml: [mqtt] prot: unknown key (allowed: host, port, tls,"),
    (MINIMAL + "[mqt]\nport = 1883\n",
     "kiosk.toml: [mqt]: unknown section (allowed: device, display,"),
    (MINIMAL + "[mqtt]\nport = \"8883\"\n",
     'kiosk.toml: [mqtt] port = "8883": must be a whole number'),
    (MINIMAL + "[mqtt]\nport = 8883.0\n",
     "kiosk.toml: [mqtt] port = 8883.0: must be a whole number"),
    (MINIMAL + "[mqtt]\nport = 70000\n",
     "kiosk.toml: [mqtt] port = 70000: must be a TCP port 1-65535"),
    (MINIMAL + "[mqtt]\ntls = \"yes\"\n",
     'kiosk.toml: [mqtt] tls = "yes": must be true or false'),
    (MINIMAL + "[storage]\ndisk_floor_mb = -1\n",
     "kiosk.toml: [storage] disk_floor_mb = -1: must be zero or more megabytes"),
    (MINIMAL + "[storage]\ndisk_floor_mb = true\n",
     "kiosk.toml: [storage] disk_floor_mb = true: must be a number"),
    (MINIMAL + "[gpio]\nred_led = 40\n",
     "kiosk.toml: [gpio] red_led = 40: must be a BCM GPIO number 0-27"),
    (MINIMAL + "[timeclock]\nday_boundary = \"25:00\"\n",
     'kiosk.toml: [timeclock] day_boundary = "25:00": must be a time of day HH:MM'),
    (MINIMAL + "[timeclock]\nstaff_id = \"jpki\"\n",
     'kiosk.toml: [timeclock] staff_id = "jpki": must be a list of strings'),
    (MINIMAL.replace('city = "452025"', 'city = "45202"'),
     'kiosk.toml: [device] city = "45202": must be the 6-digit local government code'),
    (MINIMAL.replace('id = "tc-honcho-1"', 'id = "TC Honcho"'),
     'kiosk.toml: [device] id = "TC Honcho": must be lower-case letters, digits and'),
    (MINIMAL.replace('id = "tc-honcho-1"\n', ""),
     "kiosk.toml: [device] id: missing (required)"),
    ("[display]\nwidth = 800\n",
     "kiosk.toml: [device]: missing section"),
    ("device = 3\n",
     "kiosk.toml: device = 3: must be a [device] section"),
    (MINIMAL + "debug = true\n",
     "kiosk.toml: [device] debug: unknown key"),
    ("debug = true\n" + MINIMAL,
     "kiosk.toml: debug: unknown key (allowed: device,"),
    (MINIMAL + "[device]\nrole = \"shelter\"\n",
     "kiosk.toml: not valid TOML"),
    ("[device\nid = 1\n",
     "kiosk.toml: not valid TOML"),
    (b"\xff\xfe[device]\n",
     "kiosk.toml: not UTF-8 text (byte 0)"),
    (b"\x00" * 64,
     "kiosk.toml: not valid TOML"),
])
def test_broken_config_is_refused_with_a_message_naming_the_problem(text, message):
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "/etc/kiosk/kiosk.toml")
    assert str(caught.value).startswith(message)


def test_unreadable_config_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^.*missing\.toml: cannot read: No such file"):
        config.load(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"cannot read: Is a directory"):
        config.load(tmp_path)
