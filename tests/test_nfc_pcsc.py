"""The real chain: pyscard -> private pcscd -> vsmartcard-vpcd -> VirtualCard (fixture ``pcscd``)."""

import threading
import time

import pytest

from kiosk.nfc import probe
from kiosk.nfc.emulator import VirtualCard, VpcdCard
from kiosk.nfc.mynumber import MyNumberCard
from kiosk.nfc.reader import CardError, CardRemovedError, PcscReader, ReaderState
from kiosk.nfc.staffid import identify


@pytest.fixture
def reader(pcscd):
    reader = PcscReader(pcscd.reader_name, transmit_timeout=2.0)
    yield reader
    reader.close()


def test_pcsc_four_info_and_staff_key_through_pcscd(pcscd, reader):
    card = VirtualCard(name="試験 花子", address="長" * 60, sex="2")
    with pcscd.card(card):
        session = reader.wait_for_card(5.0)
        assert session is not None and reader.state is ReaderState.READY
        assert session.atr == card.atr
        mn = MyNumberCard(session)
        assert mn.pin_tries_left() == 3 and mn.verify_pin("1234").ok
        info = mn.read_basic_info()
        assert (info.name, info.address, info.sex) == ("試験 花子", "長" * 60, "2")
        assert session.apdu_count == 7
        assert identify(session).key.startswith("jpki:")
        assert identify(session, ["badge_uid"]).key == "uid:0a1b2c3d"
    assert reader.wait_for_removal(session, 5.0)
    assert not any(card.selected(fid) for fid in (0x0001, 0x0003, 0x0014))


def test_pcsc_wrong_pin_counter_goes_down_then_blocked(pcscd, reader):
    card = VirtualCard(pin="2468")
    for expected in [("wrong", 2), ("wrong", 1), ("blocked", 0)]:
        with pcscd.card(card):
            session = reader.wait_for_card(5.0)
            result = MyNumberCard(session).verify_pin("1111")
            assert (result.status, result.tries_left) == expected
        assert reader.wait_for_removal(session, 5.0)
    with pcscd.card(card):
        assert MyNumberCard(reader.wait_for_card(5.0)).pin_tries_left() == 0


def test_pcsc_card_removed_between_verify_and_read(pcscd, reader):
    card = VirtualCard()
    with pcscd.card(card) as vpcd:
        session = reader.wait_for_card(5.0)
        mn = MyNumberCard(session)
        assert mn.verify_pin("1234").ok
        vpcd.remove()
        with pytest.raises(CardRemovedError):
            mn.read_basic_info()
    assert reader.wait_for_removal(session, 5.0)
    with pcscd.card(card):
        with pytest.raises(CardError, match="not_verified"):
            MyNumberCard(reader.wait_for_card(5.0)).read_basic_info()


def test_pcsc_card_left_on_reader_is_handed_out_once(pcscd, reader):
    with pcscd.card():
        session = reader.wait_for_card(5.0)
        assert session is not None
        session.close()
        assert reader.wait_for_card(1.0) is None
        assert not reader.wait_for_removal(session, 0.5)
        other = PcscReader(pcscd.reader_name)  # a fresh reader: the card on it is news
        assert other.wait_for_card(0) is not None
        other.close()


