"""The card channels of the shelter stand: PIN (tries first, never retried), code B, removal."""

import logging
from datetime import date

import pytest

from kiosk.nfc.emulator import VirtualCard
from kiosk.roles.base import CardOp, CardRead, Record, Show, Touch
from tests.shelter_harness import Stand

VERIFY_STATUS = bytes.fromhex("00200080")


def verifies_with_data(card: VirtualCard) -> list[bytes]:
    return [a for a in card.apdus if a[:4] == VERIFY_STATUS and len(a) > 4]


def finish_household(stand: Stand) -> None:
    """household -> needs for each member -> extras -> confirm -> ok."""
    stand.touch("next")
    while stand.screen.screen == "needs":
        stand.touch("next")
    assert stand.screen.screen == "extras"
    stand.touch("next")
    assert stand.screen.screen == "confirm"
    stand.touch("ok")


@pytest.fixture
def stand(tmp_path):
    return Stand.make(tmp_path)


def test_card_intake_records_admission_sealed_to_hub(stand):
    card = VirtualCard(name="避難 花子", address="宮崎県都城市姫城町6街区21号", birth_date=date(1948, 2, 29), sex="2")
    stand.tap(card)
    assert stand.screen.screen == "pin" and stand.screen.params["tries_left"] == 3
    stand.digits("1234")
    assert stand.screen.screen == "member_confirm"
    assert stand.screen.params["member"]["name"] == "避難 花子"
    stand.touch("ok")
    assert stand.screen.screen == "household"
    finish_household(stand)
    assert stand.screen.screen == "done"
    (event,) = stand.events("admission/1")
    assert event.data["members"][0]["channel"] == "card" and event.data["members"][0]["verified"] is True
    assert event.data["staying"] == 1
    opened = stand.opened(event)
    assert opened["members"][0]["name"] == "避難 花子"
    assert opened["members"][0]["birth_date"] == "1948-02-29"
    assert opened["members"][0]["address"].startswith("宮崎県")


def test_card_intake_keeps_nothing_readable_outside_the_seal(stand):
    stand.tap(VirtualCard(name="避難 花子", address="宮崎県都城市姫城町", birth_date=date(1948, 2, 29)))
    stand.digits("1234")
    stand.touch("ok")
    finish_household(stand)
    for path in (stand.outbox.data_dir / "outbox").iterdir():
        text = path.read_text(encoding="utf-8")
        for secret in ("避難", "花子", "宮崎", "1948", "19480229"):
            assert secret not in text


def test_card_intake_shows_success_only_after_the_store(stand):
    stand.tap(VirtualCard())
    stand.digits("1234")
    stand.touch("ok")
    stand.touch("next")
    while stand.screen.screen == "needs":
        stand.touch("next")
    stand.touch("next")
    effects = stand.role.handle(Touch("ok"), stand.now())
    assert [type(e) for e in effects] == [Show, Record]
    assert effects[0].screen == "saving"


def test_card_tries_left_read_before_any_pin(stand):
    card = VirtualCard()
    effects = stand.tap(card)
    ops = [e.op for e in effects if isinstance(e, CardOp)]
    assert ops == ["tries_left"]
    assert VERIFY_STATUS in card.apdus and verifies_with_data(card) == []


def test_card_wrong_pin_is_sent_once_and_never_retried(stand):
    card = VirtualCard(pin="1234")
    stand.tap(card)
    stand.digits("9999")
    assert len(verifies_with_data(card)) == 1
    assert stand.screen.screen == "pin"
    assert stand.screen.params == {"dots": 0, "tries_left": 2, "wrong": True}
    assert card.pin_tries == 2


def test_card_last_try_says_so_and_offers_other_ways(stand):
    card = VirtualCard(pin_tries=1)
    stand.tap(card)
    assert stand.screen.screen == "last_try"
    assert verifies_with_data(card) == []
    stand.touch("staff_entry")
    assert stand.screen.screen == "staff_name"


def test_card_wrong_pin_down_to_one_try_warns(stand):
    card = VirtualCard(pin_tries=2)
    stand.tap(card)
    stand.digits("0000")
    assert stand.screen.screen == "last_try" and stand.screen.params["wrong"] is True
    stand.touch("pin_anyway")
    assert stand.screen.screen == "pin"
    assert len(verifies_with_data(card)) == 1


