"""Screen tests: screenshots land in test-artifacts/screens/ (kept by CI as artifacts, not in
git), a canvas that remembers what it drew, and the check that no character came out as a box."""

from dataclasses import dataclass, field
from pathlib import Path

import pygame
import pytest

from kiosk.display import theme as th
from kiosk.display.screens.common import Canvas

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screens"


def save_screenshot(surface: pygame.Surface, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pygame.image.save(surface, str(path))
    return path


@pytest.fixture(scope="module")
def font_path():
    pygame.font.init()
    return th.load_font_path()


@dataclass
class RecordingCanvas(Canvas):
    """A canvas that also remembers every string it drew."""

    drawn: list[str] = field(default_factory=list)

    def text(self, text, rect, size, *args, **kwargs):
        self.drawn.append(text)
        super().text(text, rect, size, *args, **kwargs)


def missing_glyphs(font_path: str, texts: list[str]) -> set[str]:
    """Characters the screen drew as the font's missing-glyph box."""
    return th.missing_glyphs(th.font_at(font_path, 24), texts)