def test_pcsc_silent_card_gives_no_response(pcscd, reader):
    reader.transmit_timeout = 0.5
    with pcscd.card(VirtualCard(silent=True)):
        session = reader.wait_for_card(5.0)
        started = time.monotonic()
        with pytest.raises(CardError, match="no_response"):
            MyNumberCard(session).pin_tries_left()
        assert time.monotonic() - started < 2.0
    assert reader.wait_for_removal(session, 5.0)


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_pcsc_recovers_after_pcscd_killed_while_waiting(pcscd, reader):
    assert reader.state is ReaderState.READY
    vpcd = VpcdCard(VirtualCard(name="復旧 確認"), pcscd.port)
    seen = {}

    def crash_and_come_back():
        pcscd.kill()
        seen["noticed"] = wait_until(lambda: reader.state is ReaderState.SERVICE_DOWN, 5.0)
        pcscd.start()
        seen["restarted"] = time.monotonic()
        vpcd.insert()

    worker = threading.Thread(target=crash_and_come_back)
    worker.start()
    try:
        session = reader.wait_for_card(20.0)  # pcscd dies and returns during this one call
        worker.join(10)
        assert seen["noticed"], "the waiting reader did not report the card service down"
        assert session is not None and time.monotonic() - seen["restarted"] < 10.0
        assert reader.state is ReaderState.READY
        mn = MyNumberCard(session)
        assert mn.verify_pin("1234").ok and mn.read_basic_info().name == "復旧 確認"
    finally:
        worker.join(10)
        vpcd.remove()
        pcscd.wait_for_empty_reader()


def test_pcsc_service_down_at_start_then_up(pcscd):
    pcscd.kill()
    reader = PcscReader(pcscd.reader_name)
    try:
        assert reader.wait_for_card(0.3) is None and reader.state is ReaderState.SERVICE_DOWN
        pcscd.start()
        with pcscd.card():
            assert reader.wait_for_card(10.0) is not None
    finally:
        reader.close()


def test_pcsc_unknown_reader_name_is_no_reader(pcscd):
    reader = PcscReader("RC-S300")
    try:
        assert reader.wait_for_card(0.3) is None and reader.state is ReaderState.NO_READER
    finally:
        reader.close()


def test_probe_lists_applications_and_reads_with_pin(pcscd, tmp_path, capsys):
    card = VirtualCard(pin="5678", name="現地 確認")
    with pcscd.card(card):
        code = probe.main(["probe", "--pin", "--reader", "Virtual PCD 00 00", "--wait", "5"],
                          tmp_path / "missing.toml", ask_pin=lambda prompt: "5678")
    out = capsys.readouterr().out
    assert code == 0
    assert "no config file" in out and "ATR: 3B 88 80 01" in out and "PIN tries left: 3" in out
    assert "yes  公的個人認証 JPKI" in out and "現地 確認" in out and "5678" not in out
    assert "00 20 00 80 04 ** ** ** **" in out
    assert not any(card.selected(fid) for fid in (0x0001, 0x0003, 0x0014))


def test_probe_without_pin_sends_no_verify_data(pcscd, capsys):
    card = VirtualCard()
    with pcscd.card(card):
        assert probe.main(["probe", "--wait", "5"], None) == 0
    assert all(len(c) <= 4 for c in card.apdus if c[1] == 0x20) and card.pin_tries == 3
    assert "PIN tries left: 3" in capsys.readouterr().out


def test_probe_reports_service_down(pcscd, capsys):
    pcscd.kill()
    assert probe.main(["probe", "--wait", "0.5"], None) == 2
    assert "pcscd" in capsys.readouterr().out


def test_pcsc_state_known_before_first_wait(pcscd):
    ready, missing = PcscReader(pcscd.reader_name), PcscReader("RC-S300")
    assert (ready.state, missing.state) == (ReaderState.READY, ReaderState.NO_READER)
    ready.close(), missing.close()
    pcscd.kill()
    down = PcscReader(pcscd.reader_name)
    assert down.state is ReaderState.SERVICE_DOWN
    down.close()


def test_pcsc_abandoned_session_does_not_lock_reader(pcscd):
    def tap_and_forget():
        forgotten = PcscReader(pcscd.reader_name)
        MyNumberCard(forgotten.wait_for_card(5.0)).pin_tries_left()  # never closed

    with pcscd.card():
        tap_and_forget()
    reader = PcscReader(pcscd.reader_name)
    try:
        with pcscd.card():
            assert MyNumberCard(reader.wait_for_card(5.0)).pin_tries_left() == 3
    finally:
        reader.close()
