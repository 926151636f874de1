"""Screenshots from tests land in test-artifacts/screens/ (kept by CI as artifacts, not in git)."""

from pathlib import Path

import pygame

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screens"


def save_screenshot(surface: pygame.Surface, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pygame.image.save(surface, str(path))
    return path
