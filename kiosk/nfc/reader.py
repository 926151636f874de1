"""The card reader: wait for a card, hand out a session, notice removal, survive pcscd.

``PcscReader`` owns its wait loop on ``SCardGetStatusChange`` instead of pyscard's
``CardMonitor``, whose thread dies silently with pcscd and never comes back. Every wait and
every APDU has a deadline, so nothing here can hang the UI: a card that never answers gives
``CardError("no_response")``. ``state`` tells the UI what to show: ready, no reader, or the
card service (pcscd) down, in which case the loop retries with a growing back-off.

``open_reader(section)`` picks the backend from ``[reader] backend``.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from typing import Callable, Protocol

from kiosk.nfc import apdu
from kiosk.nfc.apdu import Response

log = logging.getLogger(__name__)

TRANSMIT_TIMEOUT = 5.0  # s; a real card answers in well under 0.5 s
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 2.0  # s; the max bounds recovery after pcscd restarts
WAIT_SLICE = 1.0  # s; longest single SCardGetStatusChange, so state stays fresh


class ReaderState(str, enum.Enum):
    READY = "ready"
    NO_READER = "no_reader"
    SERVICE_DOWN = "service_down"


class NfcError(Exception):
    """Base of everything the reader and the card code raise."""


class CardRemovedError(NfcError):
    """The card left the reader during an exchange."""


class CardError(NfcError):
    """The card answered but not usefully. ``code`` is one of: not_my_number, not_verified,
    unexpected_sw, bad_data, no_response, busy, unreadable."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class Session(Protocol):
    atr: bytes
    reader_name: str

    def transmit(self, command: bytes) -> Response: ...


class CardSession:
    """One card connection. Subclasses supply ``_exchange``; this adds the deadline, the
    masked debug trace and per-APDU timings (``timings``: list of (command trace, SW, ms))."""

    def __init__(self, atr: bytes, reader_name: str, timeout: float = TRANSMIT_TIMEOUT):
        self.atr = atr
        self.reader_name = reader_name
        self.timeout = timeout
        self.timings: list[tuple[str, int, float]] = []
        self.apdu_count = 0
        self._dead: NfcError | None = None

    def transmit(self, command: bytes) -> Response:
        if self._dead is not None:
            raise self._dead
        started = time.perf_counter()
        raw = _with_deadline(lambda: self._exchange(command), self.timeout)
        if raw is None:
            self._dead = CardError("no_response", f"no answer within {self.timeout:g} s")
            raise self._dead
        elapsed = (time.perf_counter() - started) * 1000
        try:
            response = apdu.parse_response(raw)
        except apdu.MalformedResponse as exc:
            raise CardError("unreadable", str(exc)) from None
        self.apdu_count += 1
        shown = apdu.trace(command)
        self.timings.append((shown, response.sw, elapsed))
        log.debug("> %s < %d bytes %s (%.1f ms)", shown, len(response.data), apdu.sw_text(response.sw), elapsed)
        return response

    def _exchange(self, command: bytes) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection; safe to call twice."""


def _with_deadline(call: Callable[[], bytes], timeout: float) -> bytes | None:
    """Run ``call`` on a helper thread; None if it has not returned by ``timeout``. A stuck
    call (a silent card, a wedged driver) is left behind on its daemon thread."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="apdu", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return None
    if "error" in box:
        raise box["error"]
    return box["value"]


# --- pcsc ------------------------------------------------------------------------------------

