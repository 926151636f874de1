"""What an intake is made of: the members being admitted, the household, staff entry.

Plain data for kiosk/roles/shelter.py. Each member carries a pseudonymous ``ref`` that links
their admission to later departures: ``card:<key>`` (the card's JPKI certificate digest),
``qr:<registration id>:<n>`` (member n of a pre-registered household) or ``staff:<6 digits>``
(the intake number given to people entered by staff, who have no card or QR to tap out with).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kiosk import qrcodes

CODE_B_LENGTH = 14
INTAKE_NUMBER_LENGTH = 6


@dataclass
class Member:
    ref: str
    channel: str  # card | code_b | qr | staff
    verified: bool
    name: str = ""
    kana: str = ""
    address: str = ""
    birth_date: str = ""  # ISO YYYY-MM-DD
    sex: str = "0"
    needs: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "kana": self.kana, "address": self.address,
                "birth_date": self.birth_date, "sex": self.sex, "needs": list(self.needs),
                "channel": self.channel, "verified": self.verified}


@dataclass
class Intake:
    household: str = field(default_factory=lambda: str(uuid.uuid4()))
    members: list[Member] = field(default_factory=list)
    qr: qrcodes.Prereg | None = None
    pets: dict[str, int] = field(default_factory=dict)
    car: bool = False
    stay: str = "shelter"
    consent: bool = False

    def has(self, ref: str) -> bool:
        return any(m.ref == ref for m in self.members)


@dataclass
class StaffEntry:
    """A member being typed in by staff: kana name, then birth date, then sex."""

    kana: str = ""
    era: str = "showa"
    digits: str = ""
    born: date | None = None


def card_member(key: str, info: Any, channel: str) -> Member:
    """A member from the card's 4 details (an object or a mapping with name, address,
    birth_date, sex); verified, because the card vouched for them."""
    get = info.get if isinstance(info, dict) else lambda k, d=None: getattr(info, k, d)
    born = get("birth_date")
    return Member(ref=f"card:{key}", channel=channel, verified=True, name=str(get("name", "")),
                  kana="", address=str(get("address", "")),
                  birth_date=born.isoformat() if isinstance(born, date) else str(born or ""),
                  sex=str(get("sex", "0")))


def staff_member(kana: str, born: date, sex: str) -> Member:
    """Someone typed in by staff: unverified, with a fresh intake number as the ref."""
    number = f"{secrets.randbelow(10 ** INTAKE_NUMBER_LENGTH):0{INTAKE_NUMBER_LENGTH}d}"
    return Member(ref=f"staff:{number}", channel="staff", verified=False, name=kana, kana=kana,
                  birth_date=born.isoformat(), sex=sex)


def qr_ref(prereg: qrcodes.Prereg, index: int) -> str:
    return f"qr:{prereg.reg_id}:{index}"


def qr_member(prereg: qrcodes.Prereg, index: int) -> Member:
    m = prereg.members[index]
    return Member(ref=qr_ref(prereg, index), channel="qr", verified=False, name=m.name, kana=m.kana,
                  birth_date=m.birth_date.isoformat(), sex=m.sex, needs=list(m.needs))


def code_b_plausible(code: str) -> bool:
    """YYMMDD (a real date) + expiry year 20xx + 4 digits; the card decides the rest."""
    if len(code) != CODE_B_LENGTH or not code.isdigit():
        return False
    try:
        date(2000 + int(code[:2]), int(code[2:4]), int(code[4:6]))
    except ValueError:
        return False
    return code[6:8] == "20"
