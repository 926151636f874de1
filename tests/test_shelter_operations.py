"""Departures and outings, occupancy and congestion, admin status, stock counts, timeouts."""

from datetime import date

import pytest

from kiosk import kana, qrcodes
from kiosk.nfc.emulator import EmulatorReader, VirtualCard
from kiosk.nfc.staffid import StaffIdentifier
from kiosk.qrcodes import Prereg, PreregMember
from kiosk.roles.base import Tick, Touch
from kiosk.roles.shelter import ShelterSettings, SiteUpdate, congestion
from tests.shelter_harness import Stand
from tests.test_shelter_card import finish_household

ADMIN = VirtualCard(name="職員 管理", birth_date=date(1975, 5, 5))
PAIR = Prereg("PAIR2345", (PreregMember("A", "ア", date(1960, 1, 1), "1"), PreregMember("B", "イ", date(1961, 1, 1), "2")))


def admin_key() -> str:
    reader = EmulatorReader()
    reader.insert(ADMIN)
    return StaffIdentifier().identify(reader.wait_for_card(1)).key


@pytest.fixture
def stand(tmp_path):
    return Stand.make(tmp_path, capacity=10, admin_keys=frozenset({admin_key()}))


def admit_by_card(stand: Stand, card: VirtualCard) -> None:
    stand.tap(card)
    stand.digits("1234")
    stand.touch("ok")
    finish_household(stand)
    stand.touch("ok")  # leave the done screen


@pytest.mark.parametrize("headcount, level", [
    (0, "open"), (29, "open"), (30, "busy"), (59, "busy"), (60, "crowded"), (79, "crowded"), (80, "full"), (120, "full"),
])
def test_occupancy_levels_follow_thresholds(headcount, level):
    assert congestion(headcount, 100, ShelterSettings("d", "s")) == level


def test_occupancy_thresholds_are_configurable():
    settings = ShelterSettings("d", "s", busy_percent=10, crowded_percent=20, full_percent=50)
    assert [congestion(n, 100, settings) for n in (5, 15, 30, 50)] == ["open", "busy", "crowded", "full"]


def test_occupancy_admin_override_wins():
    settings = ShelterSettings("d", "s")
    assert congestion(1, 100, settings, "full") == "full"
    assert congestion(1, 100, settings, "closed") == "closed"


def test_occupancy_counts_locally_when_offline(stand):
    admit_by_card(stand, VirtualCard(name="一", birth_date=date(1980, 1, 1)))
    occupancy = stand.role.occupancy()
    assert (occupancy["headcount"], occupancy["source"], occupancy["level"]) == (1, "local", "open")
    assert stand.screen.params["occupancy"]["headcount"] == 1


def test_occupancy_from_hub_when_online(stand):
    stand.feed(SiteUpdate({"site": "daiichi", "headcount": 7, "capacity": 10, "level": "crowded"}, online=True))
    assert stand.screen.screen == "idle"
    assert stand.screen.params["occupancy"] == {"headcount": 7, "capacity": 10, "status": "open",
                                                 "source": "hub", "level": "crowded"}
    stand.feed(SiteUpdate(None, online=False))
    admit_by_card(stand, VirtualCard())
    assert stand.role.occupancy()["headcount"] == 8 and stand.role.occupancy()["source"] == "local"


def test_departure_by_the_same_card_records_leave(stand):
    card = VirtualCard()
    admit_by_card(stand, card)
    stand.tap(card)
    assert stand.screen.screen == "movement"
    stand.touch("kind", "leave")
    stand.touch("destination")
    for key in ("ミ", "ヤ", "コ", "ノ", "シ", kana.DAKUTEN, "ヨ", kana.SMALL, "ウ"):
        stand.touch("kana", key)
    stand.touch("ok")
    stand.touch("ok")
    assert stand.screen.screen == "done"
    (admission,) = stand.events("admission/1")
    (departure,) = stand.events("departure/1")
    assert departure.data == {"refs": [admission.data["members"][0]["ref"]], "kind": "leave"}
    assert stand.opened(departure) == {"destination": "ミヤコノジョウ"}
    assert stand.role.occupancy()["headcount"] == 0


