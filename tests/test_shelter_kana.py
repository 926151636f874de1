"""The 五十音 keyboard and birth dates typed by staff (Western calendar or era)."""

from datetime import date

import pytest
from hypothesis import given, strategies as st

from kiosk import kana
from kiosk.birthdate import parse_birth_date


def typed(*keys: str) -> str:
    text = ""
    for key in keys:
        text = kana.type_key(text, key)
    return text


def test_kana_modifiers_act_on_the_last_character():
    assert typed("ハ", kana.DAKUTEN) == "バ"
    assert typed("ハ", kana.HANDAKUTEN) == "パ"
    assert typed("ハ", kana.DAKUTEN, kana.HANDAKUTEN) == "パ"
    assert typed("ハ", kana.DAKUTEN, kana.DAKUTEN) == "ハ"
    assert typed("ツ", kana.SMALL) == "ッ"
    assert typed("ヨ", kana.SMALL, kana.SMALL) == "ヨ"
    assert typed("ウ", kana.DAKUTEN) == "ヴ"
    assert typed("ア", kana.DAKUTEN) == "ア"


def test_kana_name_with_space_long_vowel_and_delete():
    keys = ("サ", "ト", "ウ", kana.SPACE, kana.SPACE, "ユ", "ウ", "コ", "X", kana.LONG, kana.DELETE)
    assert typed(*keys) == "サトウ ユウコ"


def test_kana_space_never_leads():
    assert typed(kana.SPACE, "ア") == "ア"


def test_kana_length_is_bounded():
    assert len(typed(*["ア"] * 100)) == kana.MAX_LENGTH


def test_kana_grid_has_every_base_kana_once():
    keys = [k for row in kana.grid() for k in row if k]
    assert len(keys) == 46 and len(set(keys)) == 46


@given(st.lists(st.sampled_from([k for row in kana.grid() for k in row if k] + list(kana.MODIFIERS)
                                + ["", "x", "あ", "\0"]), max_size=80))
def test_kana_any_key_sequence_stays_katakana(keys):
    text = typed(*keys)
    assert len(text) <= kana.MAX_LENGTH
    assert all(c == " " or c == "ー" or "\u30a1" <= c <= "\u30fa" for c in text)


@pytest.mark.parametrize("era, digits, expected", [
    ("western", "19500304", date(1950, 3, 4)),
    ("showa", "250304", date(1950, 3, 4)),
    ("heisei", "010108", date(1989, 1, 8)),
    ("reiwa", "010501", date(2019, 5, 1)),
    ("taisho", "150101", date(1926, 1, 1)),
])
def test_birth_date_eras(era, digits, expected):
    assert parse_birth_date(era, digits, date(2026, 12, 3)) == expected


@pytest.mark.parametrize("era, digits", [
    ("western", "19501304"),   # month 13
    ("showa", "650101"),       # 昭和 ended in its 64th year
    ("heisei", "010107"),      # the day before 平成 began
    ("reiwa", "090101"),       # in the future
    ("western", "1950030"),    # too short
    ("showa", "25O304"),       # not digits
    ("meiji", "250304"),       # unknown era
    ("western", "18991231"),
])
def test_birth_date_impossible_is_none(era, digits):
    assert parse_birth_date(era, digits, date(2026, 12, 3)) is None
