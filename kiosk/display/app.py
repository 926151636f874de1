"""``kiosk run``: the pygame loop. Inputs in, role logic, effects out.

One thread draws and writes: this loop. The card worker (kiosk/display/cards.py) owns the
reader and only puts ``Arrival``s on ``self.inbox``; keyboard and touch come from pygame's own
event queue. Each turn the loop waits on the inbox for at most one frame (so a tap is handled
the moment it arrives, with no polling), drains pygame events, then redraws only if something
changed, or once a second for the clock. Effects: ``Record`` -> outbox append (fsync'd) ->
``Recorded``/``RecordFailed`` back to the role before anything is shown; ``Show`` -> the
screen; ``Signal`` -> LEDs and buzzer; ``Save`` -> ``<data>/<name>.json``; ``CardOp`` -> the
card worker.

Video: SDL's kmsdrm driver full screen on a Pi without a desktop, a window on a desktop, the
dummy driver in tests (``SDL_VIDEODRIVER=dummy``).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import queue
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any, Callable

from kiosk import bootconfig
from kiosk import config as cfg
from kiosk.clock import read_clock
from kiosk.files import write_atomic
from kiosk.roles.base import CardOp, Health, Record, Recorded, RecordFailed, Save, Scan, Show, Signal, Tick, Touch

log = logging.getLogger(__name__)
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

FRAME_SECONDS = 1 / 30  # longest wait for touch events; card input wakes the loop at once
STATUS_SECONDS = 1.0    # how often the sync state and roster files are looked at
LAYOUTS = ((800, 480), (1024, 600), (1280, 800))


@dataclass(frozen=True)
class TapTiming:
    """perf_counter stamps of one tap: card handed over, key derived, result frame shown."""

    handed_over: float
    identified: float
    shown: float


@dataclass
class RoleKit:
    """What the loop needs from a role: the object, how it reads a card, and how it takes
    changes of the sync state (roster, occupancy)."""

    role: Any
    identify: Callable[[Any], Any]
    on_sync_state: Callable[[Any], None] = lambda state: None
    run_op: Callable[[Any, CardOp], Any] | None = None
    # Other input sources (the shelter's QR camera): started with a function that hands the
    # role an input; returns the function that stops them.
    inputs: Callable[[Callable[[Any], None]], Callable[[], None]] | None = None


@dataclass
class Screen:
    name: str = "idle"
    params: dict = field(default_factory=dict)
    until: float | None = None  # monotonic deadline back to idle


class Kiosk:
    """The loop's state; ``step()`` is one turn, ``run()`` turns until asked to stop."""

    def __init__(self, config: cfg.Config, kit: RoleKit, *, reader, outbox, feedback, surface, theme,
                 clock=read_clock, watchdog=None, simulated: bool = False):
        from kiosk.display.cards import CardWorker
        from kiosk.display.screens import screens_for

        self.config, self.kit, self.role = config, kit, kit.role
        self.reader, self.outbox, self.feedback = reader, outbox, feedback
        self.surface, self.theme, self.clock, self.watchdog = surface, theme, clock, watchdog
        self.simulated = simulated
        self.screens = screens_for(config.device.role)
        self.data_dir = config.data_dir
        self.inbox: queue.Queue = queue.Queue()
        self.worker = CardWorker(reader, kit.identify, self.inbox.put, kit.run_op)
        self.screen = Screen()
        self.buttons: list = []
        self.dirty = True
        self.running = True
        self.frames = 0
        self.taps: collections.deque[TapTiming] = collections.deque(maxlen=10_000)
        self._tap_pending = None
        self._drawn_second = -1
        self._next_status = 0.0
        self._sync_stamp: tuple = ()
        self._sync_state = None
        self._hub_reachable: bool | None = None
        self._stop_inputs: Callable[[], None] | None = None
        self._saves: dict[str, Save] = {}
        self._scanned = ""

    # --- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        from kiosk.display.cards import Arrival

        self.refresh_status(force=True)
        self.worker.start()
        if self.kit.inputs is not None:
            self._stop_inputs = self.kit.inputs(lambda inp: self.inbox.put(Arrival(inp)))

    def stop(self) -> None:
        self.running = False
        self.worker.stop()
        if self._stop_inputs is not None:
            self._stop_inputs()
            self._stop_inputs = None
        self._flush_saves()

    def run(self) -> None:
        self.start()
        try:
            while self.running:
                self.step()
        finally:
            self.stop()

    def step(self, wait: float = FRAME_SECONDS) -> None:
        import pygame

        try:
            self._arrive(self.inbox.get(timeout=wait))
            while True:
                self._arrive(self.inbox.get_nowait())
        except queue.Empty:
            pass
        for event in pygame.event.get():
            self._pygame_event(event)
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + STATUS_SECONDS
            self.refresh_status()
            self.apply(self.role.handle(Tick(), self.clock()))
        if self.screen.until is not None and now >= self.screen.until:
            self.screen = Screen()
            self.dirty = True
        if self.dirty or int(time.time()) != self._drawn_second:
            self.draw()
        self._flush_saves()
        if self.watchdog is not None:
            self.watchdog.pet()

    def _arrive(self, arrival) -> None:
        if arrival.handed_over:
            self._tap_pending = arrival
        self.apply(self.role.handle(arrival.input, self.clock()))

    # --- effects ----------------------------------------------------------------------------

    def apply(self, effects: list) -> None:
        pending = collections.deque(effects)
        while pending:
            effect = pending.popleft()
            if isinstance(effect, Record):
                pending.extend(self.role.handle(self._store(effect.event), self.clock()))
            elif isinstance(effect, Show):
                self._show(effect)
            elif isinstance(effect, Signal):
                self.feedback.signal(effect.pattern)
            elif isinstance(effect, Save):
                self._saves[effect.name] = effect  # written after the frame: see _flush_saves
            elif isinstance(effect, CardOp):
                self.worker.ops.put(effect)

    def _store(self, event) -> Recorded | RecordFailed:
        from kiosk.outbox import DiskFull, OutboxError

        try:
            stored = self.outbox.append(event)
        except DiskFull as exc:
            log.error("outbox refused event %s: %s", event.id, exc)
            return RecordFailed(event.id, "disk_full")
        except (OutboxError, OSError) as exc:
            log.error("outbox failed on event %s: %s", event.id, exc)
            return RecordFailed(event.id, "error")
        return Recorded(event.id, stored.seq)

    def _show(self, show: Show) -> None:
        until = None if show.seconds is None else time.monotonic() + show.seconds
        self.screen = Screen(show.screen, dict(show.params), until)
        self.dirty = True

    def _flush_saves(self) -> None:
        """Role state is a cache derived from events already durable in the outbox, so it is
        written after the result is on screen; two fsyncs less before the person sees it."""
        while self._saves:
            _name, save = self._saves.popitem()
            try:
                write_atomic(self.data_dir / f"{save.name}.json",
                             json.dumps(save.data, ensure_ascii=False).encode())
            except OSError as exc:
                log.error("cannot save %s: %s", save.name, exc)

    # --- input ------------------------------------------------------------------------------

    def _pygame_event(self, event) -> None:
        import pygame

        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.touch(event.pos)
        elif event.type == pygame.TEXTINPUT and not self.simulated:
            self._scanned += event.text  # a keyboard-wedge QR scanner types its line
        elif event.type == pygame.KEYDOWN:
            if event.key == pygame.K_ESCAPE and not self.config.display.fullscreen:
                self.running = False
            elif event.key in (pygame.K_RETURN, pygame.K_KP_ENTER) and self._scanned:
                text, self._scanned = self._scanned, ""
                self.apply(self.role.handle(Scan(text), self.clock()))
            elif self.simulated:
                self._simulate_key(event.key, down=True)
        elif event.type == pygame.KEYUP and self.simulated:
            self._simulate_key(event.key, down=False)
        elif event.type in (pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE):
            self.dirty = True

    def touch(self, pos: tuple[int, int]) -> None:
        for button in reversed(self.buttons):
            if button.rect.collidepoint(pos):
                self.apply(self.role.handle(Touch(button.target, button.value), self.clock()))
                return

    def _simulate_key(self, key: int, down: bool) -> None:
        import pygame

        from kiosk.display.simulate import UNENROLLED, demo_card

        if not pygame.K_0 <= key <= pygame.K_9:
            return
        if down:
            index = UNENROLLED if key == pygame.K_0 else key - pygame.K_1
            self.reader.insert(demo_card(index))
        else:
            self.reader.remove()

    # --- status and drawing -----------------------------------------------------------------

    def refresh_status(self, force: bool = False) -> None:
        """Reload the sync state when its file (or the local roster) changed."""
        from kiosk.outbox import STATE_FILE, SyncState
        from kiosk.roster import LOCAL_FILE

        stamp = tuple(_mtime(self.data_dir / name) for name in (STATE_FILE, LOCAL_FILE))
        if stamp != self._sync_stamp or force:
            self._sync_stamp = stamp
            self._sync_state = SyncState.load(self.data_dir)
            self.kit.on_sync_state(self._sync_state)
            self.dirty = True
        reachable = _hub_reachable(self._sync_state.health)
        if reachable != self._hub_reachable:
            self._hub_reachable = reachable
            self.apply(self.role.handle(Health(reachable), self.clock()))
            self.dirty = True

    def status(self):
        from kiosk.display.screens.common import Status

        state = self._sync_state
        reading = self.clock()
        reader_state = getattr(self.reader.state, "value", str(self.reader.state))
        return Status(now=reading.wall, site_name=self.config.device.site_name or self.config.device.site,
                      reader=reader_state, hub_reachable=self._hub_reachable,
                      unconfirmed=_unconfirmed(state, self.outbox.last_seq),
                      confirmed_through=state.confirmed_through, clock_synced=reading.synced,
                      simulated=self.simulated)

    def draw(self) -> None:
        import pygame

        from kiosk.display.screens.common import Canvas

        canvas = Canvas(self.surface, self.theme)
        draw = self.screens.get(self.screen.name) or self.screens["idle"]
        try:
            draw(canvas, self.screen.params, self.status())
        except (KeyError, ValueError, TypeError) as exc:  # a role bug must not blank the kiosk
            log.exception("screen %s failed: %s", self.screen.name, exc)
            self.screen = Screen()
            canvas = Canvas(self.surface, self.theme)
            self.screens["idle"](canvas, {}, self.status())
        self.buttons = canvas.buttons
        pygame.display.flip()
        self.dirty = False
        self._drawn_second = int(time.time())
        self.frames += 1
        if self.frames == 1 and self.watchdog is not None:
            self.watchdog.ready(f"{self.config.device.role} ready")
        if self._tap_pending is not None:
            arrival, self._tap_pending = self._tap_pending, None
            self.taps.append(TapTiming(arrival.handed_over, arrival.identified, time.perf_counter()))


