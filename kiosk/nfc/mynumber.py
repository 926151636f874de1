"""The My Number Card's applications as the kiosk uses them.

- input-support AP (券面事項入力補助AP): PIN tries left, VERIFY the 4-digit PIN or 照合番号B,
  the basic 4 details from EF 0002;
- JPKI AP: the user-authentication certificate (EF 000A, no PIN).

Every SELECT goes through ``_select``, which refuses EF 0001, 0003 and 0014 of the
input-support AP before anything is sent: the individual number is never read. PINs are
never retried here; one VERIFY per call.

The 4-info flow is 7 APDUs: SELECT AP, SELECT EF 0011, tries left, VERIFY, SELECT EF 0002,
READ head, READ rest (one more READ per 256 bytes beyond the first 263).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from kiosk.nfc import apdu, tlv
from kiosk.nfc.reader import CardError, Session

TEXT_AID = bytes.fromhex("D3921000310001010408")
JPKI_AID = bytes.fromhex("D392F000260100000001")
VISUAL_AID = bytes.fromhex("D3921000310001010402")
FORBIDDEN_EFS = frozenset({0x0001, 0x0003, 0x0014})  # the number, its hash, PIN A (the number)
PIN_EF, CODE_B_EF, BASIC_EF, AUTH_CERT_EF = 0x0011, 0x0015, 0x0002, 0x000A

HEAD = 7  # bytes read first: enough for any outer header with up to 3 length bytes
CHUNK = 256
MAX_BASIC_INFO = 8192  # a record claiming more is corrupt
MAX_CERT = 8192
SEXES = {"1", "2", "9"}


@dataclass(frozen=True)
class PinResult:
    status: str  # "ok" | "wrong" | "blocked"
    tries_left: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class BasicInfo:
    name: str
    address: str
    birth_date: date
    sex: str  # ISO 5218: "1" male, "2" female, "9" not applicable

    def __repr__(self) -> str:  # personal data stays out of logs and tracebacks
        return "BasicInfo(<redacted>)"


class MyNumberCard:
    """The card behind one session. Remembers which DF/EF is current to skip repeat SELECTs."""

    def __init__(self, session: Session):
        self.session = session
        self._current: tuple[bytes | None, int | None] = (None, None)

    # selection

    def _select(self, aid: bytes, fid: int | None = None) -> None:
        if aid == TEXT_AID and fid in FORBIDDEN_EFS:
            raise PermissionError(f"EF {fid:04X} of the input-support AP is never selected")
        if self._current[0] != aid:
            self._current = (None, None)
            sw = self._send(apdu.select_df(aid)).sw
            if sw == apdu.SW_FILE_NOT_FOUND:
                raise CardError("not_my_number", f"application {aid.hex().upper()} not on this card")
            self._expect_ok(sw, "SELECT application")
            self._current = (aid, None)
        if fid is not None and self._current[1] != fid:
            self._current = (aid, None)
            self._expect_ok(self._send(apdu.select_ef(fid)).sw, f"SELECT EF {fid:04X}")
            self._current = (aid, fid)

    def has_application(self, aid: bytes) -> bool:
        """Whether the card answers a SELECT of ``aid`` (how a card is recognised; never by ATR)."""
        try:
            self._select(aid)
        except CardError as exc:
            if exc.code == "not_my_number":
                return False
            raise
        return True

    def _send(self, command: bytes) -> apdu.Response:
        try:
            return self.session.transmit(command)
        except Exception:
            self._current = (None, None)
            raise

    @staticmethod
    def _expect_ok(sw: int, what: str) -> None:
        if sw != apdu.SW_OK:
            raise CardError("unexpected_sw", f"{what} answered {apdu.sw_text(sw)}")

    # PIN

    def pin_tries_left(self) -> int:
        """Tries left on the input-support PIN; consumes none."""
        return self._tries_left(PIN_EF)

    def _tries_left(self, pin_ef: int) -> int:
        self._select(TEXT_AID, pin_ef)
        sw = self._send(apdu.verify_status()).sw
        result = _pin_result(sw, "VERIFY status")
        return result.tries_left if result.tries_left is not None else 0

    def verify_pin(self, pin: str) -> PinResult:
        """One VERIFY of the 4-digit input-support PIN (never retried)."""
        if not re.fullmatch(r"[0-9]{4}", pin or ""):
            raise ValueError("the PIN is 4 digits")  # refused before it can cost a try
        return self._verify(PIN_EF, pin)

    def verify_code_b(self, code14: str) -> PinResult:
        """One VERIFY of 照合番号B (birth YYMMDD + expiry year + security code, 14 digits),
        which also opens EF 0002 for people who forgot their PIN."""
        if not re.fullmatch(r"[0-9]{14}", code14 or ""):
            raise ValueError("照合番号B is 14 digits")
        return self._verify(CODE_B_EF, code14)

    def _verify(self, pin_ef: int, secret: str) -> PinResult:
        self._select(TEXT_AID, pin_ef)
        return _pin_result(self._send(apdu.verify(secret.encode("ascii"))).sw, "VERIFY")

    # data

    def read_basic_info(self) -> BasicInfo:
        """The basic 4 details from EF 0002 (after ``verify_pin`` or ``verify_code_b``)."""
        self._select(TEXT_AID, BASIC_EF)
        return parse_basic_info(self._read_element(MAX_BASIC_INFO, "EF 0002"))

    def auth_certificate(self) -> bytes:
        """The JPKI user-authentication certificate (DER), no PIN needed."""
        self._select(JPKI_AID, AUTH_CERT_EF)
        der = self._read_element(MAX_CERT, "EF 000A")
        if der[0] != 0x30:
            raise CardError("bad_data", "EF 000A is not a DER certificate")
        return der

    def read_file(self, aid: bytes, fid: int, limit: int = CHUNK) -> bytes:
        """Up to ``limit`` bytes of a free-form EF (a city card AP's staff number)."""
        self._select(aid, fid)
        return self._read(0, limit, allow_short=True)

    def verify_other(self, aid: bytes, pin_ef: int, secret: str) -> PinResult:
        """One VERIFY of a PIN EF of another application (a city card AP)."""
        self._select(aid, pin_ef)
        return _pin_result(self._send(apdu.verify(secret.encode("utf-8"))).sw, "VERIFY")

    def _read_element(self, limit: int, what: str) -> bytes:
        """One TLV element sized from its own header: read HEAD bytes, then the rest."""
        head = self._read(0, HEAD, allow_short=True)
        try:
            total = tlv.read_header(head).total
        except tlv.TlvError as exc:
            raise CardError("bad_data", f"{what}: {exc}") from None
        if total > limit:
            raise CardError("bad_data", f"{what} claims {total} bytes (more than {limit})")
        data = head[:total]
        while len(data) < total:
            data += self._read(len(data), min(CHUNK, total - len(data)), allow_short=False, what=what)
        return data

    def _read(self, offset: int, length: int, allow_short: bool, what: str = "file") -> bytes:
        response = self._send(apdu.read_binary(offset, length))
        if response.sw == apdu.SW_SECURITY_NOT_SATISFIED:
            raise CardError("not_verified", "PIN not verified for this file")
        if response.sw == apdu.SW_OFFSET_BEYOND_EF:
            raise CardError("bad_data", f"{what} shorter than its header says")
        self._expect_ok(response.sw, "READ BINARY")
        if len(response.data) > length:
            raise CardError("bad_data", f"READ BINARY returned {len(response.data)} bytes for {length}")
        if not response.data or (len(response.data) < length and not allow_short):
            raise CardError("bad_data", f"{what} shorter than its header says")
        return response.data


def _pin_result(sw: int, what: str) -> PinResult:
    if sw == apdu.SW_OK:
        return PinResult("ok")
    if sw in (apdu.SW_AUTH_BLOCKED, apdu.SW_REF_DATA_BLOCKED, 0x63C0):
        return PinResult("blocked", 0)
    if sw & 0xFFF0 == 0x63C0:
        return PinResult("wrong", sw & 0x0F)
    raise CardError("unexpected_sw", f"{what} answered {apdu.sw_text(sw)}")


def parse_basic_info(record: bytes) -> BasicInfo:
    """EF 0002: FF20 { DF21 offsets, DF22 name, DF23 address, DF24 YYYYMMDD, DF25 sex }."""
    try:
        (outer,) = tlv.parse(record)
        if outer.tag != 0xFF20:
            raise tlv.TlvError(f"outer tag {outer.tag:X}, expected FF20")
        fields = {item.tag: item.value for item in tlv.parse(outer.value)}
    except ValueError as exc:  # TlvError, or not exactly one element
        raise CardError("bad_data", f"EF 0002 is not the expected TLV: {exc}") from None
    missing = [f"{t:X}" for t in (0xDF22, 0xDF23, 0xDF24, 0xDF25) if t not in fields]
    if missing:
        raise CardError("bad_data", f"EF 0002 lacks {', '.join(missing)}")
    return BasicInfo(name=_text(fields[0xDF22], "name"), address=_text(fields[0xDF23], "address"),
                     birth_date=_birth_date(fields[0xDF24]), sex=_sex(fields[0xDF25]))


def _text(value: bytes, what: str) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError("bad_data", f"{what} is not UTF-8 (byte {exc.start})") from None
    # Control characters would break screens and forms; the card never legitimately holds them.
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise CardError("bad_data", f"{what} contains control characters")
    return text


def _birth_date(value: bytes) -> date:
    if not re.fullmatch(rb"[0-9]{8}", value):
        raise CardError("bad_data", "birth date is not YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise CardError("bad_data", f"birth date {value.decode()} does not exist") from None


def _sex(value: bytes) -> str:
    text = value.decode("ascii", "replace")
    if text not in SEXES:
        raise CardError("bad_data", "sex is not 1, 2 or 9")
    return text
