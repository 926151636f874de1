"""The card worker: the one thread that owns the reader.

It waits for a card, turns it into a ``CardRead`` (through the staff-key chain for the time
clock, or any ``identify`` callable), runs ``CardOp`` requests while the card stays on the
reader (until the role sends ``CardOp("release")``), and waits for removal. It never draws and never writes files: everything it learns
goes onto the UI loop's queue as ``Arrival(input, handed_over, identified)`` so the loop can
measure how long a tap took from the reader handing the card over.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from kiosk.nfc.reader import CardError, CardRemovedError, NfcError
from kiosk.roles.base import CardOp, CardRead, CardResult

log = logging.getLogger(__name__)

WAIT_SLICE = 0.5  # s; how often the worker looks at its stop flag and op queue


@dataclass(frozen=True)
class Arrival:
    """An input from the card side, with perf_counter stamps for the tap benchmark."""

    input: Any
    handed_over: float = 0.0
    identified: float = 0.0


def reason_code(reason: str | None) -> str:
    """The first machine code in a StaffKeyResult reason ("jpki: not_my_number: ...")."""
    parts = (reason or "").split(": ")
    return parts[1] if len(parts) > 1 and parts[1].isidentifier() else "unreadable"


def staff_key_reader(identifier) -> Callable[[Any], CardRead]:
    """``identify`` for the time clock: the configured chain, as a CardRead."""
    def identify(session) -> CardRead:
        result = identifier.identify(session)
        if result.key is None:
            return CardRead(None, reason_code(result.reason), {"reason": result.reason})
        return CardRead(result.key, None, {"method": result.method})
    return identify


class CardWorker(threading.Thread):
    def __init__(self, reader, identify: Callable[[Any], CardRead], post: Callable[[Arrival], None],
                 run_op: Callable[[Any, CardOp], Any] | None = None):
        super().__init__(name="card-worker", daemon=True)
        self.reader, self.identify, self.post, self.run_op = reader, identify, post, run_op
        self.ops: queue.Queue[CardOp] = queue.Queue()
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                session = self.reader.wait_for_card(WAIT_SLICE)
            except NfcError as exc:  # the reader already backs off and updates .state
                log.warning("reader: %s", exc)
                self.stopping.wait(WAIT_SLICE)
                continue
            if session is not None:
                self._tap(session)

    def _tap(self, session) -> None:
        handed_over = time.perf_counter()
        # Before the role hears of this card: an op it sends in answer must not be taken for stale.
        self._drain_stale_ops()
        try:
            read = self.identify(session)
        except CardRemovedError:
            read = CardRead(None, "removed")
        except CardError as exc:
            read = CardRead(None, exc.code)
        except NfcError as exc:
            log.warning("card: %s", exc)
            read = CardRead(None, "unreadable")
        except Exception:  # noqa: BLE001 - a parser bug on one odd card must not stop all reading
            log.exception("card: unexpected failure")
            read = CardRead(None, "unreadable")
        self.post(Arrival(read, handed_over, time.perf_counter()))
        self._while_present(session)

    def _while_present(self, session) -> None:
        """Serve CardOps while the role holds the card (until a ``release`` op or the card is
        gone), then wait for the card to leave; a role without ops lets go at once."""
        held = self.run_op is not None
        while held and not self.stopping.is_set():
            try:
                op = self.ops.get(timeout=WAIT_SLICE)
            except queue.Empty:
                continue
            if op.op == "release":
                break
            result = self._run(session, op)
            self.post(Arrival(result))
            held = result.error != "removed"
        while not self.stopping.is_set() and not self.reader.wait_for_removal(session, WAIT_SLICE):
            pass

    def _run(self, session, op: CardOp) -> CardResult:
        if self.run_op is None:
            return CardResult(op.op, error="unsupported")
        try:
            value = self.run_op(session, op)
            # A run_op that answers in CardResult terms (kiosk/cardops.py) is passed through.
            return value if isinstance(value, CardResult) else CardResult(op.op, value=value)
        except CardRemovedError:
            return CardResult(op.op, error="removed")
        except CardError as exc:
            return CardResult(op.op, error=exc.code)

    def _drain_stale_ops(self) -> None:
        # An op asked for the previous card must never run against this one.
        while not self.ops.empty():
            op = self.ops.get_nowait()
            self.post(Arrival(CardResult(op.op, error="removed")))
