"""`kiosk run` with a wrong kiosk.toml: a full-screen error that tells systemd it is up and keeps
petting the watchdog, instead of exiting into a black screen restarted every two seconds."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pygame
import pytest

from kiosk import bootconfig
from kiosk import config as cfg
from kiosk.display import app
from kiosk.display import theme as th
from kiosk.display.screens.common import Status, config_error
from tests.screenshots import RecordingCanvas, font_path, missing_glyphs, save_screenshot  # noqa: F401

BROKEN = """[device]
id = "tc-honcho-1"
site = "honcho"
city = "452025"
role = "timeclock"
[display]
width = "wide"
"""
LONG = ('/boot/firmware/kiosk.toml: [shelter] welcome_points = ["gymnasium_main_hall", "east_wing", '
        '"library annex"]: "library annex" must be an id (a-z, 0-9, _) and the list may hold at most '
        'sixteen entries; allowed: lowercase letters, digits and the underscore, e.g. "gym_1"')


def notifications(sock: socket.socket, until: str, deadline: float = 30.0) -> list[str]:
    """Datagrams from the child until one contains ``until``; fails after ``deadline`` seconds."""
    sock.settimeout(deadline)
    seen: list[str] = []
    while not any(until in message for message in seen):
        seen.append(sock.recv(4096).decode())
    return seen


def test_config_error_kiosk_run_stays_up_for_systemd_until_sigterm(tmp_path):
    toml = tmp_path / "kiosk.toml"
    toml.write_text(BROKEN, encoding="utf-8")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "NOTIFY_SOCKET": str(tmp_path / "notify"),
           "WATCHDOG_USEC": "200000"}
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(toml), "run"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = notifications(notify, "READY=1")
        assert not any("WATCHDOG=1" in message for message in seen)  # READY comes first
        notifications(notify, "WATCHDOG=1")
        notifications(notify, "WATCHDOG=1")  # petted again: the loop is alive
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        notify.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert '[display] width = "wide": must be a whole number' in process.stderr.read()


def render(font: str, message: str, latin: bool = False) -> RecordingCanvas:
    canvas = RecordingCanvas(pygame.Surface((800, 480)), th.Theme(800, 480, font))
    config_error(canvas, {"message": message, "latin": latin}, Status(now=datetime.now()))
    return canvas


def margins_clear(surface: pygame.Surface) -> bool:
    """Nothing drawn right of the message box (x >= 771) in the rows under the heading band."""
    return all(surface.get_at((x, y))[:3] == th.BACKGROUND for x in range(771, 800) for y in range(115, 355))


@pytest.mark.parametrize("name,message", [("long", LONG), ("unbreakable", 'kiosk.toml: [device] id = "' + "x" * 3000)])
def test_config_error_screen_wraps_message_inside_screen(font_path, name, message):  # noqa: F811
    canvas = render(font_path, message)
    save_screenshot(canvas.surface, f"config_error_{name}_800x480")
    assert canvas.drawn[0] == "設定ファイル kiosk.toml に誤りがあります"  # Japanese first
    assert "kiosk.toml has an error" in canvas.drawn and message in canvas.drawn
    assert "SDカードの起動パーティションの kiosk.toml を直して再起動してください。" in canvas.drawn
    assert missing_glyphs(font_path, canvas.drawn) == set()
    assert margins_clear(canvas.surface)
    ink = {canvas.surface.get_at((x, y))[:3] for x in range(30, 770, 3) for y in range(125, 350, 3)}
    assert len(ink) > 3  # the message was drawn


def test_config_error_screen_without_japanese_font_is_english_only():
    latin_font = str(Path(pygame.__file__).parent / pygame.font.get_default_font())
    canvas = render(latin_font, LONG, latin=True)
    save_screenshot(canvas.surface, "config_error_latin_800x480")
    assert all(text.isascii() for text in canvas.drawn)  # Japanese here would be boxes
    assert "Fix kiosk.toml on the SD card's boot partition and restart." in canvas.drawn
    assert margins_clear(canvas.surface)


def test_config_error_boot_report_is_what_the_screen_shows(tmp_path, monkeypatch):
    assert bootconfig.read_report(tmp_path) is None
    bootconfig.report(tmp_path, cfg.ConfigError(LONG))
    monkeypatch.setattr(bootconfig, "read_report", functools.partial(bootconfig.read_report, tmp_path))
    with pytest.raises(cfg.ConfigError) as caught:
        app.load_config(None, simulate=False)  # the appliance: /etc/kiosk/kiosk.toml
    assert str(caught.value) == LONG


def test_config_error_boot_report_does_not_hide_an_explicit_config(tmp_path, monkeypatch):
    bootconfig.report(tmp_path, cfg.ConfigError("kiosk.toml: [device] role: missing (required)"))
    monkeypatch.setattr(bootconfig, "read_report", functools.partial(bootconfig.read_report, tmp_path))
    toml = tmp_path / "kiosk.toml"
    toml.write_text(BROKEN.replace('width = "wide"', "width = 1024"), encoding="utf-8")
    assert app.load_config(toml, simulate=False).display.width == 1024


def test_config_error_role_without_screens_is_a_config_error(tmp_path, capsys):
    toml = tmp_path / "kiosk.toml"
    toml.write_text(BROKEN.replace('role = "timeclock"', 'role = "bereavement"').replace('width = "wide"', ""),
                    encoding="utf-8")
    assert app.main(["--simulate"], toml) == 2
    assert 'kiosk.toml: [device] role = "bereavement": no screens yet (available: timeclock, shelter)' in \
        capsys.readouterr().err
