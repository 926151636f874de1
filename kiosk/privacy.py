"""Personal data is sealed to the hub's public key at capture (DESIGN §4).

A libsodium sealed box: the kiosk can seal but never open, so the SD card, the broker and the
logs only ever hold ciphertext. Only the hub, holding the private key, opens it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox


class SealError(ValueError):
    """A key or a sealed payload that cannot be used."""


def public_key_from_text(text: str) -> PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return PublicKey(raw)
    except (ValueError, TypeError) as exc:
        raise SealError(f"not a base64 Curve25519 public key: {exc}") from None


def seal(payload: dict[str, Any], public_key: PublicKey) -> str:
    """JSON-encode ``payload`` and seal it; returns base64 text for the event's ``pii``."""
    plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return base64.b64encode(SealedBox(public_key).encrypt(plain)).decode("ascii")


def open_sealed(sealed: str, private_key: PrivateKey) -> dict[str, Any]:
    """The hub's side: base64 sealed box -> the original dict; SealError on anything else."""
    try:
        plain = SealedBox(private_key).decrypt(base64.b64decode(sealed, validate=True))
        value = json.loads(plain)
    except (ValueError, TypeError, CryptoError) as exc:
        raise SealError(f"sealed personal data cannot be opened: {type(exc).__name__}") from None
    if not isinstance(value, dict):
        raise SealError("sealed personal data is not an object")
    return value


def generate_keypair() -> tuple[PrivateKey, str]:
    """A new hub key pair: the private key and the public key as base64 for kiosk configs."""
    private = PrivateKey.generate()
    return private, base64.b64encode(bytes(private.public_key)).decode("ascii")
