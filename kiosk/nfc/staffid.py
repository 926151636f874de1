"""How a tapped card becomes a staff key for the time clock, by a configurable chain.

``[timeclock] staff_id`` lists the methods tried in order; the first that yields a key wins:

- ``jpki``: SHA-256 of the JPKI user-authentication certificate (EF 000A, no PIN). Stable until
  the certificate is renewed (about every 5 years) or the card re-issued: re-enrol then.
- ``city_ap``: the content of an EF in the city's own card application (AP方式), configured
  with ``city_ap_aid``/``city_ap_ef`` and optionally ``city_ap_pin_ef`` + ``city_ap_pin_file``.
- ``badge_uid``: the UID the reader reports for ``FF CA 00 00 00`` (staff badges without a My
  Number Card). A My Number Card's Type B PUPI may be random per tap, so it is tried last.

Keys are opaque: ``jpki:<32 hex>``, ``city:<32 hex>``, ``uid:<hex>``. A PIN-less read proves
only possession of those bytes (docs/card.md).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from kiosk.nfc import apdu
from kiosk.nfc.mynumber import MyNumberCard
from kiosk.nfc.reader import CardError, Session

log = logging.getLogger(__name__)

METHODS = ("jpki", "city_ap", "badge_uid")


@dataclass(frozen=True)
class StaffKeyResult:
    key: str | None
    method: str  # the method that gave the key, or "none"
    reason: str | None = None  # why no key (every method's reason, in order)


@dataclass(frozen=True)
class CityApSettings:
    aid: bytes
    ef: int
    pin_ef: int | None = None
    pin: str = ""

    @classmethod
    def from_section(cls, section) -> "CityApSettings | None":
        """From ``[timeclock] city_ap_*`` keys; None when no AID is configured."""
        if not section.city_ap_aid:
            return None
        pin = ""
        if section.city_ap_pin_file:
            pin = Path(section.city_ap_pin_file).read_text(encoding="utf-8").strip()
        return cls(bytes.fromhex(section.city_ap_aid), int(section.city_ap_ef, 16),
                   int(section.city_ap_pin_ef, 16) if section.city_ap_pin_ef else None, pin)


def _digest(prefix: str, data: bytes) -> str:
    return f"{prefix}:{hashlib.sha256(data).hexdigest()[:32]}"


def jpki_key(card: MyNumberCard, _settings) -> str:
    return _digest("jpki", card.auth_certificate())


def city_ap_key(card: MyNumberCard, settings: CityApSettings | None) -> str:
    if settings is None:
        raise CardError("not_configured", "no city card application configured")
    if settings.pin_ef is not None:
        result = card.verify_other(settings.aid, settings.pin_ef, settings.pin)
        if not result.ok:
            raise CardError("not_verified", f"city AP PIN {result.status}")
    content = card.read_file(settings.aid, settings.ef).rstrip(b"\x00\xff")
    if not content:
        raise CardError("bad_data", "city AP file is empty")
    return _digest("city", settings.aid + content)


def badge_uid_key(card: MyNumberCard, _settings) -> str:
    response = card.session.transmit(apdu.GET_UID)
    if not response.ok or not 4 <= len(response.data) <= 10:
        raise CardError("unexpected_sw", f"reader gave no UID ({apdu.sw_text(response.sw)})")
    return "uid:" + response.data.hex()


_READERS = {"jpki": jpki_key, "city_ap": city_ap_key, "badge_uid": badge_uid_key}


class StaffIdentifier:
    """The chain configured in ``[timeclock]`` (``staff_id`` and ``city_ap_*``)."""

    def __init__(self, methods=("jpki",), city_ap: CityApSettings | None = None):
        unknown = [m for m in methods if m not in _READERS]
        if unknown:
            raise ValueError(f"unknown staff_id method(s): {', '.join(unknown)}")
        self.methods, self.city_ap = tuple(methods), city_ap

    @classmethod
    def from_section(cls, section) -> "StaffIdentifier":
        return cls(section.staff_id, CityApSettings.from_section(section))

    def identify(self, session: Session) -> StaffKeyResult:
        """The first key the chain yields; CardRemovedError propagates (the tap is over)."""
        card, reasons = MyNumberCard(session), []
        for method in self.methods:
            try:
                return StaffKeyResult(_READERS[method](card, self.city_ap), method)
            except CardError as exc:
                log.info("staff id %s: %s", method, exc)
                reasons.append(f"{method}: {exc}")
        return StaffKeyResult(None, "none", "; ".join(reasons) or "no method configured")


def identify(session: Session, methods=("jpki",), city_ap: CityApSettings | None = None) -> StaffKeyResult:
    """Shortcut for ``StaffIdentifier(methods, city_ap).identify(session)``."""
    return StaffIdentifier(methods, city_ap).identify(session)
