"""A household on one stand: QR, staff entry, more members, needs, pets, stay, consent."""

from datetime import date

import pytest

from kiosk import kana, qrcodes
from kiosk.nfc.emulator import VirtualCard
from kiosk.qrcodes import Prereg, PreregMember
from kiosk.roles.shelter_text import REFUSALS
from tests.shelter_harness import Stand
from tests.test_shelter_card import finish_household

FAMILY = Prereg("QRFAM234", (
    PreregMember("山田 太郎", "ヤマダ タロウ", date(1950, 3, 4), "1", ("elderly",)),
    PreregMember("山田 花子", "ヤマダ ハナコ", date(1952, 5, 6), "2"),
    PreregMember("山田 一", "ヤマダ ハジメ", date(2025, 6, 1), "1", ("infant",)),
))


@pytest.fixture
def stand(tmp_path):
    return Stand.make(tmp_path)


def staff_entry(stand: Stand, keys: str, era: str, digits: str, sex: str) -> None:
    for key in keys:
        stand.touch("kana", kana.SPACE if key == " " else key)
    stand.touch("next")
    stand.touch("era", era)
    stand.digits(digits, then="next")
    stand.touch("sex", sex)


def test_qr_intake_ticks_the_members_present(stand):
    stand.scan(qrcodes.encode(FAMILY, stand.prereg_key))
    assert stand.screen.screen == "qr_members"
    assert [m["ticked"] for m in stand.screen.params["members"]] == [True, True, True]
    stand.touch("tick", 1)  # 花子 is not here
    stand.touch("ok")
    assert [m["name"] for m in stand.screen.params["members"]] == ["山田 太郎", "山田 一"]
    finish_household(stand)
    (event,) = stand.events("admission/1")
    assert [m["ref"] for m in event.data["members"]] == ["qr:QRFAM234:0", "qr:QRFAM234:2"]
    opened = stand.opened(event)
    assert opened["qr"] == "QRFAM234"
    assert opened["members"][0]["needs"] == ["elderly"] and opened["members"][1]["needs"] == ["infant"]


def test_qr_remaining_member_ticked_later(stand):
    stand.scan(qrcodes.encode(FAMILY, stand.prereg_key))
    stand.touch("tick", 1)
    stand.touch("ok")
    stand.touch("add_qr")
    assert [m["ticked"] for m in stand.screen.params["members"]] == [False, True, False]
    stand.touch("ok")
    assert len(stand.screen.params["members"]) == 3


@pytest.mark.parametrize("mangle, code", [
    (lambda text: text[:40], "qr_garbled"),
    (lambda text: "HNJ1" + ("A" if text[10] != "A" else "B").join([text[4:10], text[11:]]), "qr_forged"),
    (lambda text: "SOMETHING ELSE", "qr_garbled"),
])
def test_qr_forged_or_garbled_is_refused_and_offers_staff_entry(stand, mangle, code):
    stand.scan(mangle(qrcodes.encode(FAMILY, stand.prereg_key)))
    assert stand.screen.screen == "refused" and stand.screen.params["code"] == code
    assert "staff_entry" in stand.screen.params["options"]
    assert stand.events() == []


def test_qr_from_another_hub_key_is_forged(stand):
    from nacl.signing import SigningKey
    stand.scan(qrcodes.encode(FAMILY, SigningKey.generate()))
    assert stand.screen.params["code"] == "qr_forged"


def test_staff_entry_is_marked_unverified(stand):
    stand.touch("staff_entry")
    staff_entry(stand, "サトウ ユキ", "showa", "250304", "2")
    assert stand.screen.screen == "household"
    finish_household(stand)
    (event,) = stand.events("admission/1")
    assert event.data["members"] == [{"ref": event.data["members"][0]["ref"], "channel": "staff", "verified": False}]
    member = stand.opened(event)["members"][0]
    assert (member["kana"], member["birth_date"], member["sex"]) == ("サトウ ユキ", "1950-03-04", "2")


