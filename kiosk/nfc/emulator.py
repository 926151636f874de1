"""A virtual My Number Card, an in-process reader for it, and a vpcd client.

``VirtualCard`` answers the APDUs the kiosk sends with the card's documented behaviour
(docs/card.md): three applications, PIN-gated EF 0002, a retry counter, 照合番号B, the JPKI
authentication certificate, the reader's GET UID. It records every command in ``apdus`` and
logs a WARNING if anyone selects an EF that holds (or derives from) the individual number.
Fault switches make it blocked, broken, truncated, slow or silent; ``tamper`` replaces any
answer for hostile-input tests.

Three ways to use it:
- ``card.process(apdu)`` directly;
- ``EmulatorReader``: same interface as ``PcscReader`` plus ``insert(card)``/``remove()``,
  for fast unit tests and ``kiosk run --simulate``;
- ``VpcdCard(card, port)``: the card on a vsmartcard-vpcd virtual reader, so that
  pyscard -> pcscd -> vpcd -> this card runs for real.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from kiosk.nfc import apdu, tlv
from kiosk.nfc.reader import CardRemovedError, CardSession, ReaderState, TRANSMIT_TIMEOUT

log = logging.getLogger(__name__)

TEXT_AID = bytes.fromhex("D3921000310001010408")
JPKI_AID = bytes.fromhex("D392F000260100000001")
VISUAL_AID = bytes.fromhex("D3921000310001010402")
UNKNOWN_AID = bytes.fromhex("D3921000310001010100")
# Contactless ATR listed for the card in pcsc-tools' smartcard_list.txt.
MYNUMBER_ATR = bytes.fromhex("3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F")
# EFs of the input-support AP that hold or derive from the individual number.
NUMBER_EFS = (0x0001, 0x0003, 0x0014)

PIN_EF, CODE_B_EF, BASIC_EF = 0x0011, 0x0015, 0x0002
AUTH_CERT_EF, AUTH_CA_EF, TOKEN_EF, AUTH_PIN_EF = 0x000A, 0x000B, 0x0006, 0x0018


def encode_basic_info(name: str, address: str, birth_date: date, sex: str) -> bytes:
    """EF 0002: FF20 { DF21 offsets, DF22 name, DF23 address, DF24 YYYYMMDD, DF25 sex }."""
    body = [tlv.encode(0xDF22, name.encode()), tlv.encode(0xDF23, address.encode()),
            tlv.encode(0xDF24, birth_date.strftime("%Y%m%d").encode()), tlv.encode(0xDF25, sex.encode())]
    inner_len = 11 + sum(map(len, body))  # DF21 08 + 8 offset bytes come first
    outer_head = len(tlv.encode(0xFF20, bytes(inner_len))) - inner_len
    offsets, pos = [], outer_head + 11
    for part in body:
        offsets.append(pos)
        pos += len(part)
    header = tlv.encode(0xDF21, b"".join(o.to_bytes(2, "big") for o in offsets))
    return tlv.encode(0xFF20, header + b"".join(body))


def fake_certificate(seed: bytes, size: int = 900) -> bytes:
    """A deterministic DER-shaped blob (``30 82 hh ll`` + filler) standing in for the X.509
    authentication certificate; unique per seed so staff keys differ per card."""
    filler = b""
    while len(filler) < size - 4:
        filler += hashlib.sha256(seed + len(filler).to_bytes(4, "big")).digest()
    return bytes([0x30, 0x82]) + (size - 4).to_bytes(2, "big") + filler[:size - 4]


@dataclass(frozen=True)
class CityAp:
    """A city card application in the free area (AP方式): its AID, the EF holding the staff
    number and optionally a PIN EF with the PIN that opens it."""

    aid: bytes
    ef: int
    content: bytes
    pin_ef: int | None = None
    pin: str = ""


@dataclass
class VirtualCard:
    name: str = "デジタル 太郎"
    address: str = "宮崎県都城市姫城町6街区21号"
    birth_date: date = date(1980, 4, 1)
    sex: str = "1"
    pin: str = "1234"
    pin_tries: int = 3
    code_b: str = ""  # 照合番号B; default: birth YYMMDD + expiry year 2034 + "1234"
    auth_cert: bytes | None = None
    badge_uid: bytes | None = bytes.fromhex("0A1B2C3D")
    city_ap: CityAp | None = None
    atr: bytes = MYNUMBER_ATR
    # fault switches
    blocked_sw: int = apdu.SW_REF_DATA_BLOCKED  # what VERIFY answers once blocked
    basic_info_override: bytes | None = None  # raw EF 0002 content (broken TLV)
    truncate_basic_info: int | None = None  # serve only this many bytes of EF 0002
    delay: float = 0.0  # seconds before every answer
    silent: bool = False  # never answer (until removed)
    tamper: Callable[[bytes, bytes], bytes | None] | None = None  # (command, answer) -> new answer
    apdus: list[bytes] = field(default_factory=list)

    PIN_MAX = 3
    CODE_B_MAX = 10  # real limit unconfirmed

    def __post_init__(self) -> None:
        if not self.code_b:
            self.code_b = self.birth_date.strftime("%y%m%d") + "2034" + "1234"
        if self.auth_cert is None:
            self.auth_cert = fake_certificate(self.name.encode() + self.birth_date.isoformat().encode())
        self.code_b_tries = self.CODE_B_MAX
        self._gone = threading.Event()
        self.reset()

    # state

    def reset(self) -> None:
        """Power cycle / removal: no DF, no EF, nothing verified."""
        self._df: bytes | None = None
        self._ef: int | None = None
        self._verified: set[tuple[bytes, int]] = set()

    def removed(self) -> None:
        self._gone.set()
        self.reset()

    def inserted(self) -> None:
        self._gone.clear()
        self.reset()

    def selected(self, fid: int, aid: bytes = TEXT_AID) -> bool:
        """Whether a SELECT of ``fid`` under ``aid`` was ever received (for test assertions)."""
        current = None
        for command in self.apdus:
            if command[:4] == bytes.fromhex("00A4040C"):
                current = command[5:5 + command[4]]
            elif command[:4] == bytes.fromhex("00A4020C") and command[5:7] == fid.to_bytes(2, "big") and current == aid:
                return True
        return False

    # files

    def _files(self) -> dict[bytes, dict[int, bytes]]:
        basic = self.basic_info_override
        if basic is None:
            basic = encode_basic_info(self.name, self.address, self.birth_date, self.sex)
        if self.truncate_basic_info is not None:
            basic = basic[:self.truncate_basic_info]
        files = {
            TEXT_AID: {BASIC_EF: basic, 0x0001: b"\xd0\x0c" + b"0" * 12 + b"\xff" * 3,
                       0x0003: b"\xff\x30\x00", 0x0005: bytes.fromhex("FF400ADF4102000ADF420400000000")},
            JPKI_AID: {AUTH_CERT_EF: self.auth_cert or b"", AUTH_CA_EF: fake_certificate(b"ca", 1000),
                       TOKEN_EF: b"JPKIAPICCTOKEN2".ljust(32, b" ")},
            VISUAL_AID: {}, UNKNOWN_AID: {},
        }
        if self.city_ap is not None:
            files[self.city_ap.aid] = {self.city_ap.ef: self.city_ap.content}
        return files

    def _pin_files(self) -> dict[tuple[bytes, int], str]:
        pins = {(TEXT_AID, PIN_EF): "pin", (TEXT_AID, CODE_B_EF): "code_b", (TEXT_AID, 0x0014): "pin_a",
                (JPKI_AID, AUTH_PIN_EF): "auth"}
        if self.city_ap is not None and self.city_ap.pin_ef is not None:
            pins[(self.city_ap.aid, self.city_ap.pin_ef)] = "city"
        return pins

    def _protected(self, df: bytes, ef: int) -> tuple[int, ...] | None:
        """PIN EFs any one of which opens ``ef``; None if it is free to read."""
        if df == TEXT_AID and ef in (BASIC_EF, 0x0001, 0x0003):
            return (PIN_EF, CODE_B_EF) if ef == BASIC_EF else (PIN_EF,)
        if self.city_ap is not None and df == self.city_ap.aid and self.city_ap.pin_ef is not None:
            return (self.city_ap.pin_ef,)
        return None

    # APDUs

    def process(self, command: bytes) -> bytes | None:
        """The response APDU (data + SW) to ``command``; None when the card is silent."""
        self.apdus.append(bytes(command))
        if self.delay:
            self._gone.wait(self.delay)
        if self.silent:
            self._gone.wait()
            return None
        answer = self._answer(bytes(command))
        if self.tamper is not None:
            replaced = self.tamper(bytes(command), answer)
            answer = answer if replaced is None else replaced
        return answer

    def _answer(self, c: bytes) -> bytes:
        if len(c) < 4:
            return _sw(0x6700)
        if c[:4] == bytes.fromhex("FFCA0000"):
            return self.badge_uid + _sw(apdu.SW_OK) if self.badge_uid else _sw(apdu.SW_FUNC_NOT_SUPPORTED)
        if c[0] not in (0x00, 0x80):
            return _sw(0x6881 if c[0] & 0x03 else apdu.SW_CLA_NOT_SUPPORTED)
        handler = {0xA4: self._select, 0x20: self._verify, 0xB0: self._read_binary}.get(c[1])
        return handler(c) if handler else _sw(apdu.SW_INS_NOT_SUPPORTED)

    def _select(self, c: bytes) -> bytes:
        data = c[5:5 + c[4]] if len(c) > 5 else b""
        if len(data) != (c[4] if len(c) > 4 else 0):
            return _sw(0x6700)
        files = self._files()
        if c[2] == 0x04:
            if data not in files:
                return _sw(apdu.SW_FILE_NOT_FOUND)
            if data != self._df:
                self._verified.clear()  # verified state is per DF
            self._df, self._ef = data, None
            return _sw(apdu.SW_OK)
        if c[2] == 0x02 and len(data) == 2 and self._df is not None:
            fid = int.from_bytes(data, "big")
            if self._df == TEXT_AID and fid in NUMBER_EFS:
                log.warning("EF %04X of the input-support AP selected: the individual number must never be read", fid)
            if fid not in files[self._df] and (self._df, fid) not in self._pin_files():
                return _sw(apdu.SW_FILE_NOT_FOUND)
            self._ef = fid
            return _sw(apdu.SW_OK)
        return _sw(apdu.SW_FILE_NOT_FOUND if c[2] == 0x02 else apdu.SW_WRONG_P1P2)

    def _verify(self, c: bytes) -> bytes:
        kind = self._pin_files().get((self._df, self._ef)) if self._df else None
        if kind is None:
            return _sw(apdu.SW_NO_CURRENT_EF)
        if kind == "code_b":
            secret, tries = self.code_b, self.code_b_tries
        elif kind == "city":
            secret, tries = self.city_ap.pin, self.PIN_MAX
        else:  # PIN A and the JPKI auth PIN share the PIN here; the kiosk never sends them
            secret, tries = self.pin, self.pin_tries
        if len(c) <= 4:
            return _sw(self.blocked_sw if tries == 0 else 0x63C0 | tries)
        if tries == 0:
            return _sw(self.blocked_sw)
        given = c[5:5 + c[4]]
        if given == secret.encode():
            tries = self.CODE_B_MAX if kind == "code_b" else self.PIN_MAX
            self._verified.add((self._df, self._ef))
            answer = _sw(apdu.SW_OK)
        else:
            tries -= 1
            answer = _sw(0x63C0 | tries)
        if kind == "code_b":
            self.code_b_tries = tries
        elif kind != "city":
            self.pin_tries = tries
        return answer

    def _read_binary(self, c: bytes) -> bytes:
        if c[2] & 0x80:
            return _sw(apdu.SW_WRONG_P1P2)  # short-EF addressing is not emulated
        if self._df is None or self._ef is None or self._ef not in self._files()[self._df]:
            return _sw(apdu.SW_NO_CURRENT_EF)
        needed = self._protected(self._df, self._ef)
        if needed and not any((self._df, pin) in self._verified for pin in needed):
            return _sw(apdu.SW_SECURITY_NOT_SATISFIED)
        content = self._files()[self._df][self._ef]
        offset = (c[2] << 8) | c[3]
        length = (c[4] or 256) if len(c) > 4 else 256
        if offset > len(content):
            return _sw(apdu.SW_OFFSET_BEYOND_EF)
        return content[offset:offset + length] + _sw(apdu.SW_OK)


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


# --- in process ------------------------------------------------------------------------------

class EmulatorSession(CardSession):
    def __init__(self, card: VirtualCard, timeout: float):
        super().__init__(card.atr, "Emulator", timeout)
        self.card = card
        self.removed = False

    def _exchange(self, command: bytes) -> bytes:
        if self.removed:
            raise CardRemovedError("card removed / カードが離れました")
        answer = self.card.process(command)
        if self.removed:
            raise CardRemovedError("card removed / カードが離れました")
        return answer


class EmulatorReader:
    """The ``PcscReader`` interface over a ``VirtualCard`` put on it with ``insert``."""

    def __init__(self, *, transmit_timeout: float = TRANSMIT_TIMEOUT):
        self.state = ReaderState.READY
        self.transmit_timeout = transmit_timeout
        self._changed = threading.Condition()
        self._card: VirtualCard | None = None
        self._session: EmulatorSession | None = None
        self._handed_out = False

    def readers(self) -> list[str]:
        return ["Emulator"]

    def insert(self, card: VirtualCard) -> None:
        with self._changed:
            self._drop()
            card.inserted()
            self._card, self._handed_out = card, False
            self._changed.notify_all()

    def remove(self) -> None:
        with self._changed:
            self._drop()
            self._changed.notify_all()

    def _drop(self) -> None:
        if self._session is not None:
            self._session.removed = True
        if self._card is not None:
            self._card.removed()
        self._card = self._session = None

    def wait_for_card(self, timeout: float) -> EmulatorSession | None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._card is not None and not self._handed_out, timeout):
                return None
            self._handed_out = True
            self._session = EmulatorSession(self._card, self.transmit_timeout)
            return self._session

    def wait_for_removal(self, session: EmulatorSession, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: session.removed, timeout)

    def close(self) -> None:
        self.remove()


# --- vpcd ------------------------------------------------------------------------------------

VPCD_OFF, VPCD_ON, VPCD_RESET, VPCD_ATR = 0, 1, 2, 4


class VpcdCard:
    """Puts ``card`` on a vsmartcard-vpcd reader listening on ``port``: connected = present.

    vpcd frames every message as a 2-byte big-endian length and the body; a 1-byte body is a
    control code. vpcd writes length and body separately, so without TCP_QUICKACK before each
    recv Nagle plus delayed ACK stall every exchange by ~40 ms.
    """

    def __init__(self, card: VirtualCard, port: int, host: str = "127.0.0.1"):
        self.card, self.port, self.host = card, port, host
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def insert(self, timeout: float = 5.0) -> None:
        """Connect to vpcd (retrying while pcscd starts up); raises OSError after ``timeout``."""
        self.remove()
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.card.inserted()
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="vpcd-card", daemon=True)
        self._thread.start()

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            self.card.removed()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _serve(self, sock: socket.socket) -> None:
        try:
            while (message := _recv_message(sock)) is not None:
                if len(message) == 1:
                    if message[0] == VPCD_ATR:
                        _send_message(sock, self.card.atr)
                    elif message[0] in (VPCD_OFF, VPCD_ON, VPCD_RESET):
                        self.card.reset()
                    continue
                answer = self.card.process(message)
                if answer is None:
                    return  # silent card: removal ends it
                _send_message(sock, answer)
        except OSError:
            pass  # pcscd went away or we were removed


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv_message(sock: socket.socket) -> bytes | None:
    head = _recv_exact(sock, 2)
    if head is None:
        return None
    return _recv_exact(sock, struct.unpack(">H", head)[0])


def _send_message(sock: socket.socket, body: bytes) -> None:
    sock.sendall(struct.pack(">H", len(body)) + body)
