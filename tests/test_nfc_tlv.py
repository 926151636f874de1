"""BER-TLV parser: known layouts, long-form lengths, hostile bytes, properties."""

import pytest
from hypothesis import given, settings, strategies as st

from kiosk.nfc import tlv


def test_tlv_two_byte_tags_and_short_length():
    assert tlv.parse(bytes.fromhex("DF2203414243DF250131")) == [tlv.Tlv(0xDF22, b"ABC"), tlv.Tlv(0xDF25, b"1")]


@pytest.mark.parametrize("length, head", [(0x7F, "FF207F"), (0x80, "FF208180"), (0xD6, "FF2081D6"),
                                          (0x100, "FF20820100"), (2100, "FF20820834")])
def test_tlv_long_form_length_header(length, head):
    element = tlv.encode(0xFF20, bytes(length))
    assert element.hex().upper().startswith(head)
    header = tlv.read_header(element[:7])
    assert (header.tag, header.length, header.total) == (0xFF20, length, len(element))


@pytest.mark.parametrize("raw, words", [
    ("", "tag missing"), ("DF", "tag truncated"), ("DF22", "length missing"), ("DF2282", "length truncated"),
    ("DF2280", "unsupported length form"), ("DF2285000000000000", "unsupported length form"),
    ("DF9F9F9F2201", "longer than 4"),
])
def test_tlv_header_hostile_bytes_give_tlv_error(raw, words):
    with pytest.raises(tlv.TlvError, match=words):
        tlv.read_header(bytes.fromhex(raw))


@pytest.mark.parametrize("raw", ["DF220541", "FF2082FFFF0000", "DF220141DF2302", "DF220100DF"])
def test_tlv_length_past_the_end_gives_tlv_error(raw):
    with pytest.raises(tlv.TlvError):
        tlv.parse(bytes.fromhex(raw))


tags = st.sampled_from([0x04, 0x30, 0x5F20, 0xDF21, 0xDF22, 0xFF20, 0xBF8101])
elements = st.lists(st.tuples(tags, st.binary(max_size=600)), max_size=6)


@given(elements)
def test_tlv_encode_parse_round_trip(items):
    encoded = b"".join(tlv.encode(tag, value) for tag, value in items)
    assert tlv.parse(encoded) == [tlv.Tlv(tag, value) for tag, value in items]


@given(st.binary(max_size=300))
@settings(max_examples=400)
def test_tlv_arbitrary_bytes_parse_or_tlv_error(raw):
    try:
        items = tlv.parse(raw)
    except tlv.TlvError:
        return
    assert sum(len(tlv.encode(i.tag, i.value)) for i in items) <= len(raw)


@given(elements, st.data())
def test_tlv_truncated_encoding_raises(items, data):
    encoded = b"".join(tlv.encode(tag, value) for tag, value in items)
    if not encoded:
        return
    cut = data.draw(st.integers(0, len(encoded) - 1))
    # A cut at an element boundary is a valid shorter list; anywhere else it must be refused.
    boundaries, pos = {0}, 0
    for tag, value in items:
        pos += len(tlv.encode(tag, value))
        boundaries.add(pos)
    if cut in boundaries:
        assert len(tlv.parse(encoded[:cut])) <= len(items)
    else:
        with pytest.raises(tlv.TlvError):
            tlv.parse(encoded[:cut])
