"""Screenshots of every time clock screen at 800x480 (PNGs in test-artifacts/screens/), with
proof that each Japanese character on them is drawn by a real glyph, not the missing-glyph box."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pygame
import pytest

from kiosk.display import theme as th
from kiosk.display.screens import screens_for
from kiosk.display.screens.common import Status
from tests.screenshots import RecordingCanvas, font_path, missing_glyphs, save_screenshot  # noqa: F401

JST = timezone(timedelta(hours=9))
NOW = datetime(2026, 12, 3, 8, 29, 1, tzinfo=JST)
ONLINE = Status(now=NOW, site_name="本庁舎 職員通用口", hub_reachable=True)
OFFLINE = Status(now=NOW, site_name="本庁舎 職員通用口", reader="no_reader", hub_reachable=False, unconfirmed=12,
                 clock_synced=False)
PUNCH = {"name": "山田 花子", "kana": "ヤマダ ハナコ", "direction": "in", "time": "2026-12-03T08:29:01.120+09:00",
         "seq": 41, "clock_synced": True, "corrected": False, "admin": False, "kept_offline": False}

CASES = {
    "idle": ("idle", {}, ONLINE),
    "idle_offline": ("idle", {}, OFFLINE),
    "success": ("result", PUNCH, ONLINE),
    "success_confirmed": ("result", PUNCH, Status(now=NOW, hub_reachable=True, confirmed_through=41)),
    "offline": ("result", {**PUNCH, "direction": "out", "clock_synced": False, "kept_offline": True}, OFFLINE),
    "corrected": ("result", {**PUNCH, "direction": "out", "corrected": True, "admin": True}, ONLINE),
    "already": ("already", {**PUNCH, "admin": True}, ONLINE),
    "unknown": ("unknown", {}, ONLINE),
    "card_error": ("card_error", {"reason": "not_my_number"}, ONLINE),
    "disk_full": ("paper_book", {"reason": "disk_full"}, ONLINE),
    "enrol_number": ("enrol_number", {"digits": "10300", "error": "", "admin": "管理 花子"}, ONLINE),
    "enrol_number_error": ("enrol_number", {"digits": "", "error": "not_found", "admin": "管理 花子"}, ONLINE),
    "enrol_tap": ("enrol_tap", {"name": "新人 一郎", "staff_id": "10300", "error": "already_bound"}, ONLINE),
    "enrolled": ("enrolled", {"name": "新人 一郎", "staff_id": "10300"}, ONLINE),
    "long_name": ("result", {**PUNCH, "name": "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末"}, ONLINE),
}


def render(font_path: str, name: str, size=(800, 480)) -> RecordingCanvas:
    screen, params, status = CASES[name]
    canvas = RecordingCanvas(pygame.Surface(size), th.Theme(*size, font_path))
    screens_for("timeclock")[screen](canvas, params, status)
    return canvas


@pytest.mark.parametrize("name", sorted(CASES))
def test_display_screen_renders_japanese_without_tofu(font_path, name):
    canvas = render(font_path, name)
    save_screenshot(canvas.surface, f"timeclock_{name}_800x480")
    japanese = [t for t in canvas.drawn if any("\u3040" <= ch <= "\u9fff" for ch in t)]
    assert japanese, "every screen leads with Japanese"
    assert missing_glyphs(font_path, canvas.drawn) == set()
    colours = {canvas.surface.get_at((x, y))[:3] for x in range(0, 800, 7) for y in range(0, 480, 7)}
    assert len(colours) > 3  # text was drawn, not an empty fill


@pytest.mark.parametrize("size", [(800, 480), (1024, 600), (1280, 800)])
def test_display_buttons_inside_screen_at_every_layout(font_path, size):
    for name in CASES:
        canvas = render(font_path, name, size)
        if name in ("idle_offline", "offline", "enrol_number"):
            save_screenshot(canvas.surface, f"timeclock_{name}_{size[0]}x{size[1]}")
        bounds = canvas.surface.get_rect()
        for button in canvas.buttons:
            assert bounds.contains(button.rect), (name, button)
            assert button.rect.h >= 48 * size[1] / 480 * 0.9  # big enough for a finger


def test_display_result_offers_corrections_and_enrol_for_admin(font_path):
    canvas = render(font_path, "corrected")
    assert [(b.target, b.value) for b in canvas.buttons] == [("direction", "in"), ("direction", "out"),
                                                              ("enrol", None)]
    assert [(b.target, b.value) for b in render(font_path, "success").buttons] == [
        ("direction", "in"), ("direction", "out")]


def test_display_long_name_shrinks_to_fit(font_path):
    from kiosk.display.screens.common import fit_text
    px, lines = fit_text(font_path, CASES["long_name"][1]["name"] + " さん", 54, 720, 70)
    font = pygame.font.Font(font_path, px)
    assert px < 54 and all(font.size(line)[0] <= 720 for line in lines)
    assert font.get_linesize() * len(lines) <= 70


def test_display_wrap_never_starts_line_with_closing_punctuation(font_path):
    from kiosk.display.screens.common import NO_LINE_START, fit_text
    text = "管理者にカードの登録を依頼してください。今日の出退勤は紙の出勤簿に記入してください。"
    for width in range(200, 760, 37):
        _, lines = fit_text(font_path, text, 34, width, 400)
        assert all(line[:1] not in NO_LINE_START for line in lines), lines


def test_display_number_pad_has_all_digits(font_path):
    canvas = render(font_path, "enrol_number")
    digits = sorted(b.value for b in canvas.buttons if b.target == "digit")
    assert digits == [str(d) for d in range(10)]
    assert {b.target for b in canvas.buttons} >= {"back", "ok", "cancel"}


def test_display_font_without_japanese_is_startup_error():
    pygame.font.init()
    latin = pygame.font.match_font("dejavusans") or pygame.font.get_default_font()
    latin = latin if os.path.isabs(latin) else os.path.join(os.path.dirname(pygame.__file__), latin)
    assert not th.has_japanese(latin)
    with pytest.raises(th.FontError, match="no Japanese glyphs"):
        th.load_font_path(latin)


def test_display_font_missing_file_is_startup_error(tmp_path):
    with pytest.raises(th.FontError, match="no such file"):
        th.load_font_path(str(tmp_path / "nope.ttf"))


def test_display_font_found_through_fontconfig_has_japanese(font_path):
    assert th.has_japanese(font_path)
