"""Widgets every role's screens are built from, and the screens all roles share.

Coordinates are given in the 800x480 design space and scaled by the theme, so a layout
written once fits 800x480, 1024x600 and 1280x800. Text is wrapped (Japanese breaks between
any two characters, English between words) and then scaled down until it fits its box:
a long name never runs off the screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import pygame

from kiosk.display import theme as th
from kiosk.display.screens import screen

WEEKDAYS_JA = "月火水木金土日"
NO_LINE_START = set("、。，．・：；？！ー」』）】〕ゃゅょっャュョッ")
_TOKENS = re.compile(r"[A-Za-z0-9.,;:'’!?()/&%+\-]+ *| +|.", re.S)


@dataclass(frozen=True)
class Status:
    """What the status bar shows; read by the app from the reader, clock and sync state."""

    now: datetime
    site_name: str = ""
    reader: str = "ready"             # ready | no_reader | service_down
    hub_reachable: bool | None = None  # None: no word from the sync process yet
    unconfirmed: int = 0
    confirmed_through: int = 0
    clock_synced: bool = True
    simulated: bool = False


@dataclass
class Button:
    target: str
    rect: pygame.Rect
    value: Any = None


@dataclass
class Canvas:
    """A frame being drawn: the surface, the theme, and the buttons declared on it."""

    surface: pygame.Surface
    theme: th.Theme
    buttons: list[Button] = field(default_factory=list)

    def rect(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        """A rectangle in design units; x/w beyond 800 are clamped by callers' layout."""
        sx = self.theme.width / 800
        sy = self.theme.height / 480
        return pygame.Rect(round(x * sx), round(y * sy), round(w * sx), round(h * sy))

    def fill(self, colour: tuple[int, int, int], rect: pygame.Rect | None = None) -> None:
        self.surface.fill(colour, rect)

    def text(self, text: str, rect: pygame.Rect, size: float, colour=th.TEXT, align: str = "center",
             valign: str = "middle") -> None:
        """Draw ``text`` wrapped and scaled down to fit ``rect``; ``size`` is the design size."""
        if not text:
            return
        px, lines = fit_text(self.theme.font_path, text, self.theme.px(size), rect.w, rect.h)
        font = self.theme.font_px(px)
        height = font.get_linesize() * len(lines)
        y = rect.y + {"top": 0, "middle": (rect.h - height) // 2, "bottom": rect.h - height}[valign]
        for line in lines:
            rendered = font.render(line, True, colour)
            x = {"left": rect.x, "center": rect.centerx - rendered.get_width() // 2,
                 "right": rect.right - rendered.get_width()}[align]
            self.surface.blit(rendered, (x, y))
            y += font.get_linesize()

    def button(self, target: str, label: str, rect: pygame.Rect, value: Any = None, *, size: float = 26,
               colour=th.BUTTON, text_colour=th.TEXT, selected: bool = False) -> None:
        radius = self.theme.px(10)
        pygame.draw.rect(self.surface, colour, rect, border_radius=radius)
        edge = th.TEXT if selected else th.BUTTON_EDGE
        pygame.draw.rect(self.surface, edge, rect, width=self.theme.px(5 if selected else 2), border_radius=radius)
        pad = self.theme.px(8)
        self.text(label, rect.inflate(-2 * pad, -pad), size, text_colour)
        self.buttons.append(Button(target, rect, value))

    def band(self, colour, title_ja: str, title_en: str, height: float = 120) -> pygame.Rect:
        """A coloured heading band with the Japanese title large and the English under it."""
        band = self.rect(0, 0, 800, height)
        self.fill(colour, band)
        self.text(title_ja, self.rect(20, 8, 760, height * 0.6), 52, th.WHITE)
        self.text(title_en, self.rect(20, 8 + height * 0.6, 760, height * 0.3), 24, th.WHITE)
        return band

    def hit(self, pos: tuple[int, int]) -> Button | None:
        for button in reversed(self.buttons):
            if button.rect.collidepoint(pos):
                return button
        return None


@lru_cache(maxsize=512)
def fit_text(font_path: str, text: str, size: int, width: int, height: int) -> tuple[int, tuple[str, ...]]:
    """The largest pixel size <= ``size`` whose wrapped lines fit, and those lines."""
    px = size
    while True:
        font = th.font_at(font_path, px)
        lines = wrap(font, text, width)
        fits = all(font.size(line)[0] <= width for line in lines)
        if (fits and font.get_linesize() * len(lines) <= height) or px <= 8:
            return px, tuple(lines)
        px = max(8, int(px * 0.9))


def wrap(font: pygame.font.Font, text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _TOKENS.findall(paragraph):
            # 禁則: closing punctuation never starts a line; fit_text shrinks the font instead.
            if line and token not in NO_LINE_START and font.size(line + token.rstrip())[0] > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        lines.append(line.rstrip())
    return lines


def format_time(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M")


def format_date(now: datetime) -> tuple[str, str]:
    return (f"{now.year}年{now.month}月{now.day}日({WEEKDAYS_JA[now.weekday()]})",
            now.strftime("%a %-d %b %Y"))


def status_bar(canvas: Canvas, status: Status) -> None:
    """Site name on the left; reader, city server, unconfirmed count and clock on the right.
    When the marks do not fit with their English, the Japanese alone is shown."""
    bar = canvas.rect(0, 440, 800, 40)
    canvas.fill((236, 236, 232), bar)
    marks = [_reader_mark(status), _hub_mark(status)]
    if status.unconfirmed:
        marks.append((f"未送信 {status.unconfirmed}件", f"{status.unconfirmed} not confirmed", th.AMBER))
    if not status.clock_synced:
        marks.append(("時刻未同期", "clock not synced", th.AMBER))
    font = canvas.theme.font(16)
    gap, pad = canvas.theme.px(16), canvas.theme.px(12)
    labels = [f"{ja} / {en}" for ja, en, _ in marks]
    if sum(font.size(label)[0] + gap for label in labels) > bar.w * 0.75:
        labels = [ja for ja, _, _ in marks]
    x = bar.right - pad
    for label, (_, _, colour) in zip(reversed(labels), reversed(marks)):
        rendered = font.render(label, True, colour)
        x -= rendered.get_width()
        canvas.surface.blit(rendered, (x, bar.centery - rendered.get_height() // 2))
        x -= gap
    site = status.site_name + ("  [SIMULATION]" if status.simulated else "")
    canvas.text(site, pygame.Rect(bar.x + pad, bar.y, max(0, x - bar.x - pad), bar.h), 16, th.MUTED, align="left")


def _reader_mark(status: Status) -> tuple[str, str, tuple[int, int, int]]:
    return {"ready": ("● 読取機OK", "reader ready", th.GREEN),
            "no_reader": ("× 読取機なし", "no reader", th.RED)}.get(
        status.reader, ("× カードサービス停止", "card service down", th.RED))


def _hub_mark(status: Status) -> tuple[str, str, tuple[int, int, int]]:
    if status.hub_reachable:
        return "● 市サーバー接続", "city server OK", th.GREEN
    return "○ 市サーバー未接続", "city server offline", th.AMBER


def number_pad(canvas: Canvas, x: float, y: float, w: float, h: float, *,
               delete: str = "back", enter: str = "ok", size: int = 34) -> None:
    """Digits 1-9, then ← 0 決定: touch targets of at least 60 design px.

    ``delete`` and ``enter`` are the button ids the role listens for."""
    keys = [str(d) for d in range(1, 10)] + [delete, "0", enter]
    labels = {delete: "← 消す", enter: "決定 OK"}
    cw, ch = w / 3, h / 4
    for i, key in enumerate(keys):
        rect = canvas.rect(x + (i % 3) * cw + 3, y + (i // 3) * ch + 3, cw - 6, ch - 6)
        if key.isdigit():
            canvas.button("digit", key, rect, key, size=size)
        else:
            canvas.button(key, labels[key], rect, size=size - 10, colour=th.BLUE if key == enter else th.BUTTON,
                          text_colour=th.WHITE if key == enter else th.TEXT)


# --- screens every role shares --------------------------------------------------------------

CARD_ERRORS = {
    "not_my_number": ("マイナンバーカードではありません", "This is not a My Number Card."),
    "removed": ("カードが離れました。もう一度、止めてかざしてください",
                "The card moved away. Tap again and hold it still."),
    "no_response": ("カードが応答しません。もう一度かざしてください", "The card did not answer. Please tap again."),
}
CARD_ERROR_DEFAULT = ("カードを読み取れませんでした。もう一度かざしてください",
                      "The card could not be read. Please tap again.")


@screen("common", "card_error")
def card_error(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.RED, "読み取れませんでした", "Card not read")
    ja, en = CARD_ERRORS.get(params.get("reason", ""), CARD_ERROR_DEFAULT)
    canvas.text(ja, canvas.rect(40, 150, 720, 150), 40)
    canvas.text(en, canvas.rect(40, 310, 720, 90), 26, th.MUTED)
    canvas.text("何も記録していません / Nothing was recorded", canvas.rect(40, 400, 720, 40), 20, th.MUTED)


@screen("common", "paper_book")
def paper_book(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.RED)
    canvas.text("記録できませんでした", canvas.rect(30, 20, 740, 90), 56, th.WHITE)
    canvas.text("紙の出勤簿に記入してください", canvas.rect(30, 120, 740, 110), 52, th.WHITE)
    canvas.text("Not recorded. Please write it in the paper book.", canvas.rect(30, 240, 740, 70), 30, th.WHITE)
    reason = ("端末の保存領域がいっぱいです。管理者に連絡してください。\nStorage is full: tell the administrator."
              if params.get("reason") == "disk_full" else
              "端末に保存できませんでした。管理者に連絡してください。\nThe kiosk could not store it: tell the administrator.")
    canvas.text(reason, canvas.rect(30, 330, 740, 130), 24, th.WHITE)


@screen("common", "config_error")
def config_error(canvas: Canvas, params: dict, status: Status) -> None:
    """``kiosk run`` cannot start: kiosk.toml (or the font) is wrong. ``message`` names the file,
    key, value and what is allowed. With no Japanese font (``latin``) only English is drawn."""
    from kiosk.bootconfig import ERROR_HEADING, ERROR_HINT

    heading_ja, heading_en = ERROR_HEADING.split(" / ")
    hint_ja, hint_en = ERROR_HINT.split("\n")
    if params.get("latin"):
        heading_ja, heading_en, hint_ja = heading_en, "No Japanese font: English only", ""
    canvas.fill(th.BACKGROUND)
    canvas.band(th.RED, heading_ja, heading_en, height=110)
    box = canvas.rect(30, 125, 740, 225)
    canvas.surface.set_clip(box)  # even a value too long to wrap stays inside its box
    canvas.text(params["message"], box, 26, align="left")
    canvas.surface.set_clip(None)
    canvas.text(hint_ja, canvas.rect(30, 360, 740, 65), 28)
    canvas.text(hint_en, canvas.rect(30, 425, 740, 45), 22, th.MUTED)
