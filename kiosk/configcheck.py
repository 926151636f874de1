"""``kiosk config check [FILE]``: validate a config file the way the kiosk will read it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk import config


def main(argv: list[str], config_path: Path) -> int:
    parser = argparse.ArgumentParser(prog="kiosk config")
    parser.add_argument("action", choices=["check"])
    parser.add_argument("file", nargs="?", type=Path, help="config file (default: --config)")
    args = parser.parse_args(argv)
    path = args.file or config_path
    try:
        loaded = config.load(path)
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{path}: ok ({loaded.device.role} {loaded.device.id} at {loaded.device.site})")
    return 0
