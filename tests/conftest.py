"""Shared test set-up. Fixtures that start real services live in tests/fixtures/."""

import os

# Tests never touch real GPIO or a real screen: gpiozero's mock pins, SDL's dummy drivers.
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
os.environ.setdefault("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

pytest_plugins = [
    "tests.fixtures.pcsc",
    "tests.fixtures.broker",
]
