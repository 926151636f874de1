"""The kiosk's TOML config as typed settings.

Every section is a frozen dataclass; a field's type says what TOML value it takes and its
metadata may add ``choices`` or a ``check``. Errors name the file, the key, the bad value and
what is allowed, e.g. ``kiosk.toml: [device] role = "shelterr": must be one of timeclock,
shelter, bereavement``. Unknown keys are errors: in a hand-edited file they are typos.
To add a setting, add a field to its section's dataclass and document it in
``config.example.toml``.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")
ROLES = ("timeclock", "shelter", "bereavement")


class ConfigError(ValueError):
    """A config file that cannot be used; the message says where and why."""


def _choice(*allowed: str) -> dict:
    return {"choices": allowed}


def _check(test: Callable[[Any], bool], allowed: str) -> dict:
    return {"check": test, "allowed": allowed}


def _matches(pattern: str) -> Callable[[Any], bool]:
    return lambda value: re.fullmatch(pattern, value) is not None


def _positive(value: float) -> bool:
    return value > 0


def _not_negative(value: float) -> bool:
    return value >= 0


def _gpio_pin(value: int) -> bool:
    return 0 <= value <= 27


def _clock_time(value: str) -> bool:
    match = re.fullmatch(r"(\d\d):(\d\d)", value)
    return bool(match) and int(match[1]) < 24 and int(match[2]) < 60


@dataclass(frozen=True)
class DeviceSection:
    id: str = field(metadata=_check(_matches(r"[a-z0-9][a-z0-9-]{0,62}"), "lower-case letters, digits and '-', at most 63"))
    site: str = field(metadata=_check(_matches(r"[a-z0-9][a-z0-9-]{0,62}"), "lower-case letters, digits and '-', at most 63"))
    city: str = field(metadata=_check(_matches(r"\d{6}"), "the 6-digit local government code"))
    role: str = field(metadata=_choice(*ROLES))
    site_name: str = ""


@dataclass(frozen=True)
class DisplaySection:
    width: int = field(default=800, metadata=_check(_positive, "a positive number of pixels"))
    height: int = field(default=480, metadata=_check(_positive, "a positive number of pixels"))
    fullscreen: bool = True
    font: str = ""
    result_seconds: float = field(default=3.0, metadata=_check(_positive, "a positive number of seconds"))


@dataclass(frozen=True)
class ReaderSection:
    backend: str = field(default="pcsc", metadata=_choice("pcsc", "emulator"))
    name: str = ""


@dataclass(frozen=True)
class GpioSection:
    green_led: int = field(default=17, metadata=_check(_gpio_pin, "a BCM GPIO number 0-27"))
    red_led: int = field(default=27, metadata=_check(_gpio_pin, "a BCM GPIO number 0-27"))
    buzzer: int = field(default=22, metadata=_check(_gpio_pin, "a BCM GPIO number 0-27"))
    tonal_buzzer: bool = False


@dataclass(frozen=True)
class MqttSection:
    host: str = "localhost"
    port: int = field(default=8883, metadata=_check(lambda p: 0 < p < 65536, "a TCP port 1-65535"))
    tls: bool = True
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password_file: str = ""
    # Seconds without the hub's answer before a batch is sent again with the same event ids.
    resend_seconds: float = field(default=30.0, metadata=_check(_positive, "a positive number of seconds"))


@dataclass(frozen=True)
class StorageSection:
    directory: str = "/var/lib/kiosk"
    disk_floor_mb: float = field(default=200.0, metadata=_check(_not_negative, "zero or more megabytes"))


@dataclass(frozen=True)
class HubSection:
    public_key: str = ""
    # Ed25519 key (base64) that signs shelter pre-registration QR codes; stands verify offline.
    prereg_public_key: str = ""


@dataclass(frozen=True)
class TimeclockSection:
    double_tap_seconds: float = field(default=60.0, metadata=_check(_not_negative, "zero or more seconds"))
    day_boundary: str = field(default="04:00", metadata=_check(_clock_time, "a time of day HH:MM"))
    enrol_timeout_seconds: float = field(default=60.0, metadata=_check(_positive, "a positive number of seconds"))
    staff_id: list[str] = field(default_factory=lambda: ["jpki"], metadata=_choice("jpki", "city_ap", "badge_uid"))
    city_ap_aid: str = field(default="", metadata=_check(_matches(r"([0-9A-Fa-f]{2}){5,16}|"), "5-16 bytes of hex or empty"))
    city_ap_ef: str = field(default="", metadata=_check(_matches(r"[0-9A-Fa-f]{4}|"), "4 hex digits or empty"))
    city_ap_pin_ef: str = field(default="", metadata=_check(_matches(r"[0-9A-Fa-f]{4}|"), "4 hex digits or empty"))
    city_ap_pin_file: str = ""


def _labelled(value: str) -> bool:
    """A list entry "id" or "id:日本語:English" (custom categories and stock items)."""
    return re.fullmatch(r"[a-z0-9_]+(:[^:]+:[^:]+)?", value) is not None


def _percent(value: float) -> bool:
    return 0 < value <= 100


@dataclass(frozen=True)
class ShelterSection:
    capacity: int = field(default=100, metadata=_check(_not_negative, "zero or more people"))
    # Congestion levels by headcount / capacity, in percent (VACAN's four levels).
    busy_percent: float = field(default=30.0, metadata=_check(_percent, "a percentage 0-100"))
    crowded_percent: float = field(default=60.0, metadata=_check(_percent, "a percentage 0-100"))
    full_percent: float = field(default=80.0, metadata=_check(_percent, "a percentage 0-100"))
    care_categories: list[str] = field(default_factory=lambda: [
        "elderly", "disability", "pregnancy", "infant", "medical_device", "allergy_diet", "language"])
    stock_items: list[str] = field(default_factory=lambda: [
        "water_2l", "rations", "blankets", "diapers", "formula", "sanitary", "medicine"])
    admin_keys: list[str] = field(default_factory=list)
    confirmation_seconds: float = field(default=10.0, metadata=_check(_positive, "a positive number of seconds"))
    idle_timeout_seconds: float = field(default=120.0, metadata=_check(_positive, "a positive number of seconds"))
    qr_camera: str = ""

    def __post_init__(self) -> None:
        if not self.busy_percent < self.crowded_percent < self.full_percent:
            raise ConfigError("[shelter] busy_percent < crowded_percent < full_percent must hold "
                              f"(got {self.busy_percent}, {self.crowded_percent}, {self.full_percent})")
        for key in ("care_categories", "stock_items"):
            for entry in getattr(self, key):
                if not _labelled(entry):
                    raise ConfigError(f'[shelter] {key}: "{entry}" must be an id (a-z, 0-9, _) '
                                      'or "id:日本語:English"')


@dataclass(frozen=True)
class BereavementSection:
    printer: str = ""


def _timezone(value: str) -> bool:
    return re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", value) is not None


@dataclass(frozen=True)
class SystemSection:
    """The appliance's OS settings, applied from the boot partition at every boot (kiosk/bootconfig.py)."""
    timezone: str = field(default="Asia/Tokyo", metadata=_check(_timezone, "a tz database name such as Asia/Tokyo"))
    time_servers: list[str] = field(default_factory=list)
    wifi_ssid: str = field(default="", metadata=_check(lambda s: len(s.encode()) <= 32, "at most 32 bytes"))
    wifi_psk_file: str = ""
    wifi_country: str = field(default="JP", metadata=_check(_matches(r"[A-Z]{2}"), "a two-letter country code such as JP"))


