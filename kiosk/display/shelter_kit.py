"""How ``kiosk run`` wires the shelter role: card key, card operations, sync state, keys.

The card's key is the JPKI authentication certificate's digest (no PIN), the same chain the
time clock uses, so an admin's card is recognised from the roster. Card operations (tries
left, VERIFY, 照合番号B, the 4 details) run on the card worker's thread through
kiosk/cardops.py. The hub's public sealing key is required: personal data is sealed to it
before anything is written.
"""

from __future__ import annotations

import logging

from kiosk import cardops, qrcodes
from kiosk import config as cfg
from kiosk.clock import read_clock
from kiosk.nfc.mynumber import MyNumberCard
from kiosk.privacy import SealError, generate_keypair, public_key_from_text
from kiosk.roles.shelter import STATE_NAME, ShelterRole, ShelterSettings, SiteUpdate

log = logging.getLogger(__name__)


def hub_key(config: cfg.Config, simulated: bool):
    if config.hub.public_key:
        try:
            return public_key_from_text(config.hub.public_key)
        except SealError as exc:
            raise cfg.ConfigError(f"{config.path.name}: [hub] public_key: {exc}") from None
    if simulated:
        log.warning("no [hub] public_key: simulation seals personal data to a throwaway key")
        return generate_keypair()[0].public_key
    raise cfg.ConfigError(f"{config.path.name}: [hub] public_key: required for role shelter "
                          "(personal data is sealed to it; `cityhub keys init` prints it)")


def prereg_key(config: cfg.Config):
    if not config.hub.prereg_public_key:
        log.warning("no [hub] prereg_public_key: pre-registration QR codes will be refused")
        return None
    try:
        return qrcodes.verify_key_from_text(config.hub.prereg_public_key)
    except ValueError as exc:
        raise cfg.ConfigError(f"{config.path.name}: [hub] prereg_public_key: {exc}") from None


def build(config: cfg.Config, simulated: bool = False):
    from kiosk.display.app import RoleKit, _hub_reachable, _load_state
    from kiosk.roster import load_local

    role = ShelterRole(ShelterSettings.from_config(config), hub_key(config, simulated), prereg_key(config),
                       _load_state(config.data_dir, STATE_NAME))
    card: dict = {}

    def run_op(session, op):
        # One MyNumberCard per tap, so the second op skips the SELECTs the first one sent.
        if card.get("session") is not session:
            card.update(session=session, card=MyNumberCard(session))
        return cardops.run(op, card["card"])

    def on_sync_state(state) -> None:
        local = load_local(config.data_dir)
        if simulated and not local:
            from kiosk.display.simulate import demo_entries
            local = demo_entries()
        roster = {e.key: {"admin": e.admin} for e in local if e.key}
        roster.update((state.roster or {}).get("staff", {}))
        role.handle(SiteUpdate(state.occupancy or None, bool(_hub_reachable(state.health)), roster), read_clock())

    return RoleKit(role, cardops.card_read, on_sync_state, run_op, camera_inputs(config.shelter.qr_camera))


def camera_inputs(device: str):
    """The QR camera as an extra input source, or None when none is configured."""
    if not device:
        return None

    def start(post):
        from kiosk.display.qrcamera import QrCamera, V4l2Frames
        from kiosk.roles.base import Scan

        try:
            camera = QrCamera(V4l2Frames(device), lambda text: post(Scan(text)))
        except OSError as exc:  # the stand works without it: scanner, cards and staff entry
            log.error("QR camera not available: %s", exc)
            return lambda: None
        camera.start()
        return camera.stop
    return start
