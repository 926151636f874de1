"""``kiosk card probe [--pin] [--reader NAME] [--wait S]``: field diagnostics for a technician.

Lists the readers, waits for a card, prints the ATR, which applications answer, the PIN tries
left (read without VERIFY, no try used) and every APDU with its time. With ``--pin`` it asks for
the PIN (never echoed or logged), VERIFYs it once and prints the 4 details. Works without a
config file (defaults: pcsc backend, first reader).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from kiosk import config
from kiosk.nfc import apdu
from kiosk.nfc.mynumber import JPKI_AID, TEXT_AID, VISUAL_AID, MyNumberCard
from kiosk.nfc.reader import CardRemovedError, NfcError, ReaderState, open_reader

APPLICATIONS = [("券面事項入力補助AP / input support", TEXT_AID), ("公的個人認証 JPKI", JPKI_AID),
                ("券面事項確認AP / card face", VISUAL_AID)]
STATE_TEXT = {ReaderState.NO_READER: "リーダーがありません / no reader found",
              ReaderState.SERVICE_DOWN: "カードサービス停止中 / card service (pcscd) not running"}


def main(argv: list[str], config_path: Path | None, ask_pin=getpass.getpass, out=None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="kiosk card", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["probe"])
    parser.add_argument("--pin", action="store_true", help="ask for the PIN and read the 4 details")
    parser.add_argument("--reader", default=None, help="part of the reader's name (default: from config)")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a card")
    args = parser.parse_args(argv)
    section = _reader_section(config_path, out)
    if args.reader is not None:
        section = config.ReaderSection(backend=section.backend, name=args.reader)
    reader = open_reader(section)
    if section.backend == "emulator":
        from kiosk.nfc.emulator import VirtualCard

        reader.insert(VirtualCard())
    try:
        return _probe(reader, args, ask_pin, out)
    finally:
        reader.close()


def _reader_section(config_path: Path | None, out) -> config.ReaderSection:
    if config_path is None or not Path(config_path).exists():
        print(f"設定ファイルなし / no config file ({config_path}): using defaults", file=out)
        return config.ReaderSection()
    return config.load(config_path).reader


def _probe(reader, args, ask_pin, out) -> int:
    names = reader.readers()
    print("readers:", ", ".join(names) if names else "(none)", file=out)
    print(f"カードをかざしてください / place the card on the reader (waiting {args.wait:g} s)", file=out, flush=True)
    session = reader.wait_for_card(args.wait)
    if session is None:
        print(STATE_TEXT.get(reader.state, "カードがありません / no card within the wait"), file=out)
        return 2
    print(f"reader: {session.reader_name}\nATR: {session.atr.hex(' ').upper()}", file=out)
    try:
        _inspect(MyNumberCard(session), args.pin, ask_pin, out)
    except CardRemovedError:
        print("カードが離れました / card removed during the probe", file=out)
        return 1
    except NfcError as exc:
        print(f"error: {exc}", file=out)
        return 1
    finally:
        print("APDU timings:", file=out)
        for command, sw, ms in session.timings:
            print(f"  {ms:7.1f} ms  {apdu.sw_text(sw)}  {command}", file=out)
        session.close()
    return 0


def _inspect(card: MyNumberCard, with_pin: bool, ask_pin, out) -> None:
    answering = {aid for label, aid in APPLICATIONS if card.has_application(aid)}
    for label, aid in APPLICATIONS:
        print(f"  {'yes' if aid in answering else 'no ':3}  {label}  {aid.hex().upper()}", file=out)
    if TEXT_AID not in answering:
        print("マイナンバーカードではありません / not a My Number Card", file=out)
        return
    tries = card.pin_tries_left()
    print(f"暗証番号の残り回数 / PIN tries left: {tries}", file=out)
    if not with_pin:
        return
    if tries <= 1:
        print("残り1回以下のため照合しません / one try or fewer left: not verifying (visit the city office)", file=out)
        return
    result = card.verify_pin(ask_pin("暗証番号 / PIN (4 digits): "))
    if not result.ok:
        print(f"照合失敗 / PIN {result.status}, tries left: {result.tries_left}", file=out)
        return
    info = card.read_basic_info()
    for label, value in (("氏名 / name", info.name), ("住所 / address", info.address),
                         ("生年月日 / birth date", info.birth_date.isoformat()), ("性別 / sex", info.sex)):
        print(f"  {label}: {value}", file=out)
