"""The kiosk loop with real parts: pygame (dummy video), the outbox on disk, gpiozero mock pins,
the in-process virtual card reader."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402
import pytest  # noqa: E402

from kiosk import config as cfg  # noqa: E402
from kiosk.display import app  # noqa: E402
from kiosk.display.simulate import DEMO_STAFF, demo_card, demo_entries, script_taps  # noqa: E402
from kiosk.display.theme import Theme, load_font_path  # noqa: E402
from kiosk.feedback import Feedback  # noqa: E402
from kiosk.nfc.emulator import EmulatorReader  # noqa: E402
from kiosk.outbox import Outbox, OutboxReader, SyncState  # noqa: E402
from kiosk.roles.base import Scan  # noqa: E402
from kiosk.roster import save_local  # noqa: E402
from tests.gpio import mock_pin_factory  # noqa: E402
from tests.screenshots import save_screenshot  # noqa: E402

GREEN, RED, BUZZER = 17, 27, 22


def kiosk_config(data_dir: Path, **timeclock) -> cfg.Config:
    extra = "".join(f"{k} = {v}\n" for k, v in timeclock.items())
    return cfg.parse(f"""
[device]
id = "tc-test-1"
site = "honcho"
site_name = "本庁舎"
city = "452025"
role = "timeclock"
[display]
fullscreen = false
[reader]
backend = "emulator"
[storage]
directory = "{data_dir}"
disk_floor_mb = 0
[timeclock]
{extra}""")


@pytest.fixture
def pins():
    with mock_pin_factory() as factory:
        yield factory


@pytest.fixture(scope="module")
def display():
    pygame.display.init()
    pygame.font.init()
    surface = pygame.display.set_mode((800, 480))
    yield surface, Theme(800, 480, load_font_path())
    pygame.display.quit()


def make_kiosk(data_dir: Path, display, reader, *, floor_bytes: int = 0, **timeclock) -> app.Kiosk:
    surface, theme = display
    config = kiosk_config(data_dir, **timeclock)
    save_local(data_dir, demo_entries())
    feedback = Feedback(GREEN, RED, BUZZER)
    kiosk = app.Kiosk(config, app.timeclock_kit(config), reader=reader,
                      outbox=Outbox(data_dir, disk_floor_bytes=floor_bytes), feedback=feedback,
                      surface=surface, theme=theme)
    kiosk.start()
    return kiosk


@pytest.fixture
def kiosk_factory(tmp_path, display, pins):
    made = []

    def make(reader=None, **kwargs) -> app.Kiosk:
        kiosk = make_kiosk(tmp_path, display, reader or EmulatorReader(), **kwargs)
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        kiosk.stop()
        kiosk.feedback.close()
        kiosk.reader.close()


def run_until(kiosk: app.Kiosk, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still on {kiosk.screen.name} {kiosk.screen.params}"
        kiosk.step(0.02)


def tap(kiosk: app.Kiosk, index: int, screen: str) -> None:
    kiosk.reader.insert(demo_card(index))
    run_until(kiosk, lambda: kiosk.screen.name == screen and not kiosk.dirty)
    kiosk.reader.remove()


def wait_for_changes(pin, changes: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(pin.states) < changes + 1:
        assert time.monotonic() < deadline, pin.states
        time.sleep(0.01)


def assert_offline_pattern(pins) -> None:
    """Green steady, red flicked twice: kiosk.feedback PATTERNS["offline"]."""
    red = pins.pin(RED)
    wait_for_changes(red, 4)
    assert [bool(s.state) for s in red.states] == [False, True, False, True, False]
    assert [bool(s.state) for s in pins.pin(GREEN).states][:2] == [False, True]


def stored(data_dir: Path) -> list:
    return OutboxReader(data_dir).pending()


def test_app_tap_records_then_shows_result_and_lights_green(kiosk_factory, tmp_path, pins):
    kiosk = kiosk_factory()
    tap(kiosk, 1, "result")
    (event,) = stored(tmp_path)
    assert event.schema == "punch/1" and event.data["staff_id"] == DEMO_STAFF[1][0]
    assert kiosk.screen.params["name"] == DEMO_STAFF[1][1] and kiosk.screen.params["seq"] == event.seq
    assert pins.pin(GREEN).state  # lit while the result is on screen
    assert_offline_pattern(pins)  # no city server in this test: "kept on the device"
    assert len(kiosk.taps) == 1
    assert json.loads((tmp_path / "timeclock-state.json").read_text())["last"]
    save_screenshot(kiosk.surface, "app_result_800x480")


def test_app_disk_floor_shows_paper_book_red_and_stores_nothing(kiosk_factory, tmp_path, pins):
    kiosk = kiosk_factory(floor_bytes=2**62)
    tap(kiosk, 2, "paper_book")
    assert stored(tmp_path) == []
    assert pins.pin(RED).state and not pins.pin(GREEN).state
    assert not any(s.state for s in pins.pin(GREEN).states)


def test_app_unknown_card_reported_red(kiosk_factory, tmp_path, pins):
    kiosk = kiosk_factory()
    tap(kiosk, 9, "unknown")
    assert [e.schema for e in stored(tmp_path)] == ["unknown_card/1"]
    assert pins.pin(RED).state


def test_app_correction_button_records_correction(kiosk_factory, tmp_path):
    kiosk = kiosk_factory()
    tap(kiosk, 3, "result")
    out_button = next(b for b in kiosk.buttons if b.target == "direction" and b.value == "out")
    kiosk.touch(out_button.rect.center)
    run_until(kiosk, lambda: kiosk.screen.params.get("corrected"))
    punch, correction = stored(tmp_path)
    assert correction.schema == "punch_correction/1" and correction.data["corrects"] == punch.id


def test_app_hub_health_and_confirmation_reach_screen(kiosk_factory, tmp_path, pins):
    kiosk = kiosk_factory()
    tap(kiosk, 4, "result")
    assert kiosk.status().unconfirmed == 1 and kiosk.status().hub_reachable is None
    state = SyncState(confirmed=[[1, 1]], health={"connected": True, "hub_online": True})
    state.save(tmp_path)
    kiosk.refresh_status()
    status = kiosk.status()
    assert status.unconfirmed == 0 and status.confirmed_through == 1 and status.hub_reachable is True
    assert kiosk.role.hub_reachable is True


def test_app_roster_from_sync_state_reloaded(kiosk_factory, tmp_path):
    kiosk = kiosk_factory()
    (tmp_path / "roster.json").unlink()
    kiosk.refresh_status()
    tap(kiosk, 5, "unknown")
    entry = demo_entries()[5]
    SyncState(roster={"site": "honcho", "staff": {entry.key: {"staff_id": entry.staff_id, "name": "ハブ 名簿",
                                                                "admin": False}}}).save(tmp_path)
    kiosk.refresh_status()
    tap(kiosk, 5, "result")
    assert kiosk.screen.params["name"] == "ハブ 名簿"


def test_app_idle_redraws_only_on_change(kiosk_factory):
    kiosk = kiosk_factory()
    run_until(kiosk, lambda: kiosk.frames >= 1)
    second = int(time.time())
    while int(time.time()) == second:  # start at the top of a second
        kiosk.step(0.01)
    frames = kiosk.frames
    for _ in range(10):
        kiosk.step(0.01)
    assert kiosk.frames - frames <= 1


def test_app_simulate_key_taps_virtual_card(kiosk_factory, tmp_path):
    kiosk = kiosk_factory()
    kiosk.simulated = True
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_3))
    run_until(kiosk, lambda: kiosk.screen.name == "result")
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_3))
    kiosk.step(0.01)
    assert stored(tmp_path)[0].data["staff_id"] == DEMO_STAFF[2][0]


def test_app_script_taps_first_round_through_the_reader(kiosk_factory, tmp_path):
    kiosk = kiosk_factory()
    shown = []
    show = kiosk._show
    kiosk._show = lambda effect: shown.append(effect.screen) or show(effect)
    stop = script_taps(kiosk.reader, 0.2)
    try:
        run_until(kiosk, lambda: len(stored(tmp_path)) == 10)  # nine punches and one unknown card
    finally:
        stop()
    events = stored(tmp_path)
    ids = [DEMO_STAFF[i][0] for i in (1, 2, 3, 4, 5, 6, 7, 8, 0)]
    assert [e.data.get("staff_id") for e in events] == [ids[0], None, *ids[1:]]
    assert events[1].schema == "unknown_card/1"
    assert shown[:5] == ["result", "unknown", "result", "already", "result"]  # the double tap


@pytest.mark.parametrize("argv", [["--script-taps", "2"], ["--simulate", "--script-taps", "0"],
                                  ["--simulate", "--script-taps", "-1"], ["--simulate", "--script-taps", "nan"],
                                  ["--simulate", "--script-taps", "inf"], ["--simulate", "--script-taps", "soon"]])
def test_app_script_taps_bad_argument_is_usage_error(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        app.main(argv, tmp_path / "missing.toml")
    assert exited.value.code == 2 and "--script-taps" in capsys.readouterr().err


def test_app_scanner_line_becomes_scan_input(kiosk_factory):
    kiosk = kiosk_factory()
    seen = []
    handle = kiosk.role.handle
    kiosk.role.handle = lambda inp, now: seen.append(inp) or handle(inp, now)
    for chunk in ("KIOSK:", "abc-123"):
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text=chunk))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN))
    kiosk.step(0.01)
    assert Scan("KIOSK:abc-123") in seen


def test_app_result_returns_to_idle_after_seconds(kiosk_factory):
    kiosk = kiosk_factory()
    tap(kiosk, 6, "result")
    kiosk.screen.until = time.monotonic()  # as if result_seconds had passed
    kiosk.step(0.01)
    assert kiosk.screen.name == "idle"


def test_app_corrupt_role_state_quarantined(tmp_path):
    (tmp_path / "timeclock-state.json").write_text("{broken")
    assert app._load_state(tmp_path, "timeclock-state") == {}
    assert not (tmp_path / "timeclock-state.json").exists()
    (moved,) = (tmp_path / "quarantine").iterdir()
    assert moved.read_text() == "{broken"


def test_app_simulate_without_config_uses_builtin(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    config = app.load_config(tmp_path / "missing.toml", simulate=True)
    assert config.reader.backend == "emulator" and not config.display.fullscreen
    assert config.data_dir == tmp_path / "city-kiosk" / "simulate"


def test_app_broken_config_with_simulate_is_error_at_the_terminal(tmp_path, capsys):
    broken = tmp_path / "kiosk.toml"
    broken.write_text('[device]\nid = "tc-x"\n', encoding="utf-8")
    assert app.main(["--simulate"], broken) == 2  # no error screen: the developer reads the terminal
    assert "site: missing (required)" in capsys.readouterr().err


def test_app_kiosk_run_simulate_starts_and_stops_on_sigterm(tmp_path):
    import signal
    import subprocess
    import sys

    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "XDG_DATA_HOME": str(tmp_path)}
    env.pop("GPIOZERO_PIN_FACTORY", None)  # --simulate must choose mock pins itself
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(tmp_path / "none.toml"), "run",
                                "--simulate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "keys 1-9 tap staff cards" in line, process.stderr.read() if process.poll() is not None else line
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "city-kiosk" / "simulate" / "outbox").is_dir()


def test_app_card_worker_survives_identify_bug(display, pins, tmp_path):
    reader = EmulatorReader()
    config = kiosk_config(tmp_path)
    kit = app.timeclock_kit(config)
    identify, calls = kit.identify, []

    def flaky(session):
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("parser bug")
        return identify(session)

    kit.identify = flaky
    save_local(tmp_path, demo_entries())
    kiosk = app.Kiosk(config, kit, reader=reader, outbox=Outbox(tmp_path, disk_floor_bytes=0),
                      feedback=Feedback(GREEN, RED, BUZZER), surface=display[0], theme=display[1])
    kiosk.start()
    try:
        tap(kiosk, 1, "card_error")
        tap(kiosk, 1, "result")  # the worker is still reading cards
    finally:
        kiosk.stop()
        kiosk.feedback.close()


def press(kiosk: app.Kiosk, target: str, value=None) -> None:
    button = next(b for b in kiosk.buttons if b.target == target and b.value == value)
    kiosk.touch(button.rect.center)
    kiosk.step(0.001)


def test_app_enrolment_by_touch_binds_new_card(kiosk_factory, tmp_path, pins):
    kiosk = kiosk_factory()
    tap(kiosk, 0, "result")  # the administrator
    press(kiosk, "enrol")
    for digit in DEMO_STAFF[5][0]:
        press(kiosk, "digit", digit)
    press(kiosk, "ok")
    assert kiosk.screen.name == "enrol_tap"
    save_screenshot(kiosk.surface, "app_enrol_tap_800x480")
    tap(kiosk, 9, "enrolled")
    tap(kiosk, 9, "result")
    assert kiosk.screen.params["name"] == DEMO_STAFF[5][1]
    schemas = [e.schema for e in stored(tmp_path)]
    assert schemas == ["punch/1", "enrolment/1", "punch/1"]


def test_app_unusable_video_driver_is_clear_error(tmp_path):
    import subprocess
    import sys

    toml = tmp_path / "kiosk.toml"
    toml.write_text(f"""[device]
id = "tc-x"
site = "x"
city = "452025"
role = "timeclock"
[display]
fullscreen = false
[reader]
backend = "emulator"
[storage]
directory = "{tmp_path}"
""", encoding="utf-8")
    env = {**os.environ, "SDL_VIDEODRIVER": "no-such-driver"}
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(toml), "run"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot open the screen with SDL's no-such-driver video driver" in done.stderr
