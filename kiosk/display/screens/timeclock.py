"""The time clock's screens; their params come from kiosk/roles/timeclock.py."""

from __future__ import annotations

from kiosk.display import theme as th
from kiosk.display.screens import screen
from kiosk.display.screens.common import Canvas, Status, format_date, format_time, number_pad, status_bar

DIRECTIONS = {"in": ("出勤", "Clock in"), "out": ("退勤", "Clock out")}


@screen("timeclock", "idle")
def idle(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text(status.now.strftime("%H:%M"), canvas.rect(0, 10, 800, 170), 150)
    ja, en = format_date(status.now)
    canvas.text(f"{ja}  {en}", canvas.rect(40, 180, 720, 44), 28, th.MUTED)
    ready = status.reader == "ready"
    canvas.fill(th.BLUE if ready else th.RED, canvas.rect(40, 250, 720, 170))
    ja, en = (("カードをかざしてください", "Please tap your card") if ready else
              ("カード読取機が使えません", "Card reader not available: use the paper book"))
    canvas.text(ja, canvas.rect(60, 262, 680, 90), 52, th.WHITE)
    canvas.text(en, canvas.rect(60, 352, 680, 55), 30, th.WHITE)
    status_bar(canvas, status)


def _confirmation(params: dict, status: Status) -> tuple[str, tuple[int, int, int]]:
    """Whether the punch is confirmed by the city server yet, or kept on this device."""
    seq = params.get("seq", 0)
    if seq and status.confirmed_through >= seq:
        return "市のサーバーで確認済み\nConfirmed by the city server", th.GREEN
    if status.hub_reachable:
        return "記録しました・市のサーバーへ送信中\nRecorded, sending to the city server", th.GREEN
    return "この端末に保存しました(後で送信)\nKept on this device, sent later", th.AMBER


def _person(canvas: Canvas, params: dict, top: float) -> None:
    canvas.text(params.get("kana", ""), canvas.rect(40, top, 720, 30), 22, th.MUTED)
    canvas.text(f"{params['name']} さん", canvas.rect(40, top + 28, 720, 70), 54)


def _direction_buttons(canvas: Canvas, params: dict) -> None:
    """出勤 / 退勤 to correct the punch while it is shown; enrolment for an admin."""
    canvas.text("違うときは押して訂正 / Wrong? Tap to correct", canvas.rect(40, 436, 400, 36), 18, th.MUTED,
                align="left")
    for i, direction in enumerate(("in", "out")):
        ja, en = DIRECTIONS[direction]
        canvas.button("direction", f"{ja} {en}", canvas.rect(40 + i * 200, 356, 186, 76), direction, size=24,
                      selected=params.get("direction") == direction)
    if params.get("admin"):
        canvas.button("enrol", "カード登録 Enrol a card", canvas.rect(560, 356, 200, 76), size=22)


@screen("timeclock", "result")
def result(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    ja, en = DIRECTIONS[params["direction"]]
    canvas.band(th.GREEN, f"{ja}しました" if not params.get("corrected") else f"{ja}に訂正しました",
                f"{en} recorded" if not params.get("corrected") else f"Corrected to {en.lower()}")
    _person(canvas, params, 126)
    canvas.text(format_time(params["time"]), canvas.rect(40, 222, 300, 80), 64)
    note, colour = _confirmation(params, status)
    canvas.text(note, canvas.rect(340, 222, 420, 80), 22, colour, align="left")
    if not params.get("clock_synced", True):
        canvas.text("時刻未同期の端末で記録 / Clock not synced: time will be checked",
                    canvas.rect(40, 306, 720, 40), 20, th.AMBER)
    _direction_buttons(canvas, params)


@screen("timeclock", "already")
def already(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.BLUE, "記録済みです", "Already recorded")
    _person(canvas, params, 126)
    ja, en = DIRECTIONS[params["direction"]]
    at = format_time(params["time"])
    canvas.text(f"{at} に{ja}を記録済み", canvas.rect(40, 226, 720, 60), 40)
    canvas.text(f"{en} at {at} is already recorded; nothing new was recorded.",
                canvas.rect(40, 290, 720, 50), 22, th.MUTED)
    _direction_buttons(canvas, params)


@screen("timeclock", "unknown")
def unknown(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.RED, "登録されていないカードです", "This card is not registered")
    canvas.text("管理者にカードの登録を依頼してください。\n今日の出退勤は紙の出勤簿に記入してください。",
                canvas.rect(40, 140, 720, 150), 34)
    canvas.text("Ask an administrator to enrol this card. Until then, write today's times in the paper book.",
                canvas.rect(40, 300, 720, 100), 24, th.MUTED)


@screen("timeclock", "enrol_number")
def enrol_number(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.text("カード登録 / Enrol a card", canvas.rect(20, 10, 420, 60), 34, align="left")
    canvas.text("職員番号を入力してください\nEnter the staff number", canvas.rect(20, 80, 420, 90), 28,
                align="left")
    digits = canvas.rect(20, 180, 420, 80)
    canvas.fill(th.WHITE, digits)
    canvas.text(params.get("digits") or "―", digits, 52)
    if params.get("error") == "not_found":
        canvas.text("その職員番号は名簿にありません / Staff number not in the roster",
                    canvas.rect(20, 270, 420, 70), 22, th.RED, align="left")
    canvas.button("cancel", "やめる Cancel", canvas.rect(20, 380, 200, 80), size=24)
    number_pad(canvas, 460, 10, 330, 460)


ENROL_ERRORS = {
    "already_bound": "このカードは別の職員に登録済みです / This card is already registered",
}


@screen("timeclock", "enrol_tap")
def enrol_tap(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.BLUE, "新しいカードをかざしてください", "Tap the new card")
    canvas.text(f"{params['name']} さん(職員番号 {params['staff_id']})", canvas.rect(40, 140, 720, 70), 40)
    canvas.text(f"Card for {params['name']} (staff no. {params['staff_id']})", canvas.rect(40, 210, 720, 40),
                22, th.MUTED)
    error = params.get("error")
    if error:
        canvas.text(ENROL_ERRORS.get(error, "読み取れませんでした。もう一度かざしてください / Not read, tap again"),
                    canvas.rect(40, 260, 720, 80), 26, th.RED)
    canvas.button("cancel", "やめる Cancel", canvas.rect(300, 360, 200, 80), size=24)


@screen("timeclock", "enrolled")
def enrolled(canvas: Canvas, params: dict, status: Status) -> None:
    canvas.fill(th.BACKGROUND)
    canvas.band(th.GREEN, "カードを登録しました", "Card enrolled")
    canvas.text(f"{params['name']} さん(職員番号 {params['staff_id']})", canvas.rect(40, 150, 720, 80), 44)
    canvas.text("このカードで今すぐ打刻できます / This card can clock in and out now",
                canvas.rect(40, 250, 720, 80), 26, th.MUTED)
