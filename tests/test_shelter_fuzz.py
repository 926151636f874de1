"""Any sequence of inputs — sensible, out of order or hostile — leaves the shelter role on a
screen that exists, with a refusal code from the closed list, and never shows a PIN."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st
from nacl.signing import SigningKey

from kiosk import kana, qrcodes
from kiosk.clock import ClockReading
from kiosk.display.screens import screens_for
from kiosk.nfc.mynumber import BasicInfo
from kiosk.privacy import generate_keypair
from kiosk.roles.base import (CardOp, CardRead, CardRemoved, CardResult, Health, Record, RecordFailed, Recorded,
                              Scan, Show, Tick, Touch)
from kiosk.roles.shelter import ShelterRole, ShelterSettings, SiteUpdate
from kiosk.roles.shelter_text import REFUSALS

PREREG = SigningKey(bytes(range(32)))
QR = qrcodes.encode(qrcodes.Prereg("FUZZ2345", (
    qrcodes.PreregMember("試験", "シケン", date(1990, 1, 1), "2", ("infant",)),)), PREREG)
SCREENS = set(screens_for("shelter"))
PIN = "8352"

TARGETS = ["cancel", "ok", "back", "next", "edit", "enter", "delete", "digit", "kana", "era", "sex", "tick",
           "need", "pet_plus", "pet_minus", "car", "stay", "consent", "kind", "destination", "status", "stock",
           "plus", "minus", "select", "save", "mode", "staff_entry", "code_b", "pin_anyway", "add_staff",
           "add_qr", "remove", "retry", "by_number", "nonsense"]
VALUES = st.one_of(st.none(), st.integers(-2, 8), st.sampled_from(
    list(PIN) + ["0", "9", "showa", "western", "reiwa", "1", "2", "dog", "cat", "car", "home", "shelter",
                 "out", "back", "leave", "open", "full", "closed", "elderly", "water_2l", "intake", "movement",
                 "ア", "カ", kana.DAKUTEN, kana.SMALL, kana.DELETE, "x" * 50]))
INFO = BasicInfo("試験 花子", "宮崎県", date(1980, 1, 2), "2")

inputs = st.one_of(
    st.builds(Touch, st.sampled_from(TARGETS), VALUES),
    st.builds(Touch, st.just("digit"), st.sampled_from(list("0123456789"))),
    st.builds(Scan, st.one_of(st.just(QR), st.text(max_size=60), st.just(QR[:-3] + "AAA"))),
    st.builds(CardRead, st.sampled_from(["jpki:a", "jpki:b", None]), st.sampled_from([None, "not_mynumber", "removed"])),
    st.builds(CardResult, st.sampled_from(["tries_left", "verify_pin", "verify_code_b", "read_basic_info", "release"]),
              st.sampled_from([None, 0, 1, 2, 3, True, INFO, "junk"]),
              st.sampled_from([None, None, "wrong_pin", "blocked", "removed", "unreadable", "weird"])),
    st.just(CardRemoved()),
    st.builds(Health, st.booleans()),
    st.builds(SiteUpdate, st.one_of(st.none(), st.fixed_dictionaries(
        {"site": st.just("s"), "headcount": st.integers(0, 500), "capacity": st.one_of(st.none(), st.integers(0, 300)),
         "level": st.sampled_from(["open", "busy", "crowded", "full", "closed", "unknown"])})), st.booleans()),
    st.integers(0, 200).map(lambda s: ("wait", s)),
    st.sampled_from(["disk_full", "error"]).map(lambda r: ("fail_next", r)),
    st.sampled_from(["card", "qr", "household"]).map(lambda name: ("macro", name)),
)
# Ready-made stretches of a real intake, so random input also lands deep in the flow.
MACROS = {
    "card": [CardRead("jpki:c"), CardResult("tries_left", 3)] + [Touch("digit", d) for d in "1234"]
            + [Touch("enter"), CardResult("verify_pin", True), CardResult("read_basic_info", INFO), Touch("ok")],
    "qr": [Scan(QR), Touch("ok")],
    "household": [Touch("next"), Touch("next"), Touch("need", "elderly"), Touch("next")],
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(inputs, max_size=60))
def test_shelter_role_survives_any_input_sequence(sequence):
    role = ShelterRole(ShelterSettings("d", "s", admin_keys=frozenset({"jpki:b"})), generate_keypair()[0].public_key,
                       PREREG.verify_key)
    mono, fail = [10**9], [None]

    def now() -> ClockReading:
        return ClockReading(datetime(2026, 12, 3, 18, tzinfo=timezone(timedelta(hours=9))), True, "ntp", "b", mono[0])

    for item in sequence:
        if isinstance(item, tuple) and item[0] == "wait":
            mono[0] += item[1] * 10**9
            item = Tick()
        elif isinstance(item, tuple) and item[0] == "fail_next":
            fail[0] = item[1]
            continue
        pending = list(MACROS[item[1]]) if isinstance(item, tuple) else [item]
        while pending:
            for effect in role.handle(pending.pop(0), now()):
                if isinstance(effect, Show):
                    assert effect.screen in SCREENS
                    assert PIN not in repr(effect.params)
                    if effect.screen == "refused":
                        assert effect.params["code"] in REFUSALS
                elif isinstance(effect, Record):
                    outcome = RecordFailed(effect.event.id, fail[0]) if fail[0] else Recorded(effect.event.id, 1)
                    fail[0] = None
                    pending.append(outcome)
                else:
                    assert not isinstance(effect, CardOp) or effect.op in (
                        "tries_left", "verify_pin", "verify_code_b", "read_basic_info", "release")
        assert role.screen in SCREENS