def test_departure_card_tap_needs_no_pin(stand):
    card = VirtualCard()
    admit_by_card(stand, card)
    verifies = len([a for a in card.apdus if a[:2] == bytes.fromhex("0020")])
    stand.tap(card)
    stand.touch("kind", "out")
    stand.touch("ok")
    assert len([a for a in card.apdus if a[:2] == bytes.fromhex("0020")]) == verifies
    (departure,) = stand.events("departure/1")
    assert departure.data["kind"] == "out" and departure.pii is None
    assert stand.role.occupancy()["headcount"] == 1  # an outing keeps the place


def test_outing_and_return_by_qr_in_movement_mode(stand):
    stand.touch("mode", "movement")
    stand.scan(qrcodes.encode(PAIR, stand.prereg_key))
    assert stand.screen.screen == "qr_members" and stand.screen.params["purpose"] == "movement"
    stand.touch("tick", 0)
    stand.touch("ok")
    stand.touch("kind", "back")
    stand.touch("ok")
    (departure,) = stand.events("departure/1")
    assert departure.data == {"refs": ["qr:PAIR2345:1"], "kind": "back"}


def test_departure_by_intake_number_for_staff_entry(stand):
    from tests.test_shelter_household import staff_entry
    stand.touch("staff_entry")
    staff_entry(stand, "カト ナシ", "western", "19500101", "1")
    finish_household(stand)
    ((name, number),) = stand.screen.params["numbers"]
    assert name == "カト ナシ" and len(number) == 6 and number.isdigit()
    stand.touch("ok")
    stand.touch("mode", "movement")
    stand.touch("by_number")
    stand.digits(number)
    assert stand.screen.screen == "movement"
    stand.touch("kind", "leave")
    stand.touch("ok")
    (admission,) = stand.events("admission/1")
    (departure,) = stand.events("departure/1")
    assert departure.data["refs"] == [admission.data["members"][0]["ref"]] == [f"staff:{number}"]
    assert stand.role.occupancy()["headcount"] == 0


def test_hub_reachability_switches_the_occupancy_source(stand):
    from kiosk.roles.base import Health
    stand.feed(SiteUpdate({"site": "daiichi", "headcount": 3, "capacity": 10, "level": "busy"}, online=False))
    assert stand.screen.params["occupancy"]["source"] == "local"
    stand.feed(Health(True))
    assert stand.screen.params["occupancy"] == {"headcount": 3, "capacity": 10, "status": "open",
                                                 "source": "hub", "level": "busy"}


def test_admin_card_sets_closed_and_intake_is_refused(stand):
    stand.tap(ADMIN)
    assert stand.screen.screen == "admin"
    stand.touch("status", "closed")
    (status,) = stand.events("shelter_status/1")
    assert status.data == {"status": "closed"}
    stand.touch("cancel")
    assert stand.screen.params["occupancy"]["level"] == "closed"
    stand.tap(VirtualCard())
    assert stand.screen.params["code"] == "intake_closed"
    stand.touch("cancel")
    stand.scan(qrcodes.encode(PAIR, stand.prereg_key))
    assert stand.screen.params["code"] == "intake_closed"


def test_admin_sets_full_and_intake_still_possible(stand):
    stand.tap(ADMIN)
    stand.touch("status", "full")
    stand.touch("cancel")
    assert stand.screen.params["occupancy"]["level"] == "full"
    stand.tap(VirtualCard())
    assert stand.screen.screen == "pin"


def test_stock_count_with_plus_minus_and_number_entry(stand):
    stand.tap(ADMIN)
    stand.touch("stock")
    stand.touch("plus", "blankets")
    stand.touch("plus", "blankets")
    stand.touch("minus", "blankets")
    stand.touch("select", "water_2l")
    stand.digits("240", then=None)
    stand.touch("delete")
    stand.touch("digit", "5")
    stand.touch("minus", "diapers")  # never below zero
    stand.touch("save")
    (event,) = stand.events("stock_count/1")
    assert event.data["items"]["blankets"] == 1 and event.data["items"]["water_2l"] == 245
    assert event.data["items"]["diapers"] == 0 and event.pii is None


def test_non_admin_card_gets_no_admin_screen(stand):
    stand.tap(VirtualCard())
    assert stand.screen.screen == "pin"


