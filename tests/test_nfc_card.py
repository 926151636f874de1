"""The My Number Card code against the in-process virtual card: flows, PIN rules, hostile cards."""

import logging
import threading
import time
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kiosk import config
from kiosk.nfc import apdu, tlv
from kiosk.nfc.emulator import CityAp, EmulatorReader, VirtualCard, encode_basic_info
from kiosk.nfc.mynumber import JPKI_AID, TEXT_AID, MyNumberCard
from kiosk.nfc.reader import CardError, CardRemovedError, NfcError, open_reader
from kiosk.nfc.staffid import CityApSettings, StaffIdentifier, identify

FORBIDDEN = (0x0001, 0x0003, 0x0014)


def tap(card: VirtualCard, timeout: float = 2.0):
    reader = EmulatorReader(transmit_timeout=timeout)
    reader.insert(card)
    session = reader.wait_for_card(1.0)
    assert session is not None
    return reader, session, MyNumberCard(session)


def read_four_info(mn: MyNumberCard, pin: str = "1234"):
    mn.pin_tries_left()
    assert mn.verify_pin(pin).ok
    return mn.read_basic_info()


def test_card_four_info_in_seven_apdus():
    card = VirtualCard(name="山田 花子", address="東京都千代田区1-1", birth_date=date(1990, 2, 28), sex="2")
    _, session, mn = tap(card)
    info = read_four_info(mn)
    assert (info.name, info.address, info.birth_date, info.sex) == ("山田 花子", "東京都千代田区1-1", date(1990, 2, 28), "2")
    assert session.apdu_count == 7
    assert "山田" not in repr(info)


def test_card_pin_tries_left_consumes_no_try():
    card = VirtualCard(pin_tries=2)
    _, _, mn = tap(card)
    assert [mn.pin_tries_left() for _ in range(3)] == [2, 2, 2]
    assert card.pin_tries == 2


def test_card_wrong_pin_counter_goes_down_then_blocks():
    card = VirtualCard(pin="4321")
    _, _, mn = tap(card)
    results = [mn.verify_pin("0000") for _ in range(3)]
    assert [(r.status, r.tries_left) for r in results] == [("wrong", 2), ("wrong", 1), ("blocked", 0)]
    assert mn.pin_tries_left() == 0
    assert mn.verify_pin("4321").status == "blocked"  # the right PIN no longer helps


def test_card_right_pin_resets_counter():
    card = VirtualCard(pin_tries=2)
    _, _, mn = tap(card)
    assert mn.verify_pin("1234").ok
    assert mn.pin_tries_left() == 3


@pytest.mark.parametrize("sw", [0x6983, 0x6984])
def test_card_blocked_pin_status_words(sw):
    card = VirtualCard(pin_tries=0, blocked_sw=sw)
    _, _, mn = tap(card)
    assert mn.pin_tries_left() == 0
    assert mn.verify_pin("1234").status == "blocked"


@pytest.mark.parametrize("pin", ["123", "12345", "12a4", "", "１２３４"])
def test_card_malformed_pin_refused_before_sending(pin):
    card = VirtualCard()
    _, _, mn = tap(card)
    with pytest.raises(ValueError):
        mn.verify_pin(pin)
    assert card.apdus == [] and card.pin_tries == 3


def test_card_read_before_verify_is_not_verified():
    _, _, mn = tap(VirtualCard())
    with pytest.raises(CardError) as err:
        mn.read_basic_info()
    assert err.value.code == "not_verified"


def test_card_removed_between_verify_and_read():
    card = VirtualCard()
    reader, session, mn = tap(card)
    assert mn.verify_pin("1234").ok
    reader.remove()
    with pytest.raises(CardRemovedError):
        mn.read_basic_info()
    assert reader.wait_for_removal(session, 0.1)
    reader.insert(card)  # back on the reader: the VERIFY did not survive removal
    again = MyNumberCard(reader.wait_for_card(1.0))
    with pytest.raises(CardError, match="not_verified"):
        again.read_basic_info()


