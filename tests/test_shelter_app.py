"""`kiosk run` as a shelter stand: the real loop, card worker thread, outbox, pygame (dummy
video) and mock GPIO; buttons pressed where they are drawn, the scanner typing its line."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402
import pytest  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

from kiosk import config as cfg  # noqa: E402
from kiosk import qrcodes  # noqa: E402
from kiosk.display import app  # noqa: E402
from kiosk.feedback import Feedback  # noqa: E402
from kiosk.nfc.emulator import EmulatorReader, VirtualCard  # noqa: E402
from kiosk.outbox import Outbox, OutboxReader  # noqa: E402
from kiosk.privacy import generate_keypair, open_sealed  # noqa: E402
from kiosk.qrcodes import Prereg, PreregMember  # noqa: E402
from tests.test_display_app import display, pins, run_until  # noqa: E402,F401

PREREG = SigningKey(bytes(range(32)))


def shelter_config(data_dir: Path, public_key: str, path: Path | None = None) -> cfg.Config:
    text = f"""
[device]
id = "sh-app-1"
site = "daiichi"
site_name = "第一小学校"
city = "452025"
role = "shelter"
[display]
fullscreen = false
[reader]
backend = "emulator"
[storage]
directory = "{data_dir}"
disk_floor_mb = 0
[hub]
public_key = "{public_key}"
prereg_public_key = "{qrcodes.public_key_text(PREREG)}"
"""
    if path is not None:
        path.write_text(text)
    return cfg.parse(text)


@pytest.fixture
def stand(tmp_path, display, pins):  # noqa: F811
    private, public = generate_keypair()
    config = shelter_config(tmp_path, public)
    surface, theme = display
    kiosk = app.Kiosk(config, app.shelter_kit(config), reader=EmulatorReader(), outbox=Outbox(tmp_path),
                      feedback=Feedback(17, 27, 22), surface=surface, theme=theme)
    kiosk.start()
    kiosk.hub_private = private
    yield kiosk
    kiosk.stop()
    kiosk.feedback.close()
    kiosk.reader.close()


def press(kiosk, target: str, value=None) -> None:
    """Touch the drawn button, as a finger would."""
    run_until(kiosk, lambda: not kiosk.dirty)
    matches = [b for b in kiosk.buttons if b.target == target and (value is None or b.value == value)]
    assert matches, f"no {target}={value} button on {kiosk.screen.name}"
    kiosk.touch(matches[0].rect.center)


def on(kiosk, screen: str) -> None:
    run_until(kiosk, lambda: kiosk.screen.name == screen)


def through_household(kiosk) -> None:
    press(kiosk, "next")
    while kiosk.screen.name == "needs":
        press(kiosk, "next")
    on(kiosk, "extras")
    press(kiosk, "next")
    on(kiosk, "confirm")
    press(kiosk, "ok")
    on(kiosk, "done")


def test_shelter_app_card_intake_through_the_card_worker(stand, tmp_path):
    card = VirtualCard(name="画面 花子", birth_date=date(1975, 5, 5))
    stand.reader.insert(card)
    on(stand, "pin")
    for digit in "1234":
        press(stand, "digit", digit)
    press(stand, "enter")
    on(stand, "member_confirm")
    assert stand.screen.params["member"]["name"] == "画面 花子"
    stand.reader.remove()
    press(stand, "ok")
    on(stand, "household")
    stand.reader.insert(VirtualCard(name="画面 次郎", birth_date=date(2001, 1, 1)))  # the card was released
    on(stand, "pin")
    for digit in "1234":
        press(stand, "digit", digit)
    press(stand, "enter")
    on(stand, "member_confirm")
    press(stand, "ok")
    on(stand, "household")
    through_household(stand)
    (event,) = OutboxReader(tmp_path).pending()
    names = [m["name"] for m in open_sealed(event.pii, stand.hub_private)["members"]]
    assert names == ["画面 花子", "画面 次郎"]
    stand.step(0.01)  # role state is written after the frame
    state = (tmp_path / "shelter-state.json").read_text(encoding="utf-8")
    assert "card:jpki:" in state and "画面" not in state and "1975" not in state
    assert not any(a[5:7] == b"\x00\x01" for a in card.apdus if a[:4] == bytes.fromhex("00A4020C"))


def test_shelter_app_scanner_line_admits_a_household(stand, tmp_path):
    household = Prereg("APPQR234", (PreregMember("走査 一", "ソウサ ハジメ", date(1990, 9, 9), "1"),))
    text = qrcodes.encode(household, PREREG)
    for chunk in (text[:50], text[50:]):
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text=chunk))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN))
    on(stand, "qr_members")
    press(stand, "ok")
    on(stand, "household")
    through_household(stand)
    (event,) = OutboxReader(tmp_path).pending()
    assert event.data["members"][0]["ref"] == "qr:APPQR234:0"


def test_shelter_app_refuses_to_start_without_the_hub_key(tmp_path):
    # kiosk run turns this ConfigError into its error screen (tests/test_display_config_error.py).
    config = shelter_config(tmp_path / "data", "", tmp_path / "kiosk.toml")
    with pytest.raises(cfg.ConfigError, match=r"kiosk.toml: \[hub\] public_key: required for role shelter"):
        app.shelter_kit(config)


def test_shelter_app_op_sent_at_once_is_not_taken_for_stale():
    """The role answers a tap with CardOp("tries_left") immediately; the worker must serve it,
    however fast the answer comes (here: before post() even returns)."""
    import threading

    from kiosk import cardops
    from kiosk.display.cards import CardWorker
    from kiosk.nfc.mynumber import MyNumberCard
    from kiosk.roles.base import CardOp, CardRead, CardResult

    reader, results, done = EmulatorReader(), [], threading.Event()

    def post(arrival):
        if isinstance(arrival.input, CardRead):
            worker.ops.put(CardOp("tries_left"))
        elif isinstance(arrival.input, CardResult):
            results.append(arrival.input)
            if arrival.input.op == "tries_left":
                done.set()

    worker = CardWorker(reader, cardops.card_read, post, lambda session, op: cardops.run(op, MyNumberCard(session)))
    worker.ops.put(CardOp("release"))  # left over from a card that has gone
    worker.start()
    try:
        reader.insert(VirtualCard(pin_tries=2))
        assert done.wait(10)
    finally:
        worker.stopping.set()
        reader.remove()
        worker.join(5)
    assert results == [CardResult("release", error="removed"), CardResult("tries_left", 2)]


def test_shelter_app_local_roster_admin_opens_the_admin_screen(tmp_path, display, pins):  # noqa: F811
    from kiosk.roster import StaffEntry, save_local
    from tests.test_shelter_operations import ADMIN, admin_key

    save_local(tmp_path, [StaffEntry("90001", "職員 一", key=admin_key(), admin=True)])
    private, public = generate_keypair()
    config = shelter_config(tmp_path, public)
    surface, theme = display
    kiosk = app.Kiosk(config, app.shelter_kit(config), reader=EmulatorReader(), outbox=Outbox(tmp_path),
                      feedback=Feedback(17, 27, 22), surface=surface, theme=theme)
    kiosk.start()
    try:
        kiosk.reader.insert(ADMIN)
        on(kiosk, "admin")
        press(kiosk, "status", "full")
        on(kiosk, "admin")
        assert kiosk.screen.params["occupancy"]["level"] == "full"
    finally:
        kiosk.stop()
        kiosk.feedback.close()
        kiosk.reader.close()
    (event,) = OutboxReader(tmp_path).pending()
    assert event.schema == "shelter_status/1" and event.data == {"status": "full"}