def test_occupancy_closed_or_full_set_elsewhere_comes_from_the_hub(stand):
    stand.feed(SiteUpdate({"site": "daiichi", "headcount": 1, "capacity": 10, "level": "closed"}, online=True))
    assert stand.screen.params["occupancy"]["level"] == "closed"
    stand.tap(VirtualCard())
    assert stand.screen.params["code"] == "intake_closed"
    stand.feed(SiteUpdate({"site": "daiichi", "headcount": 1, "capacity": 10, "level": "full"}, online=True))
    assert stand.role.occupancy()["level"] == "full" and stand.role.occupancy()["status"] == "full"


def test_roster_admin_flag_opens_admin(tmp_path):
    stand = Stand.make(tmp_path)
    roster = {"site": "daiichi", "staff": {admin_key(): {"staff_id": "S1", "name": "職員", "admin": True}}}
    stand.feed(SiteUpdate(None, online=True, roster=roster))
    stand.tap(ADMIN)
    assert stand.screen.screen == "admin"


def test_done_screen_clears_personal_details_after_timeout(stand):
    stand.tap(VirtualCard(name="消える 名前"))
    stand.digits("1234")
    stand.touch("ok")
    finish_household(stand)
    assert stand.screen.screen == "done" and stand.screen.seconds == 10
    assert stand.wait(5) == []
    stand.wait(6)
    assert stand.screen.screen == "idle"
    assert "消える" not in repr(stand.screen.params) and stand.role._intake is None


def test_abandoned_intake_is_cleared_after_idle_timeout(stand):
    stand.tap(VirtualCard(name="途中 放棄"))
    stand.digits("1234")
    assert stand.screen.screen == "member_confirm"
    stand.wait(121)
    assert stand.screen.screen == "idle" and stand.role._pending is None
    assert stand.events() == []


def test_disk_full_shows_paper_form_and_keeps_the_household(stand):
    stand.full_disk = True
    stand.tap(VirtualCard())
    stand.digits("1234")
    stand.touch("ok")
    finish_household(stand)
    assert stand.screen.screen == "refused" and stand.screen.params["code"] == "disk_full"
    assert not any(s.screen == "done" for s in stand.shows)
    assert stand.effects[-1].pattern == "error"
    stand.full_disk = False
    stand.touch("retry")
    assert stand.screen.screen == "done"
    assert len(stand.events("admission/1")) == 1


def test_saving_screen_never_times_out(stand):
    stand.tap(VirtualCard())
    stand.digits("1234")
    stand.touch("ok")
    stand.touch("next")
    stand.touch("next")
    stand.touch("next")
    stand.role.handle(Touch("ok"), stand.now())  # Record returned; the loop has not answered yet
    stand.mono_ns += 10**12
    assert stand.role.handle(Tick(), stand.now()) == []
    assert stand.role.screen == "saving"


def test_stand_state_survives_a_restart_without_personal_details(stand, tmp_path):
    from kiosk.roles.base import Save
    from kiosk.roles.shelter import STATE_NAME, ShelterRole
    card = VirtualCard(name="再起動 花子")
    admit_by_card(stand, card)
    (save,) = [e for e in stand.effects if isinstance(e, Save)]
    assert save.name == STATE_NAME and "花子" not in repr(save.data)
    restarted = Stand(ShelterRole(stand.role.settings, stand.hub_private.public_key, stand.prereg_key.verify_key,
                                  save.data), stand.outbox, stand.hub_private, stand.prereg_key)
    assert restarted.role.occupancy()["headcount"] == 1
    restarted.tap(card)
    assert restarted.screen.screen == "movement"  # known here: going out, not a second admission


@pytest.mark.parametrize("saved", [
    {"present": "all"}, {"present": {"card:x": "maybe", "1": "in"}, "local_delta": True}, {"hub": [1]},
    {"status": "party"}, {},
])
def test_stand_state_malformed_is_ignored(saved, tmp_path):
    stand = Stand.make(tmp_path)
    stand.role._restore(saved)
    assert stand.role.occupancy()["headcount"] == 0 and stand.role.occupancy()["status"] == "open"


def test_next_card_right_after_the_done_screen_is_not_lost(stand):
    admit_by_card(stand, VirtualCard(name="一人目"))  # leaves the done screen with OK
    stand.tap(VirtualCard(name="二人目", birth_date=date(1990, 1, 1)))
    stand.digits("1234")
    stand.touch("ok")
    finish_household(stand)
    assert stand.screen.screen == "done"
    stand.tap(VirtualCard(name="三人目", birth_date=date(1991, 1, 1)))  # no OK, no Tick in between
    assert stand.screen.screen == "pin"
