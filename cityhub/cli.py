"""The ``cityhub`` command."""

from __future__ import annotations

import sys

from kiosk.commands import Subcommand, run

SUBCOMMANDS = [
    Subcommand("serve", "ingest events from the broker, confirm them, publish rosters and occupancy", "cityhub.serve:main"),
    Subcommand("keys", "cityhub keys init: make the hub's sealing key pair", "cityhub.keys:main"),
    Subcommand("roster", "cityhub roster import staff.csv", "cityhub.roster:main"),
    Subcommand("prereg", "shelter pre-registration QR codes from a CSV", "cityhub.prereg:main"),
    Subcommand("shelter", "shelter reports: occupancy, roster, duplicates, stock, snapshots", "cityhub.shelter:main"),
]


def main(argv: list[str] | None = None) -> int:
    return run("cityhub", "City server for the card kiosks", SUBCOMMANDS, None, argv)


if __name__ == "__main__":
    sys.exit(main())
