"""BER-TLV as the My Number Card stores it: multi-byte tags, short and long-form lengths.

The card's records are small (a few KB at most), so lengths above 0xFFFFFF or the indefinite
form (``80``) are refused as corrupt rather than supported. Every error is a ``TlvError``
naming the byte offset; nothing here raises anything else on any input.
"""

from __future__ import annotations

from dataclasses import dataclass


class TlvError(ValueError):
    """Bytes that are not well-formed BER-TLV (truncated, length past the end, bad length form)."""


@dataclass(frozen=True)
class Header:
    tag: int
    length: int
    size: int  # bytes taken by tag + length

    @property
    def total(self) -> int:
        """The whole element's size: header plus value."""
        return self.size + self.length


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes


def read_header(buf: bytes, pos: int = 0) -> Header:
    """Decode the tag and length at ``pos``; the value itself may lie beyond ``buf``."""
    start = pos
    tag, pos = _read_tag(buf, pos)
    length, pos = _read_length(buf, pos)
    return Header(tag, length, pos - start)


def _read_tag(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError(f"tag missing at byte {pos}")
    first = buf[pos]
    tag, pos = first, pos + 1
    if first & 0x1F != 0x1F:
        return tag, pos
    for _ in range(3):  # at most a 4-byte tag
        if pos >= len(buf):
            raise TlvError(f"tag truncated at byte {pos}")
        tag = (tag << 8) | buf[pos]
        pos += 1
        if not buf[pos - 1] & 0x80:
            return tag, pos
    raise TlvError(f"tag longer than 4 bytes at byte {pos}")


def _read_length(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError(f"length missing at byte {pos}")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0 or count > 3:
        raise TlvError(f"unsupported length form {first:02X} at byte {pos - 1}")
    if pos + count > len(buf):
        raise TlvError(f"length truncated at byte {pos}")
    return int.from_bytes(buf[pos:pos + count], "big"), pos + count


def parse(buf: bytes) -> list[Tlv]:
    """Split ``buf`` into consecutive elements; every value must end inside ``buf``."""
    items, pos = [], 0
    while pos < len(buf):
        header = read_header(buf, pos)
        end = pos + header.total
        if end > len(buf):
            raise TlvError(f"tag {header.tag:X} at byte {pos} claims {header.length} bytes, only {len(buf) - pos - header.size} left")
        items.append(Tlv(header.tag, bytes(buf[pos + header.size:end])))
        pos = end
    return items


def encode(tag: int, value: bytes) -> bytes:
    """One element with the shortest length form (used by the emulator and the tests)."""
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return tag_bytes + length + value
