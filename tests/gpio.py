"""gpiozero's own mock pins for tests; the factory is reset after each use or pins stay reserved."""

from contextlib import contextmanager

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin


@contextmanager
def mock_pin_factory(pin_class=MockPWMPin):
    saved = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=pin_class)
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = saved
