"""Pre-registration QR codes read by a camera, for stands without a USB scanner.

Optional: ``[shelter] qr_camera = "/dev/video0"`` (a V4L2 device: a USB webcam, or a Pi camera
through its V4L2 driver). A thread grabs a frame every ``FRAME_SECONDS``, zxing-cpp looks for
QR codes in it, and each text found becomes a ``Scan`` input for the role, exactly as if a
keyboard-wedge scanner had typed it. A code held in front of the lens is reported once, not
five times a second: the same text is ignored for ``REPEAT_SECONDS``. A camera that fails
mid-way is logged and retried; it never stops the stand (the other channels keep working).

    camera = QrCamera(V4l2Frames("/dev/video0"), post=lambda text: ...)
    camera.start() ... camera.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Protocol

from PIL import Image

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.2
REPEAT_SECONDS = 5.0
RETRY_SECONDS = 5.0


class Frames(Protocol):
    def grab(self) -> Image.Image: ...
    def close(self) -> None: ...


def decode(image: Image.Image) -> list[str]:
    """Texts of the QR codes in ``image`` (none if there is none)."""
    import zxingcpp

    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode) if r.text]


class V4l2Frames:
    """Frames from a V4L2 camera through pygame.camera; OSError if the device cannot be used."""

    def __init__(self, device: str, size: tuple[int, int] = (640, 480)):
        import pygame
        import pygame.camera

        self._pygame = pygame
        pygame.camera.init()
        try:
            self.camera = pygame.camera.Camera(device, size)
            self.camera.start()
        except (SystemError, ValueError) as exc:
            raise OSError(f"camera {device}: {exc}") from None

    def grab(self) -> Image.Image:
        surface = self.camera.get_image()
        return Image.frombytes("RGB", surface.get_size(), self._pygame.image.tobytes(surface, "RGB"))

    def close(self) -> None:
        self.camera.stop()


class QrCamera(threading.Thread):
    def __init__(self, frames: Frames, post: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        super().__init__(name="qr-camera", daemon=True)
        self.frames, self.post, self.clock = frames, post, clock
        self.stopping = threading.Event()
        self._seen: dict[str, float] = {}

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                texts = decode(self.frames.grab())
            except Exception as exc:  # a camera pulled out or a driver error: keep the stand alive
                log.warning("QR camera: %s; retrying in %.0f s", exc, RETRY_SECONDS)
                self.stopping.wait(RETRY_SECONDS)
                continue
            for text in texts:
                self._report(text)
            self.stopping.wait(FRAME_SECONDS)

    def _report(self, text: str) -> None:
        now = self.clock()
        if now - self._seen.get(text, float("-inf")) >= REPEAT_SECONDS:
            self.post(text)
        self._seen = {t: at for t, at in self._seen.items() if now - at < REPEAT_SECONDS}
        self._seen[text] = now

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        self.frames.close()
