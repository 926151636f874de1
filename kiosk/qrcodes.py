"""Signed shelter pre-registration codes: a household on a QR that any stand checks offline.

The hub signs a compact binary payload with its Ed25519 pre-registration key; a stand verifies
it with the public key in ``[hub] prereg_public_key`` and needs no network. The text is the
prefix ``HNJ1`` followed by RFC 4648 base32 (A-Z, 2-7, no padding): a USB scanner in keyboard
mode types letters and digits identically on US and JP106 keymaps (``: / ? @ =`` do not), and
QR alphanumeric mode stores it densely. Lower case (Caps Lock) and surrounding blanks are
accepted.

Binary layout, version 1 (all integers big-endian)::

    body    = reg_id[5] count[1] member*count
    member  = name_len[1] name(UTF-8)  kana_len[1] kana  birth[2]  flags[2]
    kana    : if kana_len has its high bit set, one byte per katakana (code point - 0x30A0,
              0 = a space), else UTF-8
    birth   = days since 1900-01-01
    flags   = sex (2 low bits: 0 unknown, 1 male, 2 female, 3 not applicable)
              | needs bit mask << 2, in the order of NEEDS
    text    = "HNJ1" + base32(body + Ed25519 signature over b"HNJ1" + body)

Usage::

    text = encode(Prereg("ABCD2345", (member,)), signing_key)
    household = decode(scanned_text, verify_key)   # QrError with .code on anything else
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from datetime import date, timedelta

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

PREFIX = "HNJ1"
# The canonical care categories a code can carry; their order is part of the format.
NEEDS = ("elderly", "disability", "pregnancy", "infant", "medical_device", "allergy_diet", "language")
SEXES = ("0", "1", "2", "9")  # ISO 5218 codes, indexed by the 2-bit field
MAX_MEMBERS = 20
_EPOCH = date(1900, 1, 1)
_KANA_BASE = 0x30A0  # the katakana block is U+30A0..U+30FF: one byte per character
_SIG = 64
_REG_ID = 5
_TEXT = re.compile(r"[A-Z2-7]+")

# Refusal codes (a closed list; screens and tests branch on these, never on the message).
GARBLED = "qr_garbled"        # not one of our codes, cut short, or not decodable
FORGED = "qr_forged"          # well-formed but the signature does not match (altered or forged)
UNSUPPORTED = "qr_unsupported"  # one of ours, but a format version this stand does not know
NO_KEY = "qr_no_key"          # the stand has no pre-registration key configured
CODES = (GARBLED, FORGED, UNSUPPORTED, NO_KEY)


class QrError(ValueError):
    """A scanned text that is not a valid pre-registration; ``code`` is one of CODES."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code


@dataclass(frozen=True)
class PreregMember:
    name: str
    kana: str
    birth_date: date
    sex: str = "0"
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prereg:
    """A pre-registered household; ``reg_id`` is 8 base32 characters."""

    reg_id: str
    members: tuple[PreregMember, ...]