def test_card_blocked_pin_goes_to_city_office_with_other_ways(stand):
    card = VirtualCard(pin_tries=0)
    stand.tap(card)
    assert stand.screen.screen == "refused"
    assert stand.screen.params["code"] == "pin_blocked"
    assert {"code_b", "staff_entry", "qr"} <= set(stand.screen.params["options"])
    assert verifies_with_data(card) == []


def test_card_removed_during_pin_entry_clears_the_digits(stand):
    card = VirtualCard()
    stand.tap(card)
    stand.digits("12", then=None)
    assert stand.screen.params["dots"] == 2
    stand.remove_card()
    assert stand.screen.screen == "refused" and stand.screen.params["code"] == "card_removed"
    assert stand.role._secret == ""
    assert verifies_with_data(card) == []


def test_card_removed_before_read_reports_removal(stand):
    card = VirtualCard()
    stand.tap(card)
    stand.digits("1234", then=None)
    stand.reader.remove()  # gone before the stand talks to it
    stand.touch("enter")
    assert stand.screen.params["code"] == "card_removed"


def test_card_pin_never_in_logs_or_screens(stand, caplog):
    caplog.set_level(logging.DEBUG)
    card = VirtualCard(pin="8352")
    stand.tap(card)
    stand.digits("8352")
    stand.touch("ok")
    finish_household(stand)
    stand.tap(VirtualCard(name="二人目", pin="8352", birth_date=date(1990, 1, 2)))
    assert "00 20 00 80 04 ** ** ** **" in caplog.text  # the APDU trace was logged, masked
    for form in ("8352", "38333532", "38 33 35 32"):  # as digits, and as the APDU's ASCII bytes in hex
        assert form not in caplog.text.upper()
    assert all("8352" not in repr(effect) for effect in stand.effects)
    assert all("8352" not in repr(show.params) for show in stand.shows)


def test_card_individual_number_never_read(stand, caplog):
    card = VirtualCard()
    stand.tap(card)
    stand.digits("1234")
    stand.touch("ok")
    finish_household(stand)
    assert stand.screen.screen == "done"
    for ef in (0x0001, 0x0003, 0x0014):
        assert not card.selected(ef)
    assert "individual number" not in caplog.text


def test_code_b_opens_the_details_for_a_forgotten_pin(stand):
    card = VirtualCard(pin_tries=0, birth_date=date(1950, 3, 4))
    stand.tap(card)
    stand.touch("code_b")
    assert stand.screen.screen == "code_b" and stand.screen.params["card_present"] is True
    stand.digits("500304" + "2034" + "1234")
    assert stand.screen.screen == "member_confirm"
    stand.touch("ok")
    finish_household(stand)
    (event,) = stand.events("admission/1")
    assert event.data["members"][0]["channel"] == "code_b"


def test_code_b_malformed_is_refused_before_the_card(stand):
    card = VirtualCard()
    stand.tap(card)
    stand.touch("code_b")
    stand.digits("991399" + "2034" + "1234")
    assert stand.screen.params["code"] == "code_b_invalid"
    assert not any(a[:2] == bytes.fromhex("0020") and len(a) > 5 for a in card.apdus)


def test_code_b_wrong_offers_staff_entry(stand):
    card = VirtualCard(birth_date=date(1950, 3, 4))
    stand.tap(card)
    stand.touch("code_b")
    stand.digits("500304" + "2034" + "9999")
    assert stand.screen.params["code"] == "code_b_wrong"
    assert "staff_entry" in stand.screen.params["options"]
    assert card.code_b_tries == VirtualCard.CODE_B_MAX - 1


def test_card_not_my_number_is_refused(stand):
    stand.feed(CardRead(None, "not_mynumber"))
    assert stand.screen.params["code"] == "not_mynumber"


def released(effects) -> bool:
    return any(isinstance(e, CardOp) and e.op == "release" for e in effects)


def test_card_released_once_the_details_are_read(stand):
    stand.tap(VirtualCard())
    assert not released(stand.effects)
    effects = stand.touch("digit", "1") + stand.touch("digit", "2") + stand.touch("digit", "3")
    assert not released(effects)
    stand.touch("digit", "4")
    assert released(stand.touch("enter"))


def test_card_kept_for_code_b_after_a_blocked_pin(stand):
    effects = stand.tap(VirtualCard(pin_tries=0))
    assert not released(effects)
    assert released(stand.touch("staff_entry"))


def test_card_released_when_a_tap_is_not_wanted(stand):
    stand.touch("staff_entry")
    assert released(stand.tap(VirtualCard()))  # typing a name: the card is not used
