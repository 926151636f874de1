"""The machine's share of a shelter intake, per channel: reading, verifying, sealing, storing,
drawing — everything but the evacuee's and the staff's own input.

    .venv/bin/python -m bench.intake [--runs 100]

Each run admits a one-person household through the real role (kiosk/roles/shelter.py), every
screen it puts up drawn with the real screens (pygame, dummy video driver), the admission
sealed to a hub key and appended to a real outbox (fsync'd):

- card:   pyscard -> private pcscd -> vsmartcard-vpcd -> virtual card: card key (JPKI
          certificate), tries left, VERIFY PIN, the 4 details;
- code_b: the same with 照合番号B instead of the PIN;
- qr:     a signed pre-registration code typed by the scanner, verified offline;
- staff:  the kana name, era birth date and sex typed by staff.

The clock starts when the reader hands over the card (or the scanner's line / the first staff
key arrives) and stops when the "受付しました" frame is drawn; the inputs are fed with no pause,
so the time measured is the machine's alone. The emulator answers in microseconds: a real
card adds its own APDU time (bench/card.py, docs/card.md). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402

from kiosk import cardops, kana, qrcodes  # noqa: E402
from kiosk.clock import read_clock  # noqa: E402
from kiosk.display import theme as th  # noqa: E402
from kiosk.display.screens import screens_for  # noqa: E402
from kiosk.display.screens.common import Canvas, Status  # noqa: E402
from kiosk.nfc.emulator import VirtualCard, VpcdCard  # noqa: E402
from kiosk.nfc.mynumber import MyNumberCard  # noqa: E402
from kiosk.nfc.reader import PcscReader  # noqa: E402
from kiosk.outbox import Outbox  # noqa: E402
from kiosk.privacy import generate_keypair  # noqa: E402
from kiosk.qrcodes import Prereg, PreregMember  # noqa: E402
from kiosk.roles.base import CardOp, Record, Recorded, Scan, Show, Touch  # noqa: E402
from kiosk.roles.shelter import ShelterRole, ShelterSettings  # noqa: E402
from tests.fixtures.pcsc import private_pcscd  # noqa: E402

GOAL_S = 1.5
PREREG = SigningKey.generate()


class Stand:
    """The role with the loop's effect handling: draw every Show, store every Record."""

    def __init__(self, directory: Path, font_path: str):
        self.role = ShelterRole(ShelterSettings(dev="sh-bench-1", site="bench"), generate_keypair()[0].public_key,
                                PREREG.verify_key)
        self.outbox = Outbox(directory, disk_floor_bytes=0)
        self.surface = pygame.Surface((800, 480))
        self.theme = th.Theme(800, 480, font_path)
        self.screens = screens_for("shelter")
        self.card: MyNumberCard | None = None
        self.last = ""

    def feed(self, inp) -> None:
        pending = [inp]
        while pending:
            for effect in self.role.handle(pending.pop(0), read_clock()):
                if isinstance(effect, Show):
                    self.draw(effect)
                elif isinstance(effect, Record):
                    stored = self.outbox.append(effect.event)
                    pending.append(Recorded(stored.id, stored.seq))
                elif isinstance(effect, CardOp) and effect.op != "release":
                    pending.append(cardops.run(effect, self.card))

    def draw(self, show: Show) -> None:
        canvas = Canvas(self.surface, self.theme)
        self.screens[show.screen](canvas, show.params, Status(now=datetime.now().astimezone(), hub_reachable=True))
        self.last = show.screen

    def touch(self, target: str, value=None) -> None:
        self.feed(Touch(target, value))

    def finish(self) -> None:
        """Household -> needs -> extras -> confirmation -> stored -> the done frame."""
        for _ in range(3):
            self.touch("next")
        self.touch("ok")
        if self.last != "done":
            raise RuntimeError(f"intake ended on {self.last}")
        self.touch("ok")


def card_run(stand: Stand, pcscd, reader: PcscReader, n: int, code_b: bool) -> float:
    # A new person every run: a card key seen before would go to the departure screen.
    card = VirtualCard(name=f"試験 {'B' if code_b else 'P'}{n}", birth_date=date(1950, 3, 4),
                       pin_tries=0 if code_b else 3)
    vpcd = VpcdCard(card, pcscd.port)
    vpcd.insert()
    session = reader.wait_for_card(5.0)
    if session is None:
        raise RuntimeError("card not detected within 5 s")
    start = time.perf_counter()
    stand.card = MyNumberCard(session)
    stand.feed(cardops.card_read(session))
    if code_b:
        stand.touch("code_b")
        secret = "500304" + "2034" + "1234"
    else:
        secret = "1234"
    for digit in secret:
        stand.touch("digit", digit)
    stand.touch("enter")
    stand.touch("ok")
    stand.finish()
    elapsed = time.perf_counter() - start
    vpcd.remove()
    reader.wait_for_removal(session, 5.0)
    return elapsed


def qr_run(stand: Stand, n: int) -> float:
    text = qrcodes.encode(Prereg(qrcodes.new_reg_id(), (
        PreregMember(f"事前 登録{n}", "ジゼン トウロク", date(1960, 1, 1), "2", ("elderly",)),)), PREREG)
    start = time.perf_counter()
    stand.feed(Scan(text))
    stand.touch("ok")
    stand.finish()
    return time.perf_counter() - start


def staff_run(stand: Stand, n: int) -> float:
    start = time.perf_counter()
    stand.touch("staff_entry")
    for key in ("サ", "ト", "ウ", kana.SPACE, "ハ", "ナ", "コ"):
        stand.touch("kana", key)
    stand.touch("next")
    stand.touch("era", "showa")
    for digit in "250304":
        stand.touch("digit", digit)
    stand.touch("next")
    stand.touch("sex", "2")
    stand.finish()
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="intakes per channel")
    args = parser.parse_args()
    pygame.font.init()
    font_path = th.load_font_path()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp, private_pcscd() as pcscd:
        stand = Stand(Path(tmp), font_path)
        reader = PcscReader(pcscd.reader_name)
        try:
            results["card"] = [card_run(stand, pcscd, reader, n, code_b=False) for n in range(args.runs)]
            results["code_b"] = [card_run(stand, pcscd, reader, n, code_b=True) for n in range(args.runs)]
        finally:
            reader.close()
        results["qr"] = [qr_run(stand, n) for n in range(args.runs)]
        results["staff"] = [staff_run(stand, n) for n in range(args.runs)]
    print(f"{'channel':<8} {'runs':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for channel, times in results.items():
        print(f"{channel:<8} {len(times):>5} {statistics.median(times) * 1000:>8.1f} "
              f"{pct(times, 99) * 1000:>8.1f} {max(times) * 1000:>8.1f}")
    p99 = {channel: round(pct(times, 99), 4) for channel, times in results.items()}
    print(json.dumps({"machine_s_per_member": p99,
                      "machine_s_per_member_p50": {c: round(statistics.median(t), 4) for c, t in results.items()},
                      "runs_per_channel": args.runs, "goal_s": GOAL_S,
                      "goal_met": all(v < GOAL_S for v in p99.values())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