def verify_key_from_text(text: str) -> VerifyKey:
    try:
        return VerifyKey(base64.b64decode(text.strip(), validate=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a base64 Ed25519 public key: {exc}") from None


def public_key_text(key: SigningKey) -> str:
    return base64.b64encode(bytes(key.verify_key)).decode("ascii")


def new_reg_id() -> str:
    return base64.b32encode(os.urandom(_REG_ID)).decode("ascii")


# --- encoding (hub) --------------------------------------------------------------------------

def encode(prereg: Prereg, key: SigningKey) -> str:
    body = _reg_id_bytes(prereg.reg_id) + _count(prereg.members)
    body += b"".join(_member_bytes(m) for m in prereg.members)
    signature = key.sign(PREFIX.encode() + body).signature
    return PREFIX + base64.b32encode(body + signature).decode("ascii").rstrip("=")


def _reg_id_bytes(reg_id: str) -> bytes:
    raw = base64.b32decode(reg_id)
    if len(raw) != _REG_ID:
        raise ValueError(f"registration id {reg_id!r} must be 8 base32 characters")
    return raw


def _count(members: tuple[PreregMember, ...]) -> bytes:
    if not 1 <= len(members) <= MAX_MEMBERS:
        raise ValueError(f"a household has 1 to {MAX_MEMBERS} members")
    return bytes([len(members)])


def _member_bytes(member: PreregMember) -> bytes:
    days = (member.birth_date - _EPOCH).days
    if not 0 <= days < 1 << 16:
        raise ValueError(f"birth date {member.birth_date} out of range")
    mask = 0
    for need in member.needs:
        mask |= 1 << NEEDS.index(need)
    flags = SEXES.index(member.sex) | mask << 2
    return _text_field(member.name) + _kana_field(member.kana) + days.to_bytes(2, "big") + flags.to_bytes(2, "big")


def _text_field(text: str, limit: int = 255) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > limit:
        raise ValueError(f"{text[:20]!r}... is too long for a code")
    return bytes([len(raw)]) + raw


def _kana_field(kana: str) -> bytes:
    if len(kana) < 128 and all(c == " " or _KANA_BASE < ord(c) <= _KANA_BASE + 0x5F for c in kana):
        return bytes([0x80 | len(kana)]) + bytes(0 if c == " " else ord(c) - _KANA_BASE for c in kana)
    return _text_field(kana, limit=127)


# --- decoding (stand) ------------------------------------------------------------------------

def decode(text: str, key: VerifyKey | None) -> Prereg:
    """Check and unpack a scanned code; raises QrError with a code from CODES."""
    if key is None:
        raise QrError(NO_KEY, "no [hub] prereg_public_key configured")
    raw = _unwrap(text)
    body, signature = raw[:-_SIG], raw[-_SIG:]
    try:
        key.verify(PREFIX.encode() + body, signature)
    except BadSignatureError:
        raise QrError(FORGED, "signature does not match") from None
    return _parse(body)


def _unwrap(text: str) -> bytes:
    cleaned = text.strip().upper()
    if not cleaned.startswith(PREFIX[:3]):
        raise QrError(GARBLED, "not a pre-registration code")
    if not cleaned.startswith(PREFIX):
        raise QrError(UNSUPPORTED, f"format {cleaned[3:4]!r} is not known here")
    payload = cleaned[len(PREFIX):]
    if not _TEXT.fullmatch(payload):
        raise QrError(GARBLED, "characters outside base32")
    try:
        raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
    except (binascii.Error, ValueError):
        raise QrError(GARBLED, "base32 does not decode") from None
    if len(raw) < _REG_ID + 1 + _SIG:
        raise QrError(GARBLED, "too short")
    return raw


class _Cursor:
    """Reads a signed body; any overrun is a garbled code, not an IndexError."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise QrError(GARBLED, "payload cut short")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]


def _parse(body: bytes) -> Prereg:
    cursor = _Cursor(body)
    reg_id = base64.b32encode(cursor.take(_REG_ID)).decode("ascii")
    count = cursor.byte()
    if not 1 <= count <= MAX_MEMBERS:
        raise QrError(GARBLED, f"{count} members")
    members = tuple(_parse_member(cursor) for _ in range(count))
    if cursor.at != len(body):
        raise QrError(GARBLED, "trailing bytes")
    return Prereg(reg_id, members)


def _parse_member(cursor: _Cursor) -> PreregMember:
    name = _utf8(cursor.take(cursor.byte()))
    kana_len = cursor.byte()
    if kana_len & 0x80:
        packed = cursor.take(kana_len & 0x7F)
        if any(b > 0x5F for b in packed):
            raise QrError(GARBLED, "not katakana")
        kana = "".join(chr(_KANA_BASE + b) if b else " " for b in packed)
    else:
        kana = _utf8(cursor.take(kana_len))
    birth = _EPOCH + timedelta(days=int.from_bytes(cursor.take(2), "big"))
    flags = int.from_bytes(cursor.take(2), "big")
    mask = flags >> 2
    if mask >> len(NEEDS):
        raise QrError(GARBLED, "unknown care category")
    needs = tuple(n for i, n in enumerate(NEEDS) if mask & 1 << i)
    return PreregMember(name, kana, birth, SEXES[flags & 3], needs)


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise QrError(GARBLED, "text is not UTF-8") from None
