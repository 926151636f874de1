"""Command APDUs the kiosk sends, response parsing, status words and trace masking.

Only the commands in ``docs/card.md`` exist here; there is deliberately no generic
"select any file" helper outside ``mynumber.py``'s guarded one.
"""

from __future__ import annotations

from dataclasses import dataclass

SW_OK = 0x9000
SW_SECURITY_NOT_SATISFIED = 0x6982  # READ before VERIFY
SW_AUTH_BLOCKED = 0x6983  # ISO 7816-4 "authentication method blocked"
SW_REF_DATA_BLOCKED = 0x6984  # JICSAP: every VERIFY after the counter ran out
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_NO_CURRENT_EF = 0x6986
SW_OFFSET_BEYOND_EF = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_FUNC_NOT_SUPPORTED = 0x6A81

# PC/SC Part 3 pseudo-APDU answered by the reader: the card's UID (Type A) or PUPI (Type B).
GET_UID = bytes.fromhex("FFCA000000")


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK


class MalformedResponse(ValueError):
    """A response shorter than a status word."""


def parse_response(raw: bytes) -> Response:
    if len(raw) < 2:
        raise MalformedResponse(f"response of {len(raw)} byte(s), no status word")
    return Response(bytes(raw[:-2]), (raw[-2] << 8) | raw[-1])


def select_df(aid: bytes) -> bytes:
    """SELECT by DF name, no FCI wanted (P2=0C), as jpki/myna, OpenSC and TRET do."""
    return bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid


def select_ef(fid: int) -> bytes:
    return bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big")


def verify(secret: bytes) -> bytes:
    """VERIFY against the current PIN EF (P2=80)."""
    return bytes([0x00, 0x20, 0x00, 0x80, len(secret)]) + secret


def verify_status() -> bytes:
    """VERIFY without data: answers ``63 Cx`` with the tries left and consumes none."""
    return bytes([0x00, 0x20, 0x00, 0x80])


def read_binary(offset: int, length: int) -> bytes:
    """READ BINARY of ``length`` (1..256; 256 is sent as Le=00) bytes at ``offset`` (< 0x8000)."""
    if not 0 <= offset < 0x8000 or not 1 <= length <= 256:
        raise ValueError(f"READ BINARY offset {offset} length {length} out of range")
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, length & 0xFF])


def is_verify(apdu: bytes) -> bool:
    return len(apdu) >= 2 and apdu[1] == 0x20 and apdu[0] & 0xF0 in (0x00, 0x80)


def trace(apdu: bytes) -> str:
    """Hex of a command for logs; VERIFY data (a PIN or 照合番号B) becomes ``**``."""
    if is_verify(apdu) and len(apdu) > 5:
        return apdu[:5].hex(" ").upper() + " " + " ".join(["**"] * (len(apdu) - 5))
    return apdu.hex(" ").upper()


def sw_text(sw: int) -> str:
    return f"{sw >> 8:02X} {sw & 0xFF:02X}"
