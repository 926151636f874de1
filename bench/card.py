"""Card read timings through the real chain: pyscard -> private pcscd -> vpcd -> VirtualCard.

    .venv/bin/python -m bench.card [--taps 200]

Each tap puts the virtual card (running in a child process) on the vpcd reader, waits for the kiosk's reader to hand out a
session ("card present"), then times either the 4 details (tries left, VERIFY, read EF 0002)
or the staff key (JPKI certificate fingerprint), and takes the card away. The emulator answers
in microseconds, so these figures measure our code, pyscard and pcscd, not a real card (see
docs/card.md for what a real card adds). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.nfc.emulator import VirtualCard, VpcdCard  # noqa: E402
from kiosk.nfc.mynumber import MyNumberCard  # noqa: E402
from kiosk.nfc.reader import PcscReader  # noqa: E402
from kiosk.nfc.staffid import identify  # noqa: E402
from tests.fixtures.pcsc import private_pcscd  # noqa: E402

ADDRESS = "宮崎県都城市姫城町6街区21号 市役所本庁舎東棟"


def four_info(session) -> None:
    card = MyNumberCard(session)
    card.pin_tries_left()
    if not card.verify_pin("1234").ok:
        raise RuntimeError("VERIFY failed")
    card.read_basic_info()


def staff_key(session) -> None:
    if identify(session).key is None:
        raise RuntimeError("no staff key")


def card_process(control, port: int) -> None:
    """The virtual card in its own process, as a real card is outside the kiosk: no GIL shared
    with the reader. Commands on ``control``: "insert", "remove", "stop"."""
    vpcd = VpcdCard(VirtualCard(address=ADDRESS), port)
    while (command := control.recv()) != "stop":
        vpcd.insert() if command == "insert" else vpcd.remove()
        control.send("done")
    vpcd.remove()


def run_taps(control, reader: PcscReader, work, taps: int) -> dict:
    detect, work_ms, apdus = [], [], []
    for _ in range(taps):
        inserted = time.perf_counter()
        control.send("insert")
        control.recv()
        session = reader.wait_for_card(5.0)
        present = time.perf_counter()
        if session is None:
            raise RuntimeError("card not detected within 5 s")
        work(session)
        done = time.perf_counter()
        detect.append((present - inserted) * 1000)
        work_ms.append((done - present) * 1000)
        apdus.append(session.apdu_count)
        control.send("remove")
        control.recv()
        if not reader.wait_for_removal(session, 5.0):
            raise RuntimeError("removal not seen within 5 s")
    return {"detect": detect, "work": work_ms, "apdus": apdus}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=200)
    args = parser.parse_args()
    with private_pcscd() as pcscd:
        control, child_end = multiprocessing.Pipe()
        child = multiprocessing.get_context("fork").Process(target=card_process, args=(child_end, pcscd.port))
        child.start()
        reader = PcscReader(pcscd.reader_name)
        try:
            results = {"four_info": run_taps(control, reader, four_info, args.taps),
                       "staff_key": run_taps(control, reader, staff_key, args.taps)}
        finally:
            reader.close()
            control.send("stop")
            child.join(10)
    print(f"{'flow':<10} {'taps':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'APDUs':>6} {'detect p50 ms':>14}")
    for flow, r in results.items():
        print(f"{flow:<10} {len(r['work']):>5} {statistics.median(r['work']):>8.2f} {pct(r['work'], 99):>8.2f} "
              f"{max(r['work']):>8.2f} {max(r['apdus']):>6} {statistics.median(r['detect']):>14.1f}")
    four, staff = results["four_info"], results["staff_key"]
    summary = {
        "taps": args.taps,
        "four_info_p50_ms": round(statistics.median(four["work"]), 2),
        "four_info_p99_ms": round(pct(four["work"], 99), 2),
        "staff_key_p50_ms": round(statistics.median(staff["work"]), 2),
        "staff_key_p99_ms": round(pct(staff["work"], 99), 2),
        "apdus_four_info": max(four["apdus"]),
        "apdus_staff_key": max(staff["apdus"]),
        "detect_p50_ms": round(statistics.median(four["detect"] + staff["detect"]), 1),
        "detect_p99_ms": round(pct(four["detect"] + staff["detect"], 99), 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