@dataclass(frozen=True)
class Config:
    path: Path
    device: DeviceSection
    display: DisplaySection = field(default_factory=DisplaySection)
    reader: ReaderSection = field(default_factory=ReaderSection)
    gpio: GpioSection = field(default_factory=GpioSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    storage: StorageSection = field(default_factory=StorageSection)
    hub: HubSection = field(default_factory=HubSection)
    timeclock: TimeclockSection = field(default_factory=TimeclockSection)
    shelter: ShelterSection = field(default_factory=ShelterSection)
    bereavement: BereavementSection = field(default_factory=BereavementSection)
    system: SystemSection = field(default_factory=SystemSection)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.directory)


def load(path: Path | str = DEFAULT_PATH) -> Config:
    """Read and validate a config file; raises ConfigError naming the file, key and problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse(raw, path)


def parse(raw: bytes | str, path: Path | str = "kiosk.toml") -> Config:
    """Validate TOML text (a BOM and CRLF line ends, as Windows editors write, are fine)."""
    path = Path(path)
    name = path.name
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    raw = raw.removeprefix("\ufeff")
    try:
        table = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    return _build(Config, table, name, "", extra={"path": path})


def _build(cls: type, table: dict, name: str, where: str, extra: dict | None = None) -> Any:
    """Turn one TOML table into ``cls``, checking keys, types and allowed values."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init and f.name not in (extra or {})}
    for key in table:
        if key not in known:
            what = "section" if isinstance(table[key], dict) and not where else "key"
            label = f"[{key}]" if what == "section" else f"{_section(where)}{key}"
            raise ConfigError(f"{name}: {label}: unknown {what} (allowed: {', '.join(known)})")
    values = dict(extra or {})
    for key, spec in known.items():
        hint = hints[key]
        if key not in table:
            if spec.default is MISSING and spec.default_factory is MISSING:
                if _is_section(hint):
                    raise ConfigError(f"{name}: [{key}]: missing section")
                raise ConfigError(f"{name}: {_section(where)}{key}: missing (required)")
            continue
        value = table[key]
        if _is_section(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{name}: {key} = {_show(value)}: must be a [{key}] section")
            values[key] = _build(hint, value, name, key)
        else:
            values[key] = _value(value, hint, spec.metadata, f"{name}: {_section(where)}{key} = {_show(value)}")
    return cls(**values)


def _section(where: str) -> str:
    return f"[{where}] " if where else ""


def _is_section(hint: Any) -> bool:
    return isinstance(hint, type) and hasattr(hint, "__dataclass_fields__")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


_TYPE_WORDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}


def _value(value: Any, hint: Any, meta: typing.Mapping, label: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (list, types.GenericAlias) or origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list) or not all(_type_ok(v, item) for v in value):
            raise ConfigError(f"{label}: must be a list of {_TYPE_WORDS[item].removeprefix('a ')}s")
        if "choices" in meta:
            for v in value:
                if v not in meta["choices"]:
                    raise ConfigError(f"{label}: {_show(v)} must be one of {', '.join(meta['choices'])}")
        return list(value)
    if not _type_ok(value, hint):
        raise ConfigError(f"{label}: must be {_TYPE_WORDS[hint]}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{label}: must be one of {', '.join(meta['choices'])}")
    if "check" in meta and not meta["check"](value):
        raise ConfigError(f"{label}: must be {meta['allowed']}")
    return float(value) if hint is float else value


def _type_ok(value: Any, hint: type) -> bool:
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)