def test_card_code_b_opens_basic_info():
    card = VirtualCard(birth_date=date(1975, 12, 31))
    _, _, mn = tap(card)
    assert mn.verify_code_b("00000000000000").status == "wrong"
    assert mn.verify_code_b("75123120341234").ok
    assert mn.read_basic_info().birth_date == date(1975, 12, 31)
    with pytest.raises(ValueError):
        mn.verify_code_b("7512312034")


@pytest.mark.parametrize("length", [100, 127, 128, 214, 2000])
def test_card_long_address_long_form_tlv(length):
    address = ("東" * length)[: length // 3] + "x" * (length - 3 * (length // 3))
    assert len(address.encode()) == length
    _, session, mn = tap(VirtualCard(address=address))
    assert read_four_info(mn).address == address
    if length <= 200:
        assert session.apdu_count == 7


def test_card_auth_certificate_sized_from_header():
    card = VirtualCard()
    _, session, mn = tap(card)
    assert mn.auth_certificate() == card.auth_cert
    assert len(card.auth_cert) == 900 and session.apdu_count == 7  # 2 SELECT, head, 4 READs


def test_card_without_applications_is_not_my_number():
    card = VirtualCard(tamper=lambda c, a: bytes.fromhex("6A82") if c[1] == 0xA4 else None)
    _, _, mn = tap(card)
    assert not mn.has_application(TEXT_AID)
    with pytest.raises(CardError) as err:
        mn.pin_tries_left()
    assert err.value.code == "not_my_number"


# --- hostile cards -------------------------------------------------------------------------

def _record(name=b"A", address=b"B", dob=b"19800401", sex=b"1", extra=b""):
    inner = (tlv.encode(0xDF21, bytes(8)) + tlv.encode(0xDF22, name) + tlv.encode(0xDF23, address)
             + tlv.encode(0xDF24, dob) + tlv.encode(0xDF25, sex) + extra)
    return tlv.encode(0xFF20, inner)


@pytest.mark.parametrize("record, words", [
    (_record(name=b"\xff\xfe\x80"), "name is not UTF-8"),
    (_record(address=b"\xe6\x9d"), "address is not UTF-8"),
    (_record(name="a\x00b".encode()), "control characters"),
    (_record(dob=b"19801301"), "does not exist"),
    (_record(dob=b"1980-4-1"), "not YYYYMMDD"),
    (_record(sex=b"3"), "sex is not"),
    (_record()[:-3] + b"\xdf\x25\x05", "not the expected TLV"),
    (tlv.encode(0xFF20, tlv.encode(0xDF22, b"x")), "lacks DF23, DF24, DF25"),
    (tlv.encode(0xFF21, b"x"), "outer tag"),
    (bytes.fromhex("FF2083FFFFFF"), "claims"),
    (bytes.fromhex("FF2080"), "unsupported length form"),
    (bytes.fromhex("00"), "length missing"),
])
def test_card_broken_basic_info_gives_bad_data(record, words):
    _, _, mn = tap(VirtualCard(basic_info_override=record))
    with pytest.raises(CardError, match=words) as err:
        read_four_info(mn)
    assert err.value.code == "bad_data"


@pytest.mark.parametrize("keep", [0, 2, 5, 7, 30, 60])
def test_card_truncated_basic_info_gives_bad_data(keep):
    _, _, mn = tap(VirtualCard(truncate_basic_info=keep))
    with pytest.raises(CardError) as err:
        read_four_info(mn)
    assert err.value.code == "bad_data"


@pytest.mark.parametrize("answer, code", [
    ("6F00", "unexpected_sw"), ("6A86", "unexpected_sw"), ("90", "unreadable"), ("", "unreadable"),
])
def test_card_unexpected_answers_to_select(answer, code):
    card = VirtualCard(tamper=lambda c, a: bytes.fromhex(answer) if c[:4] == bytes.fromhex("00A4020C") else None)
    _, _, mn = tap(card)
    with pytest.raises(CardError) as err:
        mn.pin_tries_left()
    assert err.value.code == code


def test_card_oversized_read_answer_refused():
    card = VirtualCard(tamper=lambda c, a: bytes(300) + a[-2:] if c[1] == 0xB0 else None)
    _, _, mn = tap(card)
    with pytest.raises(CardError, match="returned 300 bytes"):
        read_four_info(mn)


@given(st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_card_random_answers_never_crash(data):
    answers = st.one_of(st.binary(max_size=300), st.binary(max_size=40).map(lambda b: b + b"\x90\x00"))
    # Drawn up front: the card answers on the session's worker thread, where hypothesis cannot draw.
    script = iter(data.draw(st.lists(st.one_of(st.none(), answers), min_size=40, max_size=40)))
    card = VirtualCard(tamper=lambda c, a: next(script, None))
    _, _, mn = tap(card)
    for step in (mn.pin_tries_left, lambda: mn.verify_pin("1234"), mn.read_basic_info, mn.auth_certificate):
        try:
            step()
        except NfcError:
            pass


def test_card_slow_answer_gives_no_response_within_deadline():
    card = VirtualCard(delay=5.0)
    reader, session, mn = tap(card, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(CardError) as err:
        mn.pin_tries_left()
    assert err.value.code == "no_response" and time.monotonic() - started < 1.5
    with pytest.raises(CardError, match="no_response"):
        session.transmit(apdu.select_df(JPKI_AID))  # a dead session stays dead
    reader.remove()


def test_card_silent_card_gives_no_response_then_removal_frees_it():
    card = VirtualCard(silent=True)
    reader, session, mn = tap(card, timeout=0.3)
    with pytest.raises(CardError, match="no_response"):
        mn.auth_certificate()
    reader.remove()
    assert reader.wait_for_removal(session, 0.5)


def test_card_answer_just_within_deadline_is_accepted():
    _, _, mn = tap(VirtualCard(delay=0.05), timeout=2.0)
    assert mn.pin_tries_left() == 3


# --- the individual number is never touched -----------------------------------------------

def test_card_no_public_function_selects_number_efs(caplog):
    card = VirtualCard(city_ap=CityAp(bytes.fromhex("F0000000010203"), 0x0101, b"S-0042", 0x0102, "9999"))
    reader, session, mn = tap(card)
    mn.has_application(TEXT_AID)
    mn.pin_tries_left()
    mn.verify_pin("0000")
    mn.verify_pin("1234")
    mn.read_basic_info()
    mn.verify_code_b("80040120341234")
    mn.read_basic_info()
    mn.auth_certificate()
    mn.read_file(JPKI_AID, 0x0006)
    mn.verify_other(card.city_ap.aid, 0x0102, "9999")
    settings_ = CityApSettings(card.city_ap.aid, 0x0101, 0x0102, "9999")
    for method in ("jpki", "city_ap", "badge_uid"):
        assert identify(session, [method], settings_).key
    with caplog.at_level(logging.WARNING):
        for fid in FORBIDDEN:
            with pytest.raises(PermissionError):
                mn.read_file(TEXT_AID, fid)
    assert not any(card.selected(fid) for fid in FORBIDDEN)
    assert "individual number" not in caplog.text


def test_card_emulator_flags_number_ef_selection(caplog):
    card = VirtualCard()
    with caplog.at_level(logging.WARNING):
        card.process(apdu.select_df(TEXT_AID))
        card.process(apdu.select_ef(0x0001))
    assert card.selected(0x0001) and "individual number" in caplog.text


def test_card_trace_masks_verify_data(caplog):
    _, _, mn = tap(VirtualCard(pin="9876", birth_date=date(1980, 1, 2)))
    with caplog.at_level(logging.DEBUG, logger="kiosk.nfc"):
        mn.verify_pin("9876")
        mn.verify_code_b("80010220341234")
    assert "00 20 00 80 04 ** ** ** **" in caplog.text
    assert "39 38 37 36" not in caplog.text and "9876" not in caplog.text and "38 30 30 31" not in caplog.text


# --- staff identification ------------------------------------------------------------------

def test_staffid_jpki_key_stable_and_distinct_per_card():
    first, second = VirtualCard(name="甲"), VirtualCard(name="乙")
    keys = [identify(tap(c)[1]).key for c in (first, first, second)]
    assert keys[0] == keys[1] != keys[2] and keys[0].startswith("jpki:")


def test_staffid_falls_back_to_badge_uid_without_jpki():
    badge = VirtualCard(badge_uid=bytes.fromhex("04A1B2C3D4E5F6"),
                        tamper=lambda c, a: bytes.fromhex("6A82") if c[:4] == bytes.fromhex("00A4040C") else None)
    result = identify(tap(badge)[1], ["jpki", "badge_uid"])
    assert (result.key, result.method) == ("uid:04a1b2c3d4e5f6", "badge_uid")


def test_staffid_no_method_works_gives_reasons():
    card = VirtualCard(badge_uid=None, tamper=lambda c, a: bytes.fromhex("6A82") if c[1] == 0xA4 else None)
    result = identify(tap(card)[1], ["jpki", "city_ap", "badge_uid"])
    assert result.key is None and result.method == "none"
    assert "jpki: not_my_number" in result.reason and "city_ap: not_configured" in result.reason
    assert "badge_uid" in result.reason


def test_staffid_city_ap_with_pin_file(tmp_path):
    aid = bytes.fromhex("F0000000010203")
    card = VirtualCard(city_ap=CityAp(aid, 0x0101, b"S-0042" + bytes(10), 0x0102, "9999"))
    (tmp_path / "pin").write_text("9999\n")
    section = config.TimeclockSection(staff_id=["city_ap"], city_ap_aid=aid.hex(), city_ap_ef="0101",
                                      city_ap_pin_ef="0102", city_ap_pin_file=str(tmp_path / "pin"))
    result = StaffIdentifier.from_section(section).identify(tap(card)[1])
    assert result.method == "city_ap" and result.key.startswith("city:")
    wrong = StaffIdentifier(["city_ap"], CityApSettings(aid, 0x0101, 0x0102, "0000")).identify(tap(card)[1])
    assert wrong.key is None and "PIN wrong" in wrong.reason


def test_staffid_card_removed_propagates():
    card = VirtualCard()
    reader, session, _ = tap(card)
    reader.remove()
    with pytest.raises(CardRemovedError):
        identify(session)


def test_staffid_unknown_method_refused():
    with pytest.raises(ValueError):
        StaffIdentifier(["face"])


def test_config_staff_id_rejects_unknown_method():
    with pytest.raises(config.ConfigError, match="must be one of"):
        config.parse('[device]\nid="a"\nsite="b"\ncity="123456"\nrole="timeclock"\n[timeclock]\nstaff_id=["nfc"]\n')


# --- the in-process reader -------------------------------------------------------------------

def test_emulator_reader_hands_a_card_out_once():
    reader = open_reader(config.ReaderSection(backend="emulator"))
    assert reader.wait_for_card(0.05) is None
    reader.insert(VirtualCard())
    session = reader.wait_for_card(0.5)
    assert session is not None and reader.wait_for_card(0.05) is None
    assert not reader.wait_for_removal(session, 0.05)
    threading.Timer(0.05, reader.remove).start()
    assert reader.wait_for_removal(session, 2.0)


def test_emulator_basic_info_encoding_offsets_point_at_name():
    record = encode_basic_info("名前", "住所", date(2000, 1, 1), "9")
    (outer,) = tlv.parse(record)
    header = tlv.parse(outer.value)[0].value
    first = int.from_bytes(header[:2], "big")
    assert record[first:first + 2] == b"\xdf\x22"
