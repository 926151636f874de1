"""`cityhub keys init`: make the hub's sealing key pair and print the public key for kiosks.

The private key file (base64) is created with mode 0600 and never overwritten: losing it makes
every sealed record unreadable, so replacing it must be a deliberate act by hand.
"""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path

from nacl.public import PrivateKey

from kiosk.privacy import generate_keypair

DEFAULT_DIR = Path("/etc/cityhub")
PRIVATE_NAME = "hub.key"
PUBLIC_NAME = "hub.pub"


def init(directory: Path) -> str:
    """Write ``hub.key`` (0600) and ``hub.pub`` in ``directory``; returns the public key."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = generate_keypair()
    # O_EXCL: never replace an existing key; the mode is set at creation, no window of 0644.
    fd = os.open(directory / PRIVATE_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(bytes(private)).decode("ascii") + "\n")
        out.flush()
        os.fsync(out.fileno())
    (directory / PUBLIC_NAME).write_text(public + "\n")
    return public


def load_private_key(path: Path) -> PrivateKey:
    try:
        return PrivateKey(base64.b64decode(Path(path).read_text().strip(), validate=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a hub private key: {exc}") from None


def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="cityhub keys", description="the hub's sealing key pair")
    parser.add_argument("action", choices=["init"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"where to write the keys (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    try:
        public = init(args.dir)
    except FileExistsError:
        print(f"cityhub keys: {args.dir / PRIVATE_NAME} exists; not replacing it (move it away first)")
        return 1
    except OSError as exc:
        print(f"cityhub keys: cannot write to {args.dir}: {exc.strerror or exc}")
        return 2
    print(f"private key: {args.dir / PRIVATE_NAME} (mode 0600; back it up offline)")
    print("public key for every kiosk's config ([hub] public_key):")
    print(public)
    return 0