class PcscSession(CardSession):
    """A connection on its own PC/SC context: pcsc-lite serialises calls per context, so a
    transmit stuck on a silent card must not block the reader's wait loop."""

    def __init__(self, scard, context, card, protocol, atr: bytes, reader_name: str, timeout: float):
        super().__init__(atr, reader_name, timeout)
        self._s, self._context, self._card, self._protocol = scard, context, card, protocol

    def _exchange(self, command: bytes) -> bytes:
        s = self._s
        hresult, response = s.SCardTransmit(self._card, self._protocol, list(command))
        if hresult == s.SCARD_S_SUCCESS:
            return bytes(response)
        # NOT_TRANSACTED: the card left the field mid-exchange, before pcscd's poll noticed.
        if hresult in (s.SCARD_W_REMOVED_CARD, s.SCARD_E_NO_SMARTCARD, s.SCARD_W_RESET_CARD,
                       s.SCARD_E_READER_UNAVAILABLE, s.SCARD_W_UNPOWERED_CARD, s.SCARD_E_NOT_TRANSACTED):
            raise CardRemovedError("card removed / カードが離れました")
        raise CardError("unreadable", f"transmit failed: {_message(s, hresult)}")

    def close(self) -> None:
        if self._card is None:
            return
        card, context, self._card = self._card, self._context, None

        def release() -> None:
            self._s.SCardDisconnect(card, self._s.SCARD_LEAVE_CARD)
            self._s.SCardReleaseContext(context)

        if self._dead is None:
            release()
        else:  # a transmit may still hold the context; do not wait behind it
            threading.Thread(target=release, name="release", daemon=True).start()

    def __del__(self) -> None:
        # An abandoned exclusive connection would lock the reader for every later connect.
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to release into
            pass


def _message(s, hresult: int) -> str:
    return f"{s.SCardGetErrorMessage(hresult)} ({hresult & 0xFFFFFFFF:#010x})"


PNP = "\\\\?PnP?\\Notification"


def _slices(timeout: float):
    """The time left before ``timeout`` runs out, once per loop; always at least one look."""
    deadline = time.monotonic() + timeout
    yield max(timeout, 0.0)
    while (remaining := deadline - time.monotonic()) > 0:
        yield remaining


