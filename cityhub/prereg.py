"""`cityhub prereg`: shelter pre-registration QR cards, from a CSV or from a web form.

    cityhub prereg make households.csv --key /etc/cityhub/prereg.key --out cards/
    cityhub prereg web --key /etc/cityhub/prereg.key --bind 0.0.0.0 --port 8088

The signing key (Ed25519, base64, mode 0600) is made on first use and never replaced; its
public half goes into every shelter stand's ``[hub] prereg_public_key`` (printed by both
commands). Each household gets a printable PNG card: the QR (kiosk.qrcodes, signed, checked
offline by the stands) with the members' names, and the registration id.

CSV (UTF-8, header row; one row per person; rows with the same ``household`` form one card)::

    household,name,kana,birth_date,sex,needs
    1,山田 太郎,ヤマダ タロウ,1950-03-04,1,elderly;medical_device
    1,山田 花子,やまだ はなこ,1952-05-06,女,

``sex``: 1/2/9 (or 男/女/その他, M/F); ``needs``: ``;``-separated from elderly, disability,
pregnancy, infant, medical_device, allergy_diet, language. Kana may be hiragana or katakana.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import os
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import qrcode
from nacl.signing import SigningKey
from PIL import Image, ImageDraw, ImageFont

from kiosk import qrcodes
from kiosk.qrcodes import Prereg, PreregMember

DEFAULT_KEY = Path("/etc/cityhub/prereg.key")
SEXES = {"1": "1", "2": "2", "9": "9", "0": "0", "男": "1", "女": "2", "その他": "9", "m": "1", "f": "2", "": "0"}
MAX_FORM_BYTES = 64 * 1024
FORM_MEMBERS = 6


class PreregError(ValueError):
    """Input that cannot become a card; the message says where and why."""


# --- key ---------------------------------------------------------------------------------------

def signing_key(path: Path) -> SigningKey:
    """The pre-registration signing key at ``path``, made (mode 0600) if there is none."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            return SigningKey(base64.b64decode(path.read_text().strip(), validate=True))
        except (ValueError, TypeError) as exc:
            raise PreregError(f"{path}: not a pre-registration key: {exc}") from None
    key = SigningKey.generate()
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(bytes(key)).decode("ascii") + "\n")
        out.flush()
        os.fsync(out.fileno())
    return key


# --- households ---------------------------------------------------------------------------------

def member(name: str, kana: str, birth: str, sex: str, needs: list[str], where: str) -> PreregMember:
    """One person from text fields, checked; ``where`` prefixes every error."""
    name, kana = name.strip(), _katakana(kana.strip())
    if not name:
        raise PreregError(f"{where}: name is empty")
    if len(name.encode()) > 255 or len(kana) > 100:
        raise PreregError(f"{where}: name or kana too long")
    try:
        born = date.fromisoformat(birth.strip())
    except ValueError:
        raise PreregError(f"{where}: birth date {birth.strip()[:20]!r} is not YYYY-MM-DD") from None
    if not date(1900, 1, 1) <= born <= date.today():
        raise PreregError(f"{where}: birth date {born} is out of range")
    code = SEXES.get(sex.strip().lower())
    if code is None:
        raise PreregError(f"{where}: sex {sex.strip()[:10]!r} must be 1, 2, 9, 男, 女 or その他")
    unknown = [n for n in needs if n not in qrcodes.NEEDS]
    if unknown:
        raise PreregError(f"{where}: unknown need {unknown[0][:30]!r} (allowed: {', '.join(qrcodes.NEEDS)})")
    return PreregMember(name, kana, born, code, tuple(n for n in qrcodes.NEEDS if n in needs))


def _katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text).replace("\u3000", " ")


def read_csv(raw: bytes) -> list[tuple[str, Prereg]]:
    """(household label, Prereg with a new registration id) for each household in the file."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PreregError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        return _households(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise PreregError(f"not a readable CSV: {exc}") from None


def _households(rows: csv.DictReader) -> list[tuple[str, Prereg]]:
    wanted = ["household", "name", "kana", "birth_date", "sex", "needs"]
    if rows.fieldnames is None or [f.strip() for f in rows.fieldnames] != wanted:
        raise PreregError(f"line 1: the header must be {','.join(wanted)}")
    households: dict[str, list[PreregMember]] = {}
    for row in rows:
        number = rows.line_num
        if None in row or any(v is None for v in row.values()):
            raise PreregError(f"line {number}: expected {len(wanted)} columns")
        label = row["household"].strip()
        if not label:
            raise PreregError(f"line {number}: household is empty")
        needs = [n.strip() for n in row["needs"].split(";") if n.strip()]
        households.setdefault(label, []).append(
            member(row["name"], row["kana"], row["birth_date"], row["sex"], needs, f"line {number}"))
    if not households:
        raise PreregError("no households in the file")
    return [(label, household(people, label)) for label, people in households.items()]


def household(people: list[PreregMember], label: str = "") -> Prereg:
    if len(people) > qrcodes.MAX_MEMBERS:
        raise PreregError(f"household {label[:20]!r}: at most {qrcodes.MAX_MEMBERS} people per card")
    return Prereg(qrcodes.new_reg_id(), tuple(people))


# --- the printable card ---------------------------------------------------------------------------

def card_png(prereg: Prereg, key: SigningKey, font_path: str) -> bytes:
    """A card (about A6 at 150 dpi) with the QR, the household's names and the registration id."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(qrcodes.encode(prereg, key))
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    lines = 4 + len(prereg.members)
    card = Image.new("RGB", (code.width + 520, max(code.height, 70 + 44 * lines)), "white")
    card.paste(code, (0, 0))
    draw = ImageDraw.Draw(card)
    big, small = ImageFont.truetype(font_path, 30), ImageFont.truetype(font_path, 20)
    x, y = code.width + 10, 20
    draw.text((x, y), "避難所 事前登録カード", font=big, fill="black")
    draw.text((x, y + 40), "Shelter pre-registration card", font=small, fill="black")
    y += 90
    for person in prereg.members:
        draw.text((x, y), f"{person.name}（{person.kana}）", font=small, fill="black")
        y += 32
    draw.text((x, y + 10), f"登録番号 / ID: {prereg.reg_id}", font=small, fill="black")
    draw.text((x, y + 44), "受付でQRコードをかざしてください / Show this at the shelter",
              font=ImageFont.truetype(font_path, 16), fill="black")
    out = io.BytesIO()
    card.save(out, format="PNG")
    return out.getvalue()


