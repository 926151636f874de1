"""The on-screen 五十音 keyboard for staff entry: which keys exist and what each does to the text.

Names are entered as katakana (フリガナ), the form shelter rosters sort and search by. The
keyboard has the 46 base kana plus four modifiers that act on the last character: 濁点 (゛),
半濁点 (゜), small (小) and the long vowel (ー); and space and delete. Pure functions on strings,
so the screen and the tests share them::

    text = type_key("", "ハ")        # "ハ"
    text = type_key(text, HANDAKUTEN)  # "パ"
"""

from __future__ import annotations

# Columns of the traditional layout, read top to bottom; "" is an empty cell.
COLUMNS = (
    "アイウエオ", "カキクケコ", "サシスセソ", "タチツテト", "ナニヌネノ",
    "ハヒフヘホ", "マミムメモ", "ヤ\0ユ\0ヨ", "ラリルレロ", "ワ\0ヲ\0ン",
)
DAKUTEN = "゛"
HANDAKUTEN = "゜"
SMALL = "小"
LONG = "ー"
SPACE = "空白"
DELETE = "削除"
MODIFIERS = (DAKUTEN, HANDAKUTEN, SMALL, LONG, SPACE, DELETE)
MAX_LENGTH = 40

_TYPABLE = frozenset("".join(COLUMNS).replace("\0", "")) | {LONG}
_VOICED = dict(zip("カキクケコサシスセソタチツテトハヒフヘホウ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴ"))
_SEMI_VOICED = dict(zip("ハヒフヘホ", "パピプペポ"))
_SMALL = dict(zip("アイウエオツヤユヨワカケ", "ァィゥェォッャュョヮヵヶ"))


def grid() -> list[list[str]]:
    """Rows of key labels for drawing (empty string = no key in that cell)."""
    return [[column[row].replace("\0", "") for column in COLUMNS] for row in range(5)]


def type_key(text: str, key: str) -> str:
    """The text after pressing ``key``; unknown keys and full text leave it unchanged."""
    if key == DELETE:
        return text[:-1]
    if key in (DAKUTEN, HANDAKUTEN, SMALL):
        return text[:-1] + _modify(text[-1], key) if text else text
    if len(text) >= MAX_LENGTH:
        return text
    if key == SPACE:
        return text + " " if text and not text.endswith(" ") else text
    return text + key if key in _TYPABLE else text


def _modify(char: str, key: str) -> str:
    """Cycle the last character through its forms: base -> modified -> base."""
    base = _base(char)
    table = {DAKUTEN: _VOICED, HANDAKUTEN: _SEMI_VOICED, SMALL: _SMALL}[key]
    if base not in table:
        return char
    return base if char == table[base] else table[base]


def _base(char: str) -> str:
    for table in (_VOICED, _SEMI_VOICED, _SMALL):
        for base, modified in table.items():
            if modified == char:
                return base
    return char