class PcscReader:
    """A PC/SC reader chosen by a substring of its name (the first reader if empty).

    Use: ``session = reader.wait_for_card(1.0)`` in the UI loop; ``None`` means nothing yet
    (look at ``reader.state``). A card that stays on the reader is handed out once; it must
    leave (or be re-presented) before another session is returned. The reader owns at most one
    session: a new one, or ``close()``, closes the previous one.
    """

    def __init__(self, name_substring: str = "", *, transmit_timeout: float = TRANSMIT_TIMEOUT):
        from smartcard import scard  # only the real backend needs the C library

        self._s = scard
        self.name_substring = name_substring
        self.transmit_timeout = transmit_timeout
        self.state = ReaderState.SERVICE_DOWN
        self._context = None
        self._backoff = BACKOFF_FIRST
        self._retry_at = 0.0
        # (reader, pcsc-lite event counter) of the card last handed out and not yet seen leaving
        self._handed_out: tuple[str, int] | None = None
        self._session: PcscSession | None = None
        self._pnp_state = 0  # SCARD_STATE_UNAWARE
        self._refresh_state()

    def _refresh_state(self) -> None:
        """Set ``state`` from what pcscd says now, so the UI is right before the first wait."""
        found = self._pick() is not None
        if self._context is not None:
            self.state = ReaderState.READY if found else ReaderState.NO_READER

    # context and readers

    def _ensure_context(self) -> bool:
        if self._context is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        hresult, context = self._s.SCardEstablishContext(self._s.SCARD_SCOPE_USER)
        if hresult != self._s.SCARD_S_SUCCESS:
            self._service_down(f"establish context: {_message(self._s, hresult)}")
            return False
        self._context, self._backoff = context, BACKOFF_FIRST
        log.info("card service up")
        return True

    def _service_down(self, why: str) -> None:
        if self.state is not ReaderState.SERVICE_DOWN:
            log.warning("card service down (%s); retrying", why)
        self.state = ReaderState.SERVICE_DOWN
        self._handed_out = None
        self._drop_context()
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def _drop_context(self) -> None:
        if self._context is not None:
            self._s.SCardReleaseContext(self._context)
            self._context = None

    def readers(self) -> list[str]:
        """Reader names; [] when pcscd is down or has none."""
        if not self._ensure_context():
            return []
        hresult, names = self._s.SCardListReaders(self._context, [])
        if hresult == self._s.SCARD_S_SUCCESS:
            return list(names)
        if hresult != self._s.SCARD_E_NO_READERS_AVAILABLE:
            self._service_down(f"list readers: {_message(self._s, hresult)}")
        return []

    def _pick(self) -> str | None:
        for name in self.readers():
            if self.name_substring.lower() in name.lower():
                return name
        return None

    # waiting

    def wait_for_card(self, timeout: float):
        """A session on a newly presented card, or None after ``timeout`` seconds."""
        for remaining in _slices(timeout):
            if not self._ensure_context():
                time.sleep(max(0.0, min(remaining, self._retry_at - time.monotonic())))
                continue
            name = self._pick()
            if name is None:
                if self._context is not None:
                    self.state = ReaderState.NO_READER
                    self._handed_out = None
                    # Blocks until the reader list changes (the first call only learns the state).
                    self._pnp_state = self._wait_change(PNP, self._pnp_state, min(remaining, WAIT_SLICE)) or 0
                continue
            self.state = ReaderState.READY
            event = self._wait_change(name, self._s.SCARD_STATE_UNAWARE, 0)
            if event is None:
                continue
            if not self._present(event):
                self._handed_out = None
            elif self._handed_out != (name, event >> 16):
                self._close_session()
                self._session = self._connect(name)
                if self._session is not None:
                    self._handed_out = (name, event >> 16)
                    return self._session
            self._wait_change(name, event, min(remaining, WAIT_SLICE))
        return None

    def wait_for_removal(self, session, timeout: float) -> bool:
        """Close ``session``; True once its card has left the reader (or pcscd lost it),
        False if it is still there after ``timeout`` seconds."""
        session.close()
        for remaining in _slices(timeout):
            if not self._ensure_context():
                return True
            event = self._wait_change(session.reader_name, self._s.SCARD_STATE_UNAWARE, 0)
            if event is None or not self._present(event) or self._handed_out != (session.reader_name, event >> 16):
                self._handed_out = None
                return True
            self._wait_change(session.reader_name, event, min(remaining, WAIT_SLICE))
        return False

    def _present(self, event: int) -> bool:
        s = self._s
        return bool(event & s.SCARD_STATE_PRESENT) and not event & s.SCARD_STATE_MUTE

    def _wait_change(self, name: str, current: int, timeout: float) -> int | None:
        """Block until ``name`` leaves state ``current`` or ``timeout``; its event state
        (pcsc-lite's event counter in the high 16 bits), or None when the reader or pcscd
        vanished (``state`` updated accordingly)."""
        s = self._s
        current &= ~s.SCARD_STATE_CHANGED
        hresult, result = s.SCardGetStatusChange(self._context, int(timeout * 1000), [(name, current)])
        if hresult == s.SCARD_S_SUCCESS:
            return result[0][1] & ~s.SCARD_STATE_CHANGED
        if hresult == s.SCARD_E_TIMEOUT:
            return current
        if hresult in (s.SCARD_E_UNKNOWN_READER, s.SCARD_E_READER_UNAVAILABLE):
            self.state = ReaderState.NO_READER
            return None
        self._service_down(_message(s, hresult))
        return None

    def _connect(self, name: str):
        s = self._s
        hresult, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        if hresult != s.SCARD_S_SUCCESS:
            self._service_down(_message(s, hresult))
            return None
        # Exclusive: no other process may slip an APDU in between our VERIFY and READ.
        hresult, card, protocol = s.SCardConnect(context, name, s.SCARD_SHARE_EXCLUSIVE,
                                                 s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1)
        if hresult != s.SCARD_S_SUCCESS:
            log.info("connect to %s failed: %s", name, _message(s, hresult))
            s.SCardReleaseContext(context)
            return None
        hresult, _reader, _state, _protocol, atr = s.SCardStatus(card)
        return PcscSession(s, context, card, protocol, bytes(atr or b""), name, self.transmit_timeout)

    def _close_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def close(self) -> None:
        self._close_session()
        self._drop_context()


def open_reader(section):
    """The reader ``[reader]`` asks for: ``PcscReader`` for "pcsc", ``EmulatorReader`` for "emulator"."""
    if section.backend == "emulator":
        from kiosk.nfc.emulator import EmulatorReader

        return EmulatorReader()
    return PcscReader(section.name)