def japanese_font() -> str:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from kiosk.display.theme import load_font_path  # pygame: only when a card is drawn
    return load_font_path()


# --- web form -------------------------------------------------------------------------------------

def form_page(error: str = "") -> str:
    rows = "".join(
        f"<tr><td>{i + 1}</td><td><input name='name{i}'></td><td><input name='kana{i}'></td>"
        f"<td><input type='date' name='birth{i}'></td><td><select name='sex{i}'><option value='0'>-</option>"
        "<option value='1'>男 M</option><option value='2'>女 F</option><option value='9'>その他</option></select></td>"
        f"<td>{''.join(f'<label><input type=checkbox name=need{i} value={n}>{n}</label> ' for n in qrcodes.NEEDS)}</td></tr>"
        for i in range(FORM_MEMBERS))
    problem = f"<p style='color:#b00'>{html.escape(error)}</p>" if error else ""
    return ("<!doctype html><meta charset=utf-8><title>避難所 事前登録</title>"
            "<h1>避難所 事前登録 / Shelter pre-registration</h1>" + problem +
            "<form method=post><table><tr><th></th><th>氏名 Name</th><th>フリガナ Kana</th><th>生年月日 Birth date</th>"
            "<th>性別 Sex</th><th>配慮 Needs</th></tr>" + rows +
            "</table><button>登録してQRコードを作る / Register</button></form>")


def household_from_form(body: bytes) -> Prereg:
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=200)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PreregError(f"the form could not be read: {exc}") from None
    first = lambda key: (fields.get(key) or [""])[0]  # noqa: E731
    people = [member(first(f"name{i}"), first(f"kana{i}"), first(f"birth{i}"), first(f"sex{i}"),
                     fields.get(f"need{i}", []), f"person {i + 1}")
              for i in range(FORM_MEMBERS) if first(f"name{i}").strip()]
    if not people:
        raise PreregError("enter at least one person / 一人以上入力してください")
    return household(people)


def make_handler(key: SigningKey, font_path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send(200, form_page())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_FORM_BYTES:
                self._send(400, form_page("the form is empty or too large"))
                return
            try:
                prereg = household_from_form(self.rfile.read(length))
            except PreregError as exc:
                self._send(400, form_page(str(exc)))
                return
            png = base64.b64encode(card_png(prereg, key, font_path)).decode("ascii")
            self._send(200, "<!doctype html><meta charset=utf-8><title>登録完了</title>"
                            f"<h1>登録しました / Registered: {prereg.reg_id}</h1>"
                            f"<img alt='QR' src='data:image/png;base64,{png}'>"
                            f"<p><a download='{prereg.reg_id}.png' href='data:image/png;base64,{png}'>"
                            "カードを保存 / Save the card</a></p>")

        def _send(self, status: int, page: str) -> None:
            body = page.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - no personal data in logs
            pass

    return Handler


# --- command line ------------------------------------------------------------------------------

def main(argv: list[str], config_path: Path | None) -> int:
    parser = argparse.ArgumentParser(prog="cityhub prereg", description="shelter pre-registration QR cards")
    parser.add_argument("action", choices=["make", "web"])
    parser.add_argument("csv", nargs="?", type=Path, help="households.csv (for make)")
    parser.add_argument("--key", type=Path, default=DEFAULT_KEY, help=f"signing key file (default {DEFAULT_KEY})")
    parser.add_argument("--out", type=Path, default=Path("prereg-cards"), help="where make writes the PNG cards")
    parser.add_argument("--bind", default="127.0.0.1", help="address the web form listens on")
    parser.add_argument("--port", type=int, default=8088)
    args = parser.parse_args(argv)
    try:
        key = signing_key(args.key)
        print(f"[hub] prereg_public_key = \"{qrcodes.public_key_text(key)}\"")
        if args.action == "make":
            return _make(args, key)
        server = ThreadingHTTPServer((args.bind, args.port), make_handler(key, japanese_font()))
    except (PreregError, OSError) as exc:
        print(f"cityhub prereg: {exc}")
        return 2
    print(f"pre-registration form on http://{args.bind}:{server.server_address[1]}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _make(args, key: SigningKey) -> int:
    if args.csv is None:
        raise PreregError("make needs the CSV file")
    households = read_csv(args.csv.read_bytes())
    font_path = japanese_font()
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "index.csv", "w", encoding="utf-8", newline="") as index:
        out = csv.writer(index)
        out.writerow(["household", "reg_id", "card"])
        for label, prereg in households:
            name = f"{prereg.reg_id}.png"
            (args.out / name).write_bytes(card_png(prereg, key, font_path))
            out.writerow([label, prereg.reg_id, name])
    print(f"{len(households)} card(s) in {args.out}/ (index.csv maps households to registration ids)")
    return 0
