"""The optional QR camera: codes found in frames become scans, once per code; a failing camera
never stops the stand."""

from __future__ import annotations

import os
import threading
import time
from datetime import date

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pytest  # noqa: E402
import qrcode  # noqa: E402
from PIL import Image  # noqa: E402

from kiosk import qrcodes  # noqa: E402
from kiosk.display import app, qrcamera, shelter_kit  # noqa: E402
from kiosk.feedback import Feedback  # noqa: E402
from kiosk.nfc.emulator import EmulatorReader  # noqa: E402
from kiosk.outbox import Outbox  # noqa: E402
from kiosk.privacy import generate_keypair  # noqa: E402
from kiosk.qrcodes import Prereg, PreregMember  # noqa: E402
from kiosk.roles.base import Scan  # noqa: E402
from tests.test_display_app import display, pins, run_until  # noqa: E402,F401
from tests.test_shelter_app import PREREG, shelter_config  # noqa: E402

CODE = qrcodes.encode(Prereg("CAMERA23", (PreregMember("撮影 一", "サツエイ ハジメ", date(1980, 1, 1), "1"),)), PREREG)


class Frames:
    """A camera that sees ``image`` (or fails while ``broken``)."""

    def __init__(self, image: Image.Image):
        self.image, self.broken, self.grabs, self.closed = image, False, 0, False

    def grab(self) -> Image.Image:
        self.grabs += 1
        if self.broken:
            raise OSError("VIDIOC_DQBUF: No such device")
        return self.image

    def close(self) -> None:
        self.closed = True


def qr_image(text: str) -> Image.Image:
    return qrcode.make(text).get_image().convert("RGB")


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(qrcamera, "FRAME_SECONDS", 0.01)
    monkeypatch.setattr(qrcamera, "RETRY_SECONDS", 0.01)


def test_camera_reports_a_code_once_while_it_is_held_up(fast):
    frames, posted = Frames(qr_image(CODE)), []
    camera = qrcamera.QrCamera(frames, posted.append)
    camera.start()
    wait_for(lambda: frames.grabs >= 10)
    camera.stop()
    assert posted == [CODE] and frames.closed


def test_camera_reports_the_code_again_after_a_while(fast):
    now = [0.0]
    frames, posted = Frames(qr_image(CODE)), []
    camera = qrcamera.QrCamera(frames, posted.append, clock=lambda: now[0])
    camera._report(CODE)
    camera._report(CODE)
    now[0] = qrcamera.REPEAT_SECONDS + 1
    camera._report(CODE)
    assert posted == [CODE, CODE]


def test_camera_failure_is_retried_not_fatal(fast):
    frames, posted = Frames(qr_image(CODE)), []
    frames.broken = True
    camera = qrcamera.QrCamera(frames, posted.append)
    camera.start()
    wait_for(lambda: frames.grabs >= 3)
    assert camera.is_alive() and posted == []
    frames.broken = False
    wait_for(lambda: posted == [CODE])
    camera.stop()


def test_camera_blank_frame_has_no_code():
    assert qrcamera.decode(Image.new("RGB", (640, 480), "white")) == []


def test_camera_missing_device_is_a_clear_error():
    with pytest.raises(OSError, match="/dev/no-such-camera"):
        qrcamera.V4l2Frames("/dev/no-such-camera")


def test_camera_missing_device_leaves_the_stand_running(caplog):
    stop = shelter_kit.camera_inputs("/dev/no-such-camera")(lambda inp: None)
    stop()
    assert "QR camera not available" in caplog.text
    assert shelter_kit.camera_inputs("") is None


def test_camera_code_reaches_the_screen(tmp_path, display, pins, fast):  # noqa: F811
    private, public = generate_keypair()
    config = shelter_config(tmp_path, public)
    kit = app.shelter_kit(config)
    frames = Frames(qr_image(CODE))

    def inputs(post):
        camera = qrcamera.QrCamera(frames, lambda text: post(Scan(text)))
        camera.start()
        return camera.stop

    kit.inputs = inputs
    surface, theme = display
    kiosk = app.Kiosk(config, kit, reader=EmulatorReader(), outbox=Outbox(tmp_path), feedback=Feedback(17, 27, 22),
                      surface=surface, theme=theme)
    kiosk.start()
    try:
        run_until(kiosk, lambda: kiosk.screen.name == "qr_members")
        assert kiosk.screen.params["members"][0]["name"] == "撮影 一"
    finally:
        kiosk.stop()
        kiosk.feedback.close()
    assert frames.closed and not any(t.name == "qr-camera" for t in threading.enumerate())

