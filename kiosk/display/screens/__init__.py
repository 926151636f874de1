"""Screens by role: each role's module registers its layouts with ``@screen(role, name)``.

A screen is a function ``draw(canvas, params, status)``: it paints the whole frame through the
widgets in ``common`` and declares its touch buttons on the canvas. Screens every role needs
(idle status bar, paper book, unreadable card) are registered under "common" and any role may
override them by name.
"""

from __future__ import annotations

import importlib
from typing import Callable

REGISTRY: dict[str, dict[str, Callable]] = {}


def screen(role: str, name: str) -> Callable[[Callable], Callable]:
    def register(draw: Callable) -> Callable:
        REGISTRY.setdefault(role, {})[name] = draw
        return draw
    return register


def screens_for(role: str) -> dict[str, Callable]:
    """Every screen ``role`` can show, the common ones included."""
    importlib.import_module("kiosk.display.screens.common")
    importlib.import_module(f"kiosk.display.screens.{role}")
    return {**REGISTRY.get("common", {}), **REGISTRY.get(role, {})}
