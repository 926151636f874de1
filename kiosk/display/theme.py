"""Colours, sizes for touch, and a Japanese font that is proven to have Japanese glyphs.

Sizes scale with the screen height from an 800x480 design, so the same layouts serve
800x480, 1024x600 and 1280x800. The font is found through fontconfig (``fc-match``) unless
the config names a file. pygame silently falls back to a Latin font for an unknown name, and
that draws boxes instead of Japanese, so ``load_font_path`` renders 出 and compares it with
the font's "missing glyph" box: a font without Japanese is a start-up error, never tofu.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pygame

# fontconfig family names, in order of preference (Debian: fonts-ipaexfont-gothic, fonts-noto-cjk).
FONT_FAMILIES = ("IPAexGothic", "Noto Sans CJK JP", "IPAGothic", "TakaoGothic", "VL Gothic")
PROBE_TEXT = "出勤退"
MISSING_PROBE = "\U0010fffd"  # a private-use code point no font draws: its box is .notdef

BACKGROUND = (250, 250, 247)
TEXT = (25, 25, 25)
MUTED = (105, 105, 105)
GREEN = (22, 128, 61)
RED = (190, 30, 45)
AMBER = (176, 110, 0)
BLUE = (30, 80, 160)
WHITE = (255, 255, 255)
BUTTON = (228, 231, 236)
BUTTON_EDGE = (150, 155, 165)


class FontError(RuntimeError):
    """No usable Japanese font; the message says what was tried and how to fix it."""


def _draws(font: pygame.font.Font, text: str) -> bytes:
    surface = font.render(text, True, (0, 0, 0), (255, 255, 255))
    return pygame.image.tobytes(surface, "RGB")


def missing_glyphs(font: pygame.font.Font, texts) -> set[str]:
    """Characters of ``texts`` the font draws as its missing-glyph box (its metrics cannot tell)."""
    missing = _draws(font, MISSING_PROBE)
    return {ch for ch in set("".join(texts)) if not ch.isspace() and _draws(font, ch) == missing}


def has_japanese(path: str) -> bool:
    """True when every probe character renders as something other than the missing-glyph box."""
    try:
        font = pygame.font.Font(path, 32)
    except (OSError, pygame.error):
        return False
    return not missing_glyphs(font, PROBE_TEXT) and all(font.size(ch)[0] > 0 for ch in PROBE_TEXT)


def _fc_match(family: str) -> str | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", f"{family}:lang=ja"], capture_output=True,
                             text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out or None


def load_font_path(configured: str = "") -> str:
    """The path of a font proven to draw Japanese; raises FontError otherwise."""
    if not pygame.font.get_init():
        pygame.font.init()
    if configured:
        if not Path(configured).is_file():
            raise FontError(f"[display] font = {configured!r}: no such file")
        if not has_japanese(configured):
            raise FontError(f"[display] font = {configured!r}: this font has no Japanese glyphs "
                            "(it would show boxes); use IPAexGothic or Noto Sans CJK JP")
        return configured
    tried = []
    for family in FONT_FAMILIES:
        path = _fc_match(family)
        if path and path not in tried:
            tried.append(path)
            if has_japanese(path):
                return path
    raise FontError("no font with Japanese glyphs found through fontconfig (tried "
                    f"{', '.join(tried) or 'nothing: is fontconfig installed?'}); install "
                    "fonts-ipaexfont-gothic or set [display] font to a font file")


@dataclass(frozen=True)
class Theme:
    """Sizes in pixels for one screen; ``u`` is one design unit (1 px at 480 px height)."""

    width: int
    height: int
    font_path: str

    @property
    def u(self) -> float:
        return min(self.height / 480, self.width / 800)

    def px(self, design: float) -> int:
        return max(1, round(design * self.u))

    def font(self, design_size: float) -> pygame.font.Font:
        return font_at(self.font_path, self.px(design_size))

    def font_px(self, size: int) -> pygame.font.Font:
        return font_at(self.font_path, size)


@lru_cache(maxsize=128)
def font_at(path: str, size: int) -> pygame.font.Font:
    """Opening a font costs milliseconds; every size in use is opened once."""
    return pygame.font.Font(path, max(6, size))