def test_staff_entry_needs_a_name_and_a_real_date(stand):
    stand.touch("staff_entry")
    stand.touch("next")
    assert stand.screen.params["error"] == "name_missing"
    stand.touch("kana", "ア")
    stand.touch("next")
    stand.touch("era", "western")
    stand.digits("19501399", then="next")
    assert stand.screen.screen == "staff_birth" and stand.screen.params["error"] == "birth_date_invalid"


def test_household_by_card_then_second_card_then_staff(stand):
    stand.tap(VirtualCard(name="父", birth_date=date(1970, 1, 1)))
    stand.digits("1234")
    stand.touch("ok")
    stand.tap(VirtualCard(name="母", birth_date=date(1972, 2, 2)))
    stand.digits("1234")
    stand.touch("ok")
    stand.touch("add_staff")
    staff_entry(stand, "コ", "reiwa", "060101", "1")
    assert [m["channel"] for m in stand.screen.params["members"]] == ["card", "card", "staff"]
    finish_household(stand)
    (event,) = stand.events("admission/1")
    assert event.data["staying"] == 3 and len(event.data["members"]) == 3


def test_household_same_card_twice_is_refused(stand):
    card = VirtualCard()
    stand.tap(card)
    stand.digits("1234")
    stand.touch("ok")
    stand.tap(card)
    assert stand.screen.params["code"] == "already_in_household"
    stand.touch("back")
    assert len(stand.screen.params["members"]) == 1


def test_household_needs_pets_car_stay_consent_are_sealed(stand):
    stand.scan(qrcodes.encode(FAMILY, stand.prereg_key))
    stand.touch("ok")
    stand.touch("next")
    stand.touch("need", "medical_device")   # 太郎: elderly (from the QR) + medical device
    stand.touch("need", "elderly")          # ... and staff untick elderly again
    stand.touch("next")
    stand.touch("need", "pregnancy")        # 花子
    stand.touch("need", "not-a-category")   # ignored
    stand.touch("next")
    stand.touch("next")                     # 一: infant from the QR
    assert stand.screen.screen == "extras"
    for target, value in (("pet_plus", "dog"), ("pet_plus", "dog"), ("pet_plus", "cat"), ("pet_minus", "cat"),
                          ("car", None), ("stay", "car"), ("consent", None)):
        stand.touch(target, value)
    stand.touch("next")
    assert stand.screen.screen == "confirm"
    assert stand.screen.params["stay"] == "car" and stand.screen.params["pets"] == {"dog": 2}
    stand.touch("ok")
    (event,) = stand.events("admission/1")
    assert event.data["staying"] == 0  # 車中泊: registered, not in the hall
    opened = stand.opened(event)
    assert [m["needs"] for m in opened["members"]] == [["medical_device"], ["pregnancy"], ["infant"]]
    assert (opened["pets"], opened["car"], opened["stay"], opened["consent"]) == ({"dog": 2}, True, "car", True)
    assert "dog" not in str(event.data) and "pregnancy" not in str(event.data)


def test_household_custom_care_category_from_config(tmp_path):
    stand = Stand.make(tmp_path, care_categories=("elderly", "dialysis:透析:Dialysis"))
    stand.touch("staff_entry")
    staff_entry(stand, "ア", "western", "19400101", "1")
    stand.touch("next")
    assert [c[0] for c in stand.screen.params["categories"]] == ["elderly", "dialysis"]
    stand.touch("need", "dialysis")
    assert stand.screen.params["member"]["needs"] == ["dialysis"]


def test_household_confirmation_back_edits_without_losing(stand):
    stand.scan(qrcodes.encode(FAMILY, stand.prereg_key))
    stand.touch("ok")
    stand.touch("next")
    for _ in range(3):
        stand.touch("next")
    stand.touch("next")
    stand.touch("edit")
    assert stand.screen.screen == "household" and len(stand.screen.params["members"]) == 3
    stand.touch("remove", 2)
    finish_household(stand)
    (event,) = stand.events("admission/1")
    assert len(event.data["members"]) == 2


def test_every_refusal_code_has_japanese_and_english():
    assert set(qrcodes.CODES) <= set(REFUSALS)
    for code, (japanese, english) in REFUSALS.items():
        assert japanese and english and not japanese.isascii()