def _mtime(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _hub_reachable(health: dict) -> bool | None:
    if not health:
        return None
    return bool(health.get("connected")) and health.get("hub_online") is not False


def _unconfirmed(state, last_seq: int) -> int:
    """Events up to ``last_seq`` not inside a confirmed range (rejected ones count: kept)."""
    confirmed = sum(max(0, min(hi, last_seq) - lo + 1) for lo, hi in state.confirmed)
    return max(0, last_seq - confirmed)


# --- building the pieces --------------------------------------------------------------------

def timeclock_kit(config: cfg.Config, simulated: bool = False) -> RoleKit:
    from kiosk.display.cards import staff_key_reader
    from kiosk.nfc.staffid import StaffIdentifier
    from kiosk.roles.timeclock import STATE_NAME, TimeclockRole, TimeclockSettings
    from kiosk.roster import Roster, entries_from_hub, load_local

    section = config.timeclock
    settings = TimeclockSettings(
        dev=config.device.id, site=config.device.site, double_tap_seconds=section.double_tap_seconds,
        day_boundary=day_time.fromisoformat(section.day_boundary),
        enrol_timeout_seconds=section.enrol_timeout_seconds, result_seconds=config.display.result_seconds)
    role = TimeclockRole(settings, Roster(), _load_state(config.data_dir, STATE_NAME))

    def on_sync_state(state) -> None:
        local = load_local(config.data_dir)
        if simulated and not local:
            from kiosk.display.simulate import demo_entries
            local = demo_entries()
        role.roster = Roster.merged(local, entries_from_hub(state.roster))

    return RoleKit(role, staff_key_reader(StaffIdentifier.from_section(section)), on_sync_state)


def shelter_kit(config: cfg.Config, simulated: bool = False) -> RoleKit:
    from kiosk.display.shelter_kit import build
    return build(config, simulated)


KITS: dict[str, Callable[[cfg.Config, bool], RoleKit]] = {"timeclock": timeclock_kit, "shelter": shelter_kit}


def _load_state(data_dir: Path, name: str) -> dict:
    """A role's saved state; an unreadable file is moved to quarantine/, never deleted."""
    path = data_dir / f"{name}.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(state, dict):
            return state
        raise ValueError("not a JSON object")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        quarantine = data_dir / "quarantine"
        quarantine.mkdir(exist_ok=True)
        moved = quarantine / f"{name}.{int(time.time())}.json"
        os.replace(path, moved)
        log.error("%s could not be read (%s); moved to %s", path, exc, moved)
        return {}


def open_display(display: cfg.DisplaySection):
    """The window or full screen; picks kmsdrm on a Pi console without a desktop."""
    import pygame

    if display.fullscreen and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("SDL_VIDEODRIVER", "kmsdrm")
    if os.environ.get("SDL_VIDEODRIVER") != "kmsdrm":
        # We only blit software surfaces; without this SDL's X11 window drags in OpenGL
        # (llvmpipe: +90 MB RSS). kmsdrm has no other way to present, so it keeps GLES.
        os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    size = (display.width, display.height)
    if size not in LAYOUTS:
        log.warning("display %dx%d: layouts are designed for %s; scaling", *size, LAYOUTS)
    flags = pygame.FULLSCREEN if display.fullscreen else 0
    try:
        pygame.display.init()
        pygame.font.init()
        surface = pygame.display.set_mode(size, flags)
    except pygame.error as exc:
        driver = os.environ.get("SDL_VIDEODRIVER") or "default"
        raise OSError(f"cannot open the screen with SDL's {driver} video driver: {exc}") from None
    pygame.display.set_caption("City kiosk")
    if display.fullscreen:
        pygame.mouse.set_visible(False)
    return surface


def open_feedback(config: cfg.Config, simulated: bool):
    from gpiozero.exc import BadPinFactory

    from kiosk.feedback import Feedback

    if simulated:
        os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
        os.environ.setdefault("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    gpio = config.gpio
    try:
        return Feedback(gpio.green_led, gpio.red_led, gpio.buzzer, tonal=gpio.tonal_buzzer)
    except BadPinFactory as exc:
        raise cfg.ConfigError(f"[gpio]: no GPIO here ({exc}); on a PC use --simulate or "
                              "GPIOZERO_PIN_FACTORY=mock") from None


def load_config(config_path: Path | None, simulate: bool) -> cfg.Config:
    from kiosk.display.simulate import dev_config, simulated

    path = Path(config_path or cfg.DEFAULT_PATH)
    if simulate and not path.exists():
        return dev_config()
    # kiosk-config.service found the boot partition's kiosk.toml wrong and wrote no DEFAULT_PATH.
    boot_error = bootconfig.read_report() if path == cfg.DEFAULT_PATH else None
    if boot_error is not None:
        raise cfg.ConfigError(boot_error)
    loaded = cfg.load(path)
    return simulated(loaded) if simulate else loaded


def main(argv: list[str], config_path: Path | None) -> int:
    from kiosk.display.simulate import script_seconds, script_taps

    parser = argparse.ArgumentParser(prog="kiosk run", description="The kiosk screen: reader, touchscreen, LEDs.")
    parser.add_argument("--simulate", action="store_true",
                        help="a window with a virtual card reader: keys 1-9 tap nine staff cards, 0 an unknown one")
    parser.add_argument("--script-taps", type=script_seconds, metavar="SECONDS",
                        help="with --simulate: tap the staff cards in turn by script, one every SECONDS")
    args = parser.parse_args(argv)
    if args.script_taps and not args.simulate:
        parser.error("--script-taps needs --simulate")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from kiosk.display.theme import FontError, Theme, load_font_path
    from kiosk.nfc.reader import open_reader
    from kiosk.outbox import Outbox
    from kiosk.watchdog import Watchdog

    try:
        config = load_config(config_path, args.simulate)
        if config.device.role not in KITS:
            raise cfg.ConfigError(f'{Path(config.path).name}: [device] role = "{config.device.role}": no screens '
                                  f"yet (available: {', '.join(KITS)})")
        config.data_dir.mkdir(parents=True, exist_ok=True)
        surface = open_display(config.display)
        theme = Theme(config.display.width, config.display.height, load_font_path(config.display.font))
        feedback = open_feedback(config, args.simulate)
        kit = KITS[config.device.role](config, args.simulate)
    except (cfg.ConfigError, FontError) as exc:
        if args.simulate:  # a developer at a terminal: the message there is the clearest
            print(f"kiosk run: {exc}", file=sys.stderr)
            return 2
        return show_config_error(str(exc))
    except OSError as exc:
        print(f"kiosk run: {exc}", file=sys.stderr)
        return 2
    outbox = Outbox(config.data_dir, disk_floor_bytes=int(config.storage.disk_floor_mb * 2**20))
    reader = open_reader(config.reader)
    kiosk = Kiosk(config, kit, reader=reader, outbox=outbox,
                  feedback=feedback, surface=surface, theme=theme, watchdog=Watchdog(), simulated=args.simulate)
    signal.signal(signal.SIGTERM, lambda *_: setattr(kiosk, "running", False))
    if args.simulate:
        print(f"kiosk run --simulate: data in {config.data_dir}; keys 1-9 tap staff cards "
              "(1 = admin), 0 an unknown card, Esc quits", flush=True)
    stop_script = None
    if args.script_taps:
        print(f"kiosk run --simulate: a scripted card taps every {args.script_taps:g} s", flush=True)
        stop_script = script_taps(reader, args.script_taps)
    try:
        kiosk.run()
    finally:
        if stop_script is not None:
            stop_script()
        feedback.close()
        reader.close()
        import pygame
        pygame.quit()
    return 0


def show_config_error(message: str) -> int:
    """The error screen until SIGTERM, instead of exiting into a black screen that systemd
    restarts every two seconds: what is wrong and how to fix it, with the default display
    settings. READY once it is drawn, then WATCHDOG from this loop; redrawn only when exposed."""
    import pygame

    from kiosk.display.screens.common import Canvas, Status, config_error
    from kiosk.display.theme import FontError, Theme, load_font_path
    from kiosk.watchdog import Watchdog

    print(f"kiosk run: {message}", file=sys.stderr, flush=True)
    display = cfg.DisplaySection()
    try:
        surface = open_display(display)
    except OSError as exc:
        print(f"kiosk run: {exc}", file=sys.stderr)
        return 2
    try:
        font, latin = load_font_path(), False
    except FontError:  # pygame's own font has no Japanese: English only, never boxes
        font, latin = str(Path(pygame.__file__).parent / pygame.font.get_default_font()), True
    theme = Theme(display.width, display.height, font)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(signal.SIGTERM))

    def draw() -> None:
        config_error(Canvas(surface, theme), {"message": message, "latin": latin}, Status(now=datetime.now()))
        pygame.display.flip()

    draw()
    watchdog = Watchdog()
    watchdog.ready("configuration error shown")
    while not stop:
        event = pygame.event.wait(250)  # wakes often enough to pet any WatchdogSec >= 1 s
        if event.type == pygame.QUIT:
            break
        if event.type in (pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE):
            draw()
        watchdog.pet()
    pygame.quit()
    return 0
