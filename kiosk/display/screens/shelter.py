"""The shelter stand's screens; their params come from kiosk/roles/shelter.py.

Japanese first, English beside or under it. Touch targets are at least 56 design px. The PIN
and code B pads never show digits, only dots. The kana keyboard is the traditional 五十音
table, ア column on the right.
"""

from __future__ import annotations

from datetime import date

from kiosk import kana
from kiosk.birthdate import ERA_LABELS, digits_needed
from kiosk.display import theme as th
from kiosk.display.screens import screen
from kiosk.display.screens.common import Canvas, Status, number_pad, status_bar
from kiosk.roles.shelter_text import CARE, CHANNELS, LEVELS, MOVES, PETS, REFUSALS, SEXES, STAYS, labelled

LEVEL_COLOURS = {"open": th.GREEN, "busy": th.BLUE, "crowded": th.AMBER, "full": th.RED, "closed": th.RED,
                 "unknown": th.MUTED}
OPTIONS = {
    "code_b": "照合番号Bで受付 / Use code B",
    "staff_entry": "職員が入力 / Staff entry",
    "cancel": "最初に戻る / Start over",
    "back": "世帯の画面へ / Back to household",
    "retry": "もう一度保存 / Save again",
}
FIELD = (255, 255, 255)


def _pad(canvas: Canvas, x: float, y: float, w: float, h: float) -> None:
    """The shelter role's pads answer to 消す = "delete" and 決定 = "enter"."""
    number_pad(canvas, x, y, w, h, delete="delete", enter="enter", size=32)


def _dots(filled: int, groups: tuple[int, ...]) -> str:
    out, at = [], 0
    for size in groups:
        out.append("".join("●" if at + i < filled else "○" for i in range(size)))
        at += size
    return " ".join(out)


def _kana_keyboard(canvas: Canvas, top: float) -> None:
    """五十音: 10 columns (ア..ワ from the right), 5 rows, then the modifier row."""
    rows = kana.grid()
    cw, ch = 78, 42
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            if key:
                x = 790 - (c + 1) * cw
                canvas.button("kana", key, canvas.rect(x, top + r * ch, cw - 4, ch - 4), key, size=24)
    mods = [(kana.DAKUTEN, "゛濁点"), (kana.HANDAKUTEN, "゜半濁"), (kana.SMALL, "小"), (kana.LONG, "ー"),
            (kana.SPACE, "空白 space"), (kana.DELETE, "削除 delete")]
    widths = (78, 78, 78, 78, 156, 156)
    x = 790 - sum(widths) - 4 * len(widths)
    for (key, label), w in zip(mods, widths):
        canvas.button("kana", label, canvas.rect(x, top + 5 * ch, w, ch - 4), key, size=20)
        x += w + 4


def _people_lines(members: list[dict]) -> str:
    lines = []
    for m in members:
        name = m.get("name") or m.get("kana") or ""
        kana_part = f"（{m['kana']}）" if m.get("kana") and m.get("kana") != name else ""
        how = CHANNELS.get(m.get("channel", ""), ("", ""))[0]
        lines.append(f"{name}{kana_part}  {_birth_label(m.get('birth_date', ''))}  "
                     f"{SEXES.get(m.get('sex', '0'), ('', ''))[0]}  [{how}]")
    return "\n".join(lines)


def _footer(canvas: Canvas, *buttons: tuple[str, str, object]) -> None:
    """A row of buttons along the bottom: (target, label, value)."""
    width = 760 / max(1, len(buttons))
    for i, (target, label, value) in enumerate(buttons):
        primary = target in ("ok", "next")
        canvas.button(target, label, canvas.rect(20 + i * width + 4, 404, width - 8, 70), value, size=22,
                      colour=th.BLUE if primary else th.BUTTON, text_colour=th.WHITE if primary else th.TEXT)


# --- idle and occupancy ---------------------------------------------------------------------

