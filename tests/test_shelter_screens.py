"""Screenshots of every shelter screen, reached by driving the real role (PNGs in
test-artifacts/screens/shelter_*.png), with proof that every character drawn has a real glyph,
that PIN digits never reach the screen, and that the buttons drive the role."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pygame
import pytest

from kiosk import kana, qrcodes
from kiosk.display import theme as th
from kiosk.display.screens import REGISTRY, screens_for
from kiosk.display.screens.common import Status
from kiosk.nfc.emulator import VirtualCard
from kiosk.qrcodes import Prereg, PreregMember
from kiosk.roles.base import Touch
from kiosk.roles.shelter import SiteUpdate
from tests.shelter_harness import Stand
from tests.test_shelter_household import staff_entry
from tests.test_shelter_operations import ADMIN, admin_key
from tests.screenshots import RecordingCanvas, font_path, missing_glyphs, save_screenshot  # noqa: F401

NOW = datetime(2026, 12, 3, 18, 5, tzinfo=timezone(timedelta(hours=9)))
STATUS = Status(now=NOW, site_name="第一小学校 体育館", hub_reachable=True)
FAMILY = Prereg("SCRN2345", (PreregMember("山田 太郎", "ヤマダ タロウ", date(1950, 3, 4), "1", ("elderly",)),
                             PreregMember("山田 花子", "ヤマダ ハナコ", date(1952, 5, 6), "2"),
                             PreregMember("山田 一", "ヤマダ ハジメ", date(2025, 6, 1), "1", ("infant",))))


def render(show, font_path, name: str, size=(800, 480)) -> RecordingCanvas:
    surface = pygame.Surface(size)
    canvas = RecordingCanvas(surface, th.Theme(*size, font_path))
    screens_for("shelter")[show.screen](canvas, show.params, STATUS)
    save_screenshot(surface, f"shelter_{name}_{size[0]}x{size[1]}")
    return canvas


def test_shelter_glyph_check_catches_tofu(font_path):
    assert missing_glyphs(font_path, ["☐ 避難", "\U0010fffd"]) == {"☐", "\U0010fffd"}


def journey(tmp_path) -> dict[str, object]:
    """Walk the role through every screen; name -> the Show that put it up."""
    stand = Stand.make(tmp_path, capacity=40, admin_keys=frozenset({admin_key()}))
    seen: dict[str, object] = {}

    def keep(name: str | None = None) -> None:
        seen[name or stand.screen.screen] = stand.screen

    stand.feed(SiteUpdate({"site": "daiichi", "headcount": 27, "capacity": 40, "level": "crowded"}, online=True))
    keep("idle")
    stand.tap(VirtualCard(name="避難 花子", address="宮崎県都城市姫城町6街区21号", birth_date=date(1948, 2, 29), sex="2"))
    keep("pin_empty")
    stand.digits("99", then=None)
    keep("pin")
    stand.digits("99")
    keep("pin_wrong")
    stand.digits("1234")
    keep("member_confirm")
    stand.touch("ok")
    stand.scan(qrcodes.encode(FAMILY, stand.prereg_key))
    keep("qr_members")
    stand.touch("tick", 1)
    stand.touch("ok")
    stand.touch("add_staff")
    for key in "サトウ":
        stand.touch("kana", key)
    keep("staff_name")
    stand.touch("next")
    stand.touch("era", "showa")
    stand.digits("2503", then=None)
    keep("staff_birth")
    stand.touch("digit", "0")
    stand.touch("digit", "4")
    stand.touch("next")
    keep("staff_sex")
    stand.touch("sex", "1")
    keep("household")
    stand.touch("next")
    stand.touch("need", "medical_device")
    keep("needs")
    for _ in range(4):
        stand.touch("next")
    stand.touch("pet_plus", "dog")
    stand.touch("stay", "shelter")
    stand.touch("consent")
    keep("extras")
    stand.touch("next")
    keep("confirm")
    shows = len(stand.shows)
    stand.touch("ok")
    seen["saving"] = stand.shows[shows]
    keep("done")
    stand.touch("ok")
    stand.touch("mode", "movement")
    keep("idle_movement")
    stand.touch("by_number")
    stand.digits("123", then=None)
    keep("movement_number")
    stand.touch("cancel")
    card = VirtualCard(name="外出 次郎", birth_date=date(1980, 1, 1))
    stand.tap(card)
    seen["reading"] = stand.shows[-2]
    stand.digits("1234")
    stand.touch("ok")
    for _ in range(3):
        stand.touch("next")
    stand.touch("ok")
    stand.touch("ok")
    stand.tap(card)
    stand.touch("kind", "out")
    keep("movement")
    stand.touch("destination")
    for key in ("ヒ", kana.DAKUTEN, "ヨ", kana.SMALL, "ウ", "イ", "ン"):
        stand.touch("kana", key)
    keep("movement_destination")
    stand.touch("ok")
    stand.touch("ok")
    keep("done_movement")
    stand.touch("ok")
    stand.tap(VirtualCard(pin_tries=1, name="残り 一回"))
    keep("last_try")
    stand.touch("code_b")
    stand.digits("800101", then=None)
    keep("code_b")
    stand.touch("cancel")
    stand.tap(VirtualCard(pin_tries=0, name="ロック 済"))
    keep("refused_pin_blocked")
    stand.touch("cancel")
    stand.scan("HNJ1GARBAGE")
    keep("refused_qr_garbled")
    stand.touch("cancel")
    stand.tap(ADMIN)
    keep("admin")
    stand.touch("stock")
    stand.touch("plus", "blankets")
    stand.touch("select", "water_2l")
    stand.digits("120", then=None)
    keep("stock")
    stand.touch("back")
    stand.touch("cancel")
    stand.full_disk = True
    stand.touch("staff_entry")
    staff_entry(stand, "ア", "western", "19700101", "2")
    for _ in range(3):
        stand.touch("next")
    stand.touch("ok")
    keep("refused_disk_full")
    return seen


@pytest.fixture(scope="module")
def screens(tmp_path_factory):
    return journey(tmp_path_factory.mktemp("journey"))


def test_shelter_every_registered_screen_is_reached(screens):
    reached = {show.screen for show in screens.values()}
    registered = set(screens_for("shelter")) - set(REGISTRY["common"])  # common ones: tested with the time clock
    assert registered - reached == set()


@pytest.mark.parametrize("name", [
    "idle", "idle_movement", "reading", "pin_empty", "pin", "pin_wrong", "last_try", "code_b", "member_confirm",
    "qr_members", "staff_name", "staff_birth", "staff_sex", "household", "needs", "extras", "confirm", "saving",
    "done", "movement", "movement_number", "movement_destination", "done_movement", "refused_pin_blocked", "refused_qr_garbled",
    "refused_disk_full", "admin", "stock",
])
def test_shelter_screen_draws_with_real_glyphs(screens, font_path, name):
    canvas = render(screens[name], font_path, name)
    assert canvas.drawn, "nothing drawn"
    assert any(not text.isascii() for text in canvas.drawn), "no Japanese on the screen"
    assert missing_glyphs(font_path, canvas.drawn) == set()
    for button in canvas.buttons:  # every touch target is big enough for a finger
        assert button.rect.w >= 40 and button.rect.h >= 36, (button.target, button.rect)


@pytest.mark.parametrize("name", ["idle", "staff_name", "confirm"])
def test_shelter_screen_fits_the_large_layout(screens, font_path, name):
    canvas = render(screens[name], font_path, name, size=(1280, 800))
    assert all(button.rect.right <= 1280 and button.rect.bottom <= 800 for button in canvas.buttons)


def test_shelter_pin_digits_never_drawn(tmp_path, font_path):
    stand = Stand.make(tmp_path)
    stand.tap(VirtualCard(pin="8352"))
    for digit in "835":
        stand.touch("digit", digit)
        canvas = render(stand.screen, font_path, "pin_typing")
        assert "835" not in "".join(canvas.drawn)
    assert "●●●○" in "".join(canvas.drawn)


def test_shelter_buttons_drive_the_role(tmp_path, font_path):
    """Press the drawn keys of the kana keyboard and the pad as a finger would."""
    stand = Stand.make(tmp_path)
    stand.touch("staff_entry")
    for key in ("ヤ", "マ", "タ", kana.DAKUTEN):
        canvas = render(stand.screen, font_path, "press")
        (button,) = [b for b in canvas.buttons if b.target == "kana" and b.value == key]
        stand.feed(Touch(button.target, button.value))
    assert stand.screen.params["text"] == "ヤマダ"
    canvas = render(stand.screen, font_path, "press")
    (next_button,) = [b for b in canvas.buttons if b.target == "next"]
    stand.feed(Touch(next_button.target, next_button.value))
    assert stand.screen.screen == "staff_birth"
