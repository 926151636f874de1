"""The ``kiosk`` command: one entry point for every process on the Pi."""

from __future__ import annotations

import sys

from kiosk import config
from kiosk.commands import Subcommand, run

SUBCOMMANDS = [
    Subcommand("run", "the kiosk screen: reader, touchscreen, LEDs (add --simulate to try it without hardware)", "kiosk.display.app:main"),
    Subcommand("sync", "forward stored events to the city server and keep the local state", "kiosk.sync.forwarder:main"),
    Subcommand("demo", "everything on this machine: private broker, hub on SQLite, kiosk with a virtual card", "kiosk.demo:main"),
    Subcommand("card", "field diagnostics for the card reader: kiosk card probe [--pin]", "kiosk.nfc.probe:main"),
    Subcommand("roster", "staff roster for stand-alone use: kiosk roster import staff.csv", "kiosk.roster:main"),
    Subcommand("config", "check a config file: kiosk config check [FILE]", "kiosk.configcheck:main"),
]


def main(argv: list[str] | None = None) -> int:
    return run("kiosk", "City card kiosk (My Number Card time clock, shelter intake, bereavement desk)",
               SUBCOMMANDS, config.DEFAULT_PATH, argv)


if __name__ == "__main__":
    sys.exit(main())