def _occupancy(canvas: Canvas, occupancy: dict, x: float, y: float, w: float) -> None:
    level = occupancy.get("level", "unknown")
    ja, en = LEVELS.get(level, LEVELS["unknown"])
    canvas.fill(LEVEL_COLOURS.get(level, th.MUTED), canvas.rect(x, y, w, 70))
    canvas.text(f"{ja} / {en}", canvas.rect(x + 10, y + 2, w - 20, 40), 30, th.WHITE)
    source = "市サーバー / city server" if occupancy.get("source") == "hub" else "この端末の集計 / this stand's count"
    canvas.text(f"{occupancy.get('headcount', 0)} / {occupancy.get('capacity', 0)} 人  ({source})",
                canvas.rect(x + 10, y + 42, w - 20, 26), 18, th.WHITE)


@screen("shelter", "idle")
def idle(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("避難所 受付 / Shelter reception", canvas.rect(20, 6, 440, 50), 32, align="left")
    canvas.text(status.now.strftime("%H:%M"), canvas.rect(20, 52, 440, 40), 28, th.MUTED, align="left")
    if "occupancy" in params:  # the loop's own return to idle has no params until the role's next word
        _occupancy(canvas, params["occupancy"], 470, 10, 310)
    movement = params.get("mode") == "movement"
    canvas.fill(th.AMBER if movement else th.BLUE, canvas.rect(20, 100, 760, 180))
    if movement:
        ja, en = "外出・戻り・退所: カードかQRをかざしてください", "Going out, back or leaving: tap your card or scan your QR"
    else:
        ja, en = "マイナンバーカードか事前登録QRをかざしてください", "Tap your My Number Card or scan your pre-registration QR"
    canvas.text(ja, canvas.rect(40, 110, 720, 100), 44, th.WHITE)
    canvas.text(en, canvas.rect(40, 210, 720, 60), 26, th.WHITE)
    if movement:
        canvas.button("mode", "受付に戻る / Back to check-in", canvas.rect(20, 296, 370, 130), "intake", size=26)
        canvas.button("by_number", "受付番号で（職員入力の方）\nBy intake number (staff entry)",
                      canvas.rect(410, 296, 370, 130), size=24)
    else:
        canvas.button("staff_entry", "カード・QRがない方\nNo card or QR: staff entry", canvas.rect(20, 296, 370, 130),
                      size=26)
        canvas.button("mode", "外出・戻り・退所\nGoing out / back / leaving", canvas.rect(410, 296, 370, 130),
                      "movement", size=26)
    status_bar(canvas, status)


@screen("shelter", "reading")
def reading(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.BLUE, "読み取り中です", "Reading the card")
    canvas.text("カードを読取機に置いたまま、動かさないでください", canvas.rect(40, 170, 720, 120), 40)
    canvas.text("Keep the card on the reader and hold it still.", canvas.rect(40, 300, 720, 60), 26, th.MUTED)


@screen("shelter", "saving")
def saving(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.BLUE, "保存しています", "Saving")
    canvas.text("しばらくお待ちください / Please wait", canvas.rect(40, 200, 720, 80), 36)


# --- card: PIN, last try, code B, confirmation --------------------------------------------

@screen("shelter", "pin")
def pin(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("暗証番号（数字4桁）を入力してください", canvas.rect(20, 10, 420, 80), 30, align="left")
    canvas.text("Enter the card's 4-digit PIN", canvas.rect(20, 90, 420, 30), 20, th.MUTED, align="left")
    box = canvas.rect(20, 130, 420, 80)
    canvas.fill(FIELD, box)
    canvas.text(_dots(params.get("dots", 0), (4,)), box, 52)
    tries = params.get("tries_left")
    if params.get("wrong"):
        canvas.text(f"暗証番号が違います。あと{tries}回 / Wrong PIN: {tries} tries left",
                    canvas.rect(20, 216, 420, 60), 22, th.RED, align="left")
    elif tries is not None:
        canvas.text(f"あと{tries}回入力できます / {tries} tries left", canvas.rect(20, 216, 420, 40), 22,
                    th.MUTED, align="left")
    canvas.button("code_b", "暗証番号を忘れた\nForgot the PIN", canvas.rect(20, 290, 205, 100), size=22)
    canvas.button("staff_entry", "職員が入力\nStaff entry", canvas.rect(235, 290, 205, 100), size=22)
    canvas.button("cancel", "やめる / Cancel", canvas.rect(20, 400, 420, 70), size=22)
    _pad(canvas, 460, 10, 330, 460)


@screen("shelter", "last_try")
def last_try(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    title = "暗証番号が違います。残り1回です" if params.get("wrong") else "暗証番号の入力は残り1回です"
    canvas.band(th.AMBER, title, "One try left before the PIN locks")
    canvas.text("次に間違えるとロックされ、市役所の窓口での手続きが必要です。ほかの方法でも受付できます。",
                canvas.rect(30, 130, 740, 110), 28)
    canvas.text("If the next PIN is wrong the card locks and must be reset at the city office. "
                "You can also register another way.", canvas.rect(30, 240, 740, 70), 20, th.MUTED)
    buttons = [("pin_anyway", "暗証番号を入力する\nEnter the PIN"), ("code_b", "照合番号Bで\nUse code B"),
               ("staff_entry", "職員が入力\nStaff entry"), ("cancel", "やめる\nCancel")]
    for i, (target, label) in enumerate(buttons):
        canvas.button(target, label, canvas.rect(20 + i * 192, 330, 184, 110), size=22)


@screen("shelter", "code_b")
def code_b(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("照合番号B（14桁）", canvas.rect(20, 6, 420, 50), 32, align="left")
    canvas.text("カード表面の「生年月日」西暦の下2桁と月日（6桁）＋「有効期限」の西暦（4桁）＋「セキュリティコード」（4桁）",
                canvas.rect(20, 56, 420, 90), 18, align="left", valign="top")
    canvas.text("From the card front: birth date YYMMDD + expiry year + security code",
                canvas.rect(20, 146, 420, 40), 16, th.MUTED, align="left")
    box = canvas.rect(20, 190, 420, 70)
    canvas.fill(FIELD, box)
    canvas.text(_dots(params.get("dots", 0), (6, 4, 4)), box, 24)
    if not params.get("card_present", True):
        canvas.text("カードを読取機に置いてください / Put the card on the reader", canvas.rect(20, 266, 420, 50),
                    22, th.RED, align="left")
    canvas.button("staff_entry", "職員が入力 / Staff entry", canvas.rect(20, 320, 420, 70), size=22)
    canvas.button("cancel", "やめる / Cancel", canvas.rect(20, 400, 420, 70), size=22)
    _pad(canvas, 460, 10, 330, 460)


def _birth_label(iso: str) -> str:
    try:
        born = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{born.year}年{born.month}月{born.day}日"


@screen("shelter", "member_confirm")
def member_confirm(canvas: Canvas, params: dict, status: Status) -> None:
    member = params["member"]
    canvas.fill(th.BACKGROUND)
    canvas.band(th.BLUE, "この内容でよろしいですか", "Is this correct?", height=100)
    rows = [("氏名 Name", member.get("name", "")), ("住所 Address", member.get("address", "")),
            ("生年月日 Birth date", _birth_label(member.get("birth_date", ""))),
            ("性別 Sex", " / ".join(SEXES.get(member.get("sex", "0"), ("", ""))))]
    for i, (label, value) in enumerate(rows):
        canvas.text(label, canvas.rect(30, 110 + i * 70, 200, 64), 20, th.MUTED, align="left")
        canvas.text(value, canvas.rect(230, 110 + i * 70, 540, 64), 32, align="left")
    _footer(canvas, ("back", "いいえ / No", None), ("ok", "はい / Yes", None))


# --- staff entry ------------------------------------------------------------------------------

@screen("shelter", "staff_name")
def staff_name(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("お名前（カタカナ） / Name in katakana", canvas.rect(20, 4, 560, 40), 26, align="left")
    box = canvas.rect(20, 46, 560, 56)
    canvas.fill(FIELD, box)
    canvas.text(params.get("text") or "", box, 36, align="left")
    if params.get("error"):
        canvas.text(REFUSALS[params["error"]][0], canvas.rect(20, 104, 560, 26), 18, th.RED, align="left")
    canvas.button("next", "次へ / Next", canvas.rect(600, 6, 190, 60), size=22, colour=th.BLUE, text_colour=th.WHITE)
    canvas.button("cancel", "やめる / Cancel", canvas.rect(600, 72, 190, 50), size=20)
    _kana_keyboard(canvas, 134)
    canvas.text("職員入力は「未確認」として記録されます / Staff entries are recorded as unverified",
                canvas.rect(20, 436, 340, 40), 14, th.MUTED, align="left")


@screen("shelter", "staff_birth")
def staff_birth(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("生年月日 / Birth date", canvas.rect(20, 6, 420, 44), 30, align="left")
    era = params.get("era", "showa")
    for i, key in enumerate(("western", "taisho", "showa", "heisei", "reiwa")):
        canvas.button("era", ERA_LABELS[key], canvas.rect(20 + i * 84, 56, 80, 60), key, size=22,
                      selected=key == era)
    digits, needed = params.get("digits", ""), params.get("needed", digits_needed(era))
    shown = digits.ljust(needed, "_")
    layout = f"{shown[:4]}年{shown[4:6]}月{shown[6:]}日" if needed == 8 else \
        f"{ERA_LABELS[era]}{shown[:2]}年{shown[2:4]}月{shown[4:]}日"
    box = canvas.rect(20, 126, 420, 76)
    canvas.fill(FIELD, box)
    canvas.text(layout, box, 40)
    hint = "例 1950年3月4日 → 19500304" if needed == 8 else "例 昭和25年3月4日 → 250304"
    canvas.text(hint, canvas.rect(20, 206, 420, 30), 18, th.MUTED, align="left")
    if params.get("error"):
        canvas.text(" / ".join(REFUSALS[params["error"]]), canvas.rect(20, 240, 420, 50), 20, th.RED, align="left")
    canvas.button("back", "戻る / Back", canvas.rect(20, 320, 205, 70), size=22)
    canvas.button("cancel", "やめる / Cancel", canvas.rect(235, 320, 205, 70), size=22)
    canvas.button("next", "次へ / Next", canvas.rect(20, 400, 420, 70), size=24, colour=th.BLUE, text_colour=th.WHITE)
    _pad(canvas, 460, 10, 330, 460)


@screen("shelter", "staff_sex")
def staff_sex(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.BLUE, "性別 / Sex", f"{params.get('kana', '')}  {_birth_label(params.get('birth_date', ''))}",
                height=110)
    for i, code in enumerate(("1", "2", "9", "0")):
        ja, en = SEXES[code]
        label = "答えない" if code == "0" else ja
        canvas.button("sex", f"{label}\n{'Not given' if code == '0' else en}",
                      canvas.rect(20 + i * 192, 150, 184, 160), code, size=30)
    _footer(canvas, ("back", "戻る / Back", None), ("cancel", "やめる / Cancel", None))


# --- QR and household -------------------------------------------------------------------------

@screen("shelter", "qr_members")
def qr_members(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    movement = params.get("purpose") == "movement"
    ja = "外出・戻り・退所する方を選んでください" if movement else "今いる方を選んでください"
    en = "Who is going out, back or leaving?" if movement else "Tick the members who are here"
    canvas.band(th.BLUE, ja, en, height=100)
    for i, m in enumerate(params.get("members", [])[:6]):
        rect = canvas.rect(20 + (i % 2) * 385, 110 + (i // 2) * 96, 375, 88)
        mark = "済 added" if m.get("added") else ("✓" if m.get("ticked") else "□")
        canvas.button("tick", f"{mark} {m['name']}\n{m['kana']}  {m['birth_date']}", rect, i, size=24,
                      selected=m.get("ticked"))
    _footer(canvas, ("cancel", "やめる / Cancel", None), ("ok", "決定 / OK", None))


@screen("shelter", "household")
def household(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("世帯 / Household", canvas.rect(20, 6, 300, 44), 30, align="left")
    canvas.text("ほかの方はカードをかざすか、下のボタンで追加 / Tap another card or add below",
                canvas.rect(320, 6, 460, 44), 18, th.MUTED, align="left")
    for i, m in enumerate(params.get("members", [])[:6]):
        rect = canvas.rect(20, 56 + i * 56, 680, 52)
        canvas.fill(FIELD, rect)
        canvas.text(_people_lines([m]), rect.inflate(-20, 0), 24, align="left")
        canvas.button("remove", "削除\nRemove", canvas.rect(706, 56 + i * 56, 74, 52), i, size=18)
    buttons = [("add_staff", "職員入力で追加\nAdd by staff entry", None)]
    if params.get("can_tick_qr"):
        buttons.append(("add_qr", "QRの家族を追加\nAdd from the QR", None))
    buttons += [("cancel", "やめる\nCancel", None), ("next", "次へ\nNext", None)]
    _footer(canvas, *buttons)


@screen("shelter", "needs")
def needs(canvas: Canvas, params: dict, status: Status) -> None:
    member = params["member"]
    canvas.fill(th.BACKGROUND)
    name = member.get("name") or member.get("kana")
    canvas.band(th.BLUE, f"配慮が必要なこと（{params['index'] + 1}/{params['count']}）{name}",
                "Any special needs? Tap all that apply", height=100)
    chosen = set(member.get("needs", []))
    for i, (key, ja, en) in enumerate(params.get("categories", [])[:9]):
        rect = canvas.rect(20 + (i % 3) * 255, 112 + (i // 3) * 96, 245, 88)
        canvas.button("need", f"{'✓' if key in chosen else '□'} {ja}\n{en}", rect, key, size=24,
                      selected=key in chosen)
    _footer(canvas, ("back", "戻る / Back", None), ("next", "次へ / Next", None))


@screen("shelter", "extras")
def extras(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("ペット / Pets", canvas.rect(20, 4, 300, 36), 24, align="left")
    for i, (kind, (ja, en)) in enumerate(PETS.items()):
        x = 20 + i * 255
        canvas.button("pet_minus", "−", canvas.rect(x, 42, 60, 60), kind, size=30)
        canvas.text(f"{ja} {en}\n{params['pets'].get(kind, 0)}", canvas.rect(x + 62, 42, 120, 60), 22)
        canvas.button("pet_plus", "＋", canvas.rect(x + 184, 42, 60, 60), kind, size=30)
    canvas.text("滞在場所 / Where you will stay", canvas.rect(20, 110, 500, 34), 24, align="left")
    for i, (key, (ja, en)) in enumerate(STAYS.items()):
        canvas.button("stay", f"{ja}\n{en}", canvas.rect(20 + i * 192, 146, 184, 76), key, size=22,
                      selected=params.get("stay") == key)
    car = "✓ 車あり / Has a car" if params.get("car") else "□ 車あり / Has a car"
    canvas.button("car", car, canvas.rect(20, 234, 370, 76), size=24, selected=params.get("car"))
    consent = "✓" if params.get("consent") else "□"
    canvas.button("consent", f"{consent} 安否情報の提供に同意する\nShare my safety information",
                  canvas.rect(410, 234, 370, 76), size=22, selected=params.get("consent"))
    canvas.text("安否の問い合わせに、この避難所にいることを答えてよい場合に選んでください / "
                "Tick if we may tell people asking after you that you are here.",
                canvas.rect(20, 318, 760, 76), 16, th.MUTED, align="left")
    _footer(canvas, ("back", "戻る / Back", None), ("next", "次へ / Next", None))


@screen("shelter", "confirm")
def confirm(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.BLUE, "この内容でよろしいですか", "Is this correct?", height=90)
    lines = _people_lines(params.get("members", []))
    canvas.text(lines, canvas.rect(20, 96, 760, 190), 26, align="left", valign="top")
    pets = "、".join(f"{PETS[k][0]}{v}" for k, v in params.get("pets", {}).items()) or "なし"
    stay = STAYS.get(params.get("stay", "shelter"), ("", ""))[0]
    extra = (f"滞在: {stay}　車: {'あり' if params.get('car') else 'なし'}　ペット: {pets}　"
             f"安否情報の提供: {'同意' if params.get('consent') else '同意しない'}")
    canvas.text(extra, canvas.rect(20, 292, 760, 70), 22, align="left")
    needs = sorted({n for m in params.get("members", []) for n in m.get("needs", [])})
    if needs:
        canvas.text("配慮: " + "、".join(labelled(n, CARE)[1] for n in needs), canvas.rect(20, 360, 760, 40), 20,
                    th.AMBER, align="left")
    _footer(canvas, ("edit", "修正 / Edit", None), ("back", "戻る / Back", None), ("ok", "登録する / Register", None))


@screen("shelter", "done")
def done(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    kind = params.get("kind")
    if kind == "admission":
        canvas.band(th.GREEN, "受付しました", "Checked in")
        canvas.text(_people_lines(params.get("members", [])), canvas.rect(30, 130, 740, 200), 28, align="left",
                    valign="top")
        stay = STAYS.get(params.get("stay", "shelter"), ("", ""))
        canvas.text(f"滞在場所 / Staying: {stay[0]} {stay[1]}", canvas.rect(30, 300, 740, 36), 22, align="left")
        numbers = "  ".join(f"{name}: {number}" for name, number in params.get("numbers", []))
        if numbers:  # staff-entered people quote it to go out or leave: large enough to copy down
            canvas.text(f"受付番号 / Intake no.  {numbers}", canvas.rect(30, 334, 540, 48), 32, th.BLUE,
                        align="left")
            canvas.text("外出・退所のときに使います。控えてください / Keep it: you need it to go out or leave",
                        canvas.rect(30, 380, 540, 28), 16, th.BLUE, align="left")
    elif kind == "stock":
        canvas.band(th.GREEN, "在庫を記録しました", "Stock count saved")
    else:
        ja, en = MOVES.get(kind, ("記録", "Recorded"))
        canvas.band(th.GREEN, f"{ja}を記録しました", f"{en}: recorded")
        canvas.text(f"{params.get('people', 1)} 人 / people", canvas.rect(30, 160, 740, 80), 40)
    canvas.text("この画面は自動で消えます / This screen clears itself", canvas.rect(30, 420, 500, 40), 18,
                th.MUTED, align="left")
    canvas.button("ok", "OK", canvas.rect(580, 390, 200, 80), size=28, colour=th.BLUE, text_colour=th.WHITE)


@screen("shelter", "refused")
def refused(canvas: Canvas, params: dict, status: Status) -> None:
    code = params["code"]
    paper = code == "disk_full"
    canvas.fill(th.RED if paper else th.BACKGROUND)
    if not paper:
        canvas.band(th.RED, "受付できませんでした", "Could not continue")
    ja, en = REFUSALS[code]
    colour = th.WHITE if paper else th.TEXT
    canvas.text(ja, canvas.rect(30, 20 if paper else 130, 740, 150), 38, colour)
    canvas.text(en, canvas.rect(30, 180 if paper else 280, 740, 70), 24, th.WHITE if paper else th.MUTED)
    if "qr" in params.get("options", []):
        canvas.text("事前登録QRがあれば、かざしてください / Have a pre-registration QR? Scan it now.",
                    canvas.rect(30, 350, 740, 40), 20, colour)
    buttons = [(o, OPTIONS[o], None) for o in params.get("options", []) if o in OPTIONS]
    _footer(canvas, *buttons)


# --- departures and outings -------------------------------------------------------------------

@screen("shelter", "movement")
def movement(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.AMBER, "外出・戻り・退所", f"Going out, back or leaving ({params.get('people', 1)} 人 / people)",
                height=100)
    for i, kind in enumerate(("out", "back", "leave")):
        ja, en = MOVES[kind]
        canvas.button("kind", f"{ja}\n{en}", canvas.rect(20 + i * 255, 112, 245, 140), kind, size=34,
                      selected=params.get("kind") == kind)
    destination = params.get("destination") or "（任意 / optional）"
    canvas.button("destination", f"行き先 / Destination: {destination}", canvas.rect(20, 268, 760, 70), size=24)
    _footer(canvas, ("cancel", "やめる / Cancel", None), ("ok", "記録する / Record", None))


@screen("shelter", "movement_number")
def movement_number(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("受付番号（6桁） / Intake number", canvas.rect(20, 10, 420, 60), 30, align="left")
    canvas.text("職員入力で受付した方の番号です\nThe number given at a staff-entry check-in",
                canvas.rect(20, 74, 420, 70), 20, th.MUTED, align="left")
    box = canvas.rect(20, 160, 420, 90)
    canvas.fill(FIELD, box)
    canvas.text(params.get("digits", "").ljust(6, "_"), box, 52)
    canvas.button("cancel", "やめる / Cancel", canvas.rect(20, 400, 420, 70), size=22)
    _pad(canvas, 460, 10, 330, 460)


@screen("shelter", "movement_destination")
def movement_destination(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("行き先（カタカナ） / Destination", canvas.rect(20, 4, 560, 40), 26, align="left")
    box = canvas.rect(20, 46, 560, 56)
    canvas.fill(FIELD, box)
    canvas.text(params.get("text") or "", box, 36, align="left")
    canvas.button("ok", "決定 / OK", canvas.rect(600, 6, 190, 60), size=22, colour=th.BLUE, text_colour=th.WHITE)
    canvas.button("back", "戻る / Back", canvas.rect(600, 72, 190, 50), size=20)
    _kana_keyboard(canvas, 134)


# --- admin ------------------------------------------------------------------------------------

@screen("shelter", "admin")
def admin(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("管理 / Admin", canvas.rect(20, 6, 440, 60), 34, align="left")
    _occupancy(canvas, params.get("occupancy", {}), 470, 6, 310)
    current = params.get("occupancy", {}).get("status", "open")
    for i, (key, ja, en) in enumerate((("open", "受付中", "Open"), ("full", "満にする", "Set full"),
                                       ("closed", "受付停止", "Stop intake"))):
        canvas.button("status", f"{ja}\n{en}", canvas.rect(20 + i * 255, 100, 245, 120), key, size=28,
                      selected=current == key)
    canvas.button("stock", "在庫数 / Stock counts", canvas.rect(20, 240, 760, 100), size=30)
    if params.get("saved"):
        canvas.text("保存しました / Saved", canvas.rect(20, 350, 760, 40), 22, th.GREEN)
    _footer(canvas, ("cancel", "終わる / Done", None))


@screen("shelter", "stock")
def stock(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("在庫数 / Stock counts", canvas.rect(20, 4, 420, 40), 26, align="left")
    selected = params.get("selected")
    for i, (key, ja, en, count) in enumerate(params.get("items", [])[:7]):
        y = 48 + i * 50
        canvas.button("minus", "−", canvas.rect(20, y, 56, 46), key, size=26)
        canvas.button("select", f"{ja} {en}: {count}", canvas.rect(80, y, 300, 46), key, size=20,
                      selected=key == selected)
        canvas.button("plus", "＋", canvas.rect(384, y, 56, 46), key, size=26)
    canvas.button("back", "戻る / Back", canvas.rect(20, 404, 205, 70), size=22)
    canvas.button("save", "保存 / Save", canvas.rect(235, 404, 205, 70), size=24, colour=th.BLUE, text_colour=th.WHITE)
    hint = "数を選んで入力 / Pick an item to type its count" if not selected else f"入力中 / Typing: {selected}"
    canvas.text(hint, canvas.rect(460, 4, 330, 40), 16, th.MUTED)
    _pad(canvas, 460, 46, 330, 428)
