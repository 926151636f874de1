"""Carry out a role's card requests on the card that is on the reader.

Roles are pure: they ask for ``CardOp("tries_left")``, ``CardOp("verify_pin", {"pin": ...})``,
``CardOp("verify_code_b", {"code": ...})`` or ``CardOp("read_basic_info")`` and get a
``CardResult`` back as their next input. This is the one place that turns those into calls on
``kiosk.nfc.mynumber.MyNumberCard`` and card exceptions into result codes:

- ``removed`` (card left the reader), ``blocked``, ``wrong_pin`` (``value`` = tries left),
  ``not_mynumber``, ``unreadable`` (anything else the card did wrong).

Each op is one call on the card; nothing is retried here (a PIN is never sent twice). The PIN
travels only in ``op.args`` (kept out of repr) and is not logged.
"""

from __future__ import annotations

import logging

from kiosk.nfc.mynumber import MyNumberCard
from kiosk.nfc.reader import CardError, CardRemovedError, NfcError, Session
from kiosk.nfc.staffid import StaffIdentifier
from kiosk.roles.base import CardOp, CardRead, CardResult

log = logging.getLogger(__name__)


def card_read(session: Session, identifier: StaffIdentifier | None = None) -> CardRead:
    """The tap: the card's stable key (JPKI authentication certificate, no PIN) or an error."""
    try:
        result = (identifier or StaffIdentifier()).identify(session)
    except CardRemovedError:
        return CardRead(None, "card_removed")
    except NfcError as exc:
        log.info("card read failed: %s", type(exc).__name__)
        return CardRead(None, "card_unreadable")
    if result.key is None:
        not_ours = "not_my_number" in (result.reason or "")
        return CardRead(None, "not_mynumber" if not_ours else "card_unreadable")
    return CardRead(result.key)


def run(op: CardOp, card: MyNumberCard) -> CardResult:
    """One card operation -> its result; never raises for card trouble. Keep one
    ``MyNumberCard(session)`` per tap so repeated SELECTs are skipped."""
    try:
        if op.op == "tries_left":
            return CardResult(op.op, card.pin_tries_left())
        if op.op in ("verify_pin", "verify_code_b"):
            result = card.verify_pin(op.args["pin"]) if op.op == "verify_pin" else card.verify_code_b(op.args["code"])
            if result.ok:
                return CardResult(op.op, True)
            return CardResult(op.op, result.tries_left, "blocked" if result.status == "blocked" else "wrong_pin")
        if op.op == "read_basic_info":
            return CardResult(op.op, card.read_basic_info())
    except CardRemovedError:
        return CardResult(op.op, None, "removed")
    except CardError as exc:
        log.info("card op %s: %s", op.op, exc.code)
        return CardResult(op.op, None, "not_mynumber" if exc.code == "not_my_number" else "unreadable")
    except (NfcError, ValueError) as exc:
        log.info("card op %s failed: %s", op.op, type(exc).__name__)
        return CardResult(op.op, None, "unreadable")
    return CardResult(op.op, None, "unsupported")
