"""The shelter intake stand: a household admitted by card, QR, code B or staff entry.

A pure role (kiosk/roles/base.py): inputs in, effects out; no pygame, pyscard or network.

Intake channels, all ending in the same household:
- My Number Card: tap -> ``tries_left`` first; 0 -> blocked (city office + other ways); 1 -> say
  so and offer the other ways; else the PIN pad (dots only). The PIN goes to the card once
  (``verify_pin``) and is dropped; a wrong PIN is never retried by the stand -> the 4 details
  are shown for confirmation.
- 照合番号B: the 14 digits printed on the card front, for a forgotten PIN, card in hand.
- Pre-registration QR (kiosk.qrcodes, checked offline) -> tick the members present.
- Staff entry: kana name, birth date, sex; marked unverified.
Then: more members (another card, ticking QR members, staff entry), needs per member, pets,
car, where they stay, consent to share safety information -> "この内容でよろしいですか" -> Record.

Durability: a role that wants something kept returns ``Record`` and shows "saving"; success is
shown only after ``Recorded``. Personal details travel only in ``pii``, sealed to the hub's
public key; ``data`` carries pseudonymous references (``card:<key>``, ``qr:<id>:<n>``,
``staff:<intake number>``; kiosk/roles/shelter_household.py) and counts. Screens holding personal details clear after a timeout.

Events: ``admission/1``, ``departure/1`` (kind out/back/leave), ``stock_count/1``,
``shelter_status/1``. Every refusal carries a code from ``REFUSALS``.
"""

from __future__ import annotations

from typing import Any

from nacl.public import PublicKey
from nacl.signing import VerifyKey

from kiosk import kana, qrcodes
from kiosk.birthdate import digits_needed, parse_birth_date
from kiosk.clock import ClockReading
from kiosk.events import new_event
from kiosk.privacy import seal
from kiosk.roles.base import (CardOp, CardRead, CardRemoved, CardResult, Health, Record, RecordFailed,
                              Recorded, Save, Scan, Show, Signal, Tick, Touch)
from kiosk.roles.shelter_household import (CODE_B_LENGTH, INTAKE_NUMBER_LENGTH, Intake, Member, StaffEntry,
                                           card_member, code_b_plausible, qr_member, qr_ref, staff_member)
from kiosk.roles.shelter_site import ShelterSettings, SiteUpdate, StockSheet, congestion
from kiosk.roles.shelter_text import CARE, PETS, REFUSALS, STAYS, labelled

__all__ = ["ShelterRole", "ShelterSettings", "SiteUpdate", "congestion"]

PIN_LENGTH = 4
# The stand's own bookkeeping, kept through a restart or power cut (<data>/shelter-state.json):
# who was admitted here (pseudonymous refs only, as in the outbox's readable part), its own
# count since the hub's last figure, and the status an admin set. No personal details.
STATE_NAME = "shelter-state"
# Screens that show personal details or hold a half-finished intake; they clear on timeout.
# "saving" is not among them: it waits for the outbox, and nothing may be dropped there.
_QUIET = ("idle", "saving")
# Screens on which the card must stay held by the card worker (kiosk/display/cards.py); on
# any other screen the role sends CardOp("release") so the next card can be read.
_CARD_SCREENS = ("reading", "pin", "last_try", "code_b")


class ShelterRole:
    """The intake stand's decisions. ``handle(inp, now) -> effects``."""

    def __init__(self, settings: ShelterSettings, hub_key: PublicKey, prereg_key: VerifyKey | None,
                 saved: dict[str, Any] | None = None):
        self.settings = settings
        self._hub_key = hub_key
        self._prereg_key = prereg_key
        self.screen = "idle"
        self.mode = "intake"  # or "movement": the next card / QR records a departure or return
        self._intake: Intake | None = None
        self._pending: Member | None = None
        self._staff: StaffEntry | None = None
        self._secret = ""  # PIN or code B digits being typed; never shown, never logged
        self._card_key: str | None = None
        self._card_channel = "card"
        self._needs_at = 0
        self._ticks: set[int] = set()
        self._qr_for = "intake"
        self._qr_prereg: qrcodes.Prereg | None = None
        self._tries: int | None = None
        self._new_status = "open"
        self._move: dict[str, Any] = {}
        self._stock = StockSheet(settings.stock_items)
        self._saving: Any = None
        self._after_save: Any = None
        self._present: dict[str, str] = {}  # ref -> "in" | "out", for this stand's own count
        self._hub: dict[str, Any] | None = None
        self._online = False
        self._roster: dict[str, Any] = {}
        self._local_delta = 0
        self._status = "open"
        self._deadline_ns: int | None = None
        self._now: ClockReading | None = None
        self._holding = False  # the card worker keeps the card for our CardOps until released
        self._options: tuple[str, ...] = ()
        self._refresh_idle = False
        self._restore(saved or {})

    def _restore(self, saved: dict[str, Any]) -> None:
        """Take back what ``_state()`` saved; anything malformed is ignored, never fatal."""
        present = saved.get("present")
        if isinstance(present, dict):
            self._present = {r: s for r, s in present.items() if isinstance(r, str) and s in ("in", "out")}
        if isinstance(saved.get("hub"), dict):
            self._hub = saved["hub"]
        if isinstance(saved.get("local_delta"), int) and not isinstance(saved["local_delta"], bool):
            self._local_delta = saved["local_delta"]
        if saved.get("status") in ("open", "full", "closed"):
            self._status = saved["status"]

    def _state(self) -> Save:
        return Save(STATE_NAME, {"present": dict(self._present), "hub": self._hub,
                                 "local_delta": self._local_delta, "status": self._status})

    # --- entry point ---------------------------------------------------------------------

    def handle(self, inp: object, now: ClockReading) -> list[object]:
        self._now = now
        effects = self._dispatch(inp, now)
        if self._holding and not self._needs_card() and not any(isinstance(e, CardOp) for e in effects):
            self._holding = False
            effects.append(CardOp("release"))
        return effects

    def _needs_card(self) -> bool:
        return self.screen in _CARD_SCREENS or (self.screen == "refused" and "code_b" in self._options)

    def _dispatch(self, inp: object, now: ClockReading) -> list[object]:
        if isinstance(inp, Health):
            self._online = inp.hub_reachable
            return [self._idle_view()] if self.screen == "idle" else []
        if isinstance(inp, Tick):
            return self._tick(now)
        if isinstance(inp, SiteUpdate):
            return self._site(inp)
        if isinstance(inp, (Recorded, RecordFailed)):
            return self._record_outcome(inp)
        self._deadline_ns = now.mono_ns + int(self.settings.idle_timeout_seconds * 1e9)
        if self.screen == "done" and isinstance(inp, (CardRead, Scan, Touch)) and getattr(inp, "target", "") != "ok":
            # The loop may already show idle again (the done screen's seconds ran out before our
            # Tick): the next card, scan or button starts afresh instead of being lost.
            self._to_idle()
        if isinstance(inp, CardRead):
            return self._card_read(inp)
        if isinstance(inp, CardRemoved):
            return self._card_removed()
        if isinstance(inp, CardResult):
            return self._card_result(inp)
        if isinstance(inp, Scan):
            return self._scan(inp.text)
        if isinstance(inp, Touch):
            return self._touch(inp)
        return []

    # --- occupancy -----------------------------------------------------------------------

    def occupancy(self) -> dict[str, Any]:
        """Headcount, capacity, level: the hub's retained figures when online, else the last
        hub headcount plus what this stand recorded since (or only that, if never online)."""
        hub = self._hub or {}
        online = self._online and bool(hub)
        headcount = max(0, int(hub.get("headcount", 0)) + (0 if online else self._local_delta))
        capacity = int(hub.get("capacity") or self.settings.capacity) if online else self.settings.capacity
        return {"headcount": headcount, "capacity": capacity, "status": self._status,
                "source": "hub" if online else "local",
                "level": congestion(headcount, capacity, self.settings, self._status)}

    def _site(self, update: SiteUpdate) -> list[object]:
        if update.occupancy and update.occupancy != self._hub:
            # A new figure from the hub includes every stand's events (and any admin status
            # set here, once synced), so it replaces this stand's own count and status.
            self._hub = dict(update.occupancy)
            self._local_delta = 0
            self._status = self._hub_status(self._hub)
        self._online = update.online
        roster = update.roster.get("staff", update.roster) if isinstance(update.roster, dict) else {}
        self._roster = dict(roster)
        self._refresh_idle = True  # for loops that drop this input's effects: the next Tick shows it
        return [self._idle_view()] if self.screen == "idle" else []

    def _hub_status(self, hub: dict[str, Any]) -> str:
        """受付停止 travels as level "closed"; 満 set by an admin shows as "full" where the count
        alone would not be full."""
        level = hub.get("level")
        if level == "closed":
            return "closed"
        counted = congestion(int(hub.get("headcount", 0)), int(hub.get("capacity") or self.settings.capacity),
                             self.settings)
        return "full" if level == "full" and counted != "full" else "open"

    def _is_admin(self, key: str) -> bool:
        entry = self._roster.get(key)
        admin = isinstance(entry, dict) and (entry.get("admin") is True or "admin" in entry.get("flags", ()))
        return admin or key in self.settings.admin_keys

    # --- screens -------------------------------------------------------------------------

    def _idle_view(self) -> Show:
        self._refresh_idle = False
        return Show("idle", {"mode": self.mode, "occupancy": self.occupancy()})

    def _to_idle(self) -> list[object]:
        """Back to the start; every personal detail held for the screen is dropped."""
        self.screen, self.mode = "idle", "intake"
        self._intake = self._pending = self._staff = None
        self._secret, self._move, self._ticks = "", {}, set()
        self._saving = self._deadline_ns = None
        return [self._idle_view()]

    def _show(self, screen: str, **params: Any) -> Show:
        self.screen = screen
        return Show(screen, params)

    def _refuse(self, code: str, options: tuple[str, ...] = ("cancel",), **extra: Any) -> list[object]:
        assert code in REFUSALS, code
        if self._intake and "back" not in options:
            options = ("back",) + options
        self._options = options
        return [self._show("refused", code=code, options=list(options), **extra), Signal("error")]

    def _household_view(self) -> list[object]:
        intake = self._intake
        return [self._show("household", members=[m.view() for m in intake.members],
                           can_tick_qr=intake.qr is not None)]

    def _tick(self, now: ClockReading) -> list[object]:
        if self.screen == "idle" and self._refresh_idle:
            return [self._idle_view()]
        if self.screen in _QUIET or self._deadline_ns is None or now.mono_ns < self._deadline_ns:
            return []
        return self._to_idle()

    # --- cards ---------------------------------------------------------------------------

    def _card_read(self, read: CardRead) -> list[object]:
        self._holding = True
        if self.screen == "code_b":
            self._card_key = read.key
            return []
        if self.screen not in ("idle", "household", "refused"):
            return []
        if read.key is None:
            return self._refuse(read.error if read.error in REFUSALS else "card_unreadable")
        if self.screen == "idle" and self._is_admin(read.key):
            return [self._show("admin", occupancy=self.occupancy())]
        ref = f"card:{read.key}"
        if self.screen == "idle" and (self.mode == "movement" or ref in self._present):
            return self._movement([ref])
        if self._intake and self._intake.has(ref):
            return self._refuse("already_in_household")
        if not self._intake and self.occupancy()["status"] == "closed":
            return self._refuse("intake_closed")
        self._card_key, self._secret = read.key, ""
        return [self._show("reading"), CardOp("tries_left")]

    def _card_removed(self) -> list[object]:
        self._card_key = None
        if self.screen in ("pin", "last_try", "reading", "code_b"):
            self._secret = ""
            return self._refuse("card_removed", ("code_b", "staff_entry", "cancel"))
        return []

    def _card_result(self, result: CardResult) -> list[object]:
        if result.error == "removed":
            self._holding = False  # the worker lets go of a card that has left
        if self.screen != "reading":
            return []
        if result.op == "tries_left":
            return self._after_tries(result)
        if result.op in ("verify_pin", "verify_code_b"):
            return self._after_verify(result)
        if result.op == "read_basic_info":
            return self._after_basic_info(result)
        return []

    def _after_tries(self, result: CardResult) -> list[object]:
        if result.error or not _is_count(result.value):
            return self._card_error(result.error or "unreadable")
        return self._pin_or_warning(result.value, wrong=False)

    def _pin_or_warning(self, tries: int, wrong: bool) -> list[object]:
        self._tries = tries
        if tries <= 0:
            return self._refuse("pin_blocked", ("code_b", "staff_entry", "qr", "cancel"))
        if tries == 1:
            return [self._show("last_try", wrong=wrong), Signal("error" if wrong else "already")]
        return [self._show("pin", dots=0, tries_left=tries, wrong=wrong)] + ([Signal("error")] if wrong else [])

    def _after_verify(self, result: CardResult) -> list[object]:
        self._card_channel = "card" if result.op == "verify_pin" else "code_b"
        if result.error is None:
            return [self._show("reading"), CardOp("read_basic_info")]
        if result.error == "wrong_pin" and result.op == "verify_pin":
            return self._pin_or_warning(result.value if _is_count(result.value) else 0, wrong=True)
        if result.error in ("wrong_pin", "wrong_code"):
            return self._refuse("code_b_wrong", ("staff_entry", "cancel"))
        return self._card_error(result.error)

    def _after_basic_info(self, result: CardResult) -> list[object]:
        value = result.value
        if result.error or not (isinstance(value, dict) or hasattr(value, "birth_date")):
            return self._card_error(result.error or "unreadable")
        self._pending = card_member(self._card_key or "", result.value, self._card_channel)
        return [self._show("member_confirm", member=self._pending.view()), Signal("ok")]

    def _card_error(self, error: str) -> list[object]:
        if error == "blocked":
            return self._refuse("pin_blocked", ("code_b", "staff_entry", "qr", "cancel"))
        if error == "removed":
            return self._refuse("card_removed", ("code_b", "staff_entry", "cancel"))
        return self._refuse(error if error in REFUSALS else "card_unreadable", ("staff_entry", "cancel"))

    # --- QR ------------------------------------------------------------------------------

    def _scan(self, text: str) -> list[object]:
        if self.screen not in ("idle", "household", "refused"):
            return []
        try:
            prereg = qrcodes.decode(text, self._prereg_key)
        except qrcodes.QrError as exc:
            return self._refuse(exc.code, ("staff_entry", "cancel"))
        self._qr_prereg = prereg
        if self.screen == "idle" and (self.mode == "movement" or self._qr_admitted(prereg)):
            self._qr_for, self._ticks = "movement", set(range(len(prereg.members)))
            return self._qr_view()
        if not self._intake and self.occupancy()["status"] == "closed":
            return self._refuse("intake_closed")
        self._intake = self._intake or Intake()
        self._intake.qr = prereg
        self._qr_for, self._ticks = "intake", self._not_added(prereg)
        return self._qr_view()

    def _not_added(self, prereg: qrcodes.Prereg) -> set[int]:
        return {i for i in range(len(prereg.members)) if not self._intake.has(qr_ref(prereg, i))}

    def _qr_admitted(self, prereg: qrcodes.Prereg) -> bool:
        return any(qr_ref(prereg, i) in self._present for i in range(len(prereg.members)))

    def _qr_view(self) -> list[object]:
        prereg = self._qr_prereg
        rows = [{"name": m.name, "kana": m.kana, "birth_date": m.birth_date.isoformat(), "sex": m.sex,
                 "ticked": i in self._ticks,
                 "added": bool(self._intake and self._intake.has(qr_ref(prereg, i)))}
                for i, m in enumerate(prereg.members)]
        return [self._show("qr_members", members=rows, purpose=self._qr_for)]

    def _touch_qr_members(self, touch: Touch) -> list[object]:
        prereg = self._qr_prereg
        if touch.target == "tick" and isinstance(touch.value, int) and 0 <= touch.value < len(prereg.members):
            self._ticks ^= {touch.value}
            return self._qr_view()
        if touch.target != "ok" or not self._ticks:
            return []
        if self._qr_for == "movement":
            return self._movement([qr_ref(prereg, i) for i in sorted(self._ticks)])
        for i in sorted(self._ticks):
            if not self._intake.has(qr_ref(prereg, i)):
                self._intake.members.append(qr_member(prereg, i))
        return self._household_view()

    # --- touches -------------------------------------------------------------------------

    def _touch(self, touch: Touch) -> list[object]:
        if touch.target == "cancel" and self.screen != "saving":
            return self._to_idle()
        handler = getattr(self, f"_touch_{self.screen}", None)
        return handler(touch) if handler else []

    def _touch_idle(self, touch: Touch) -> list[object]:
        if touch.target == "mode" and touch.value in ("intake", "movement"):
            self.mode = touch.value
            return [self._idle_view()]
        if touch.target == "staff_entry" and self.mode == "intake":
            if self.occupancy()["status"] == "closed":
                return self._refuse("intake_closed")
            return self._start_staff_entry()
        if touch.target == "by_number" and self.mode == "movement":
            self._secret = ""
            return [self._show("movement_number", digits="")]
        return []

    def _touch_movement_number(self, touch: Touch) -> list[object]:
        """The intake number of someone entered by staff, typed instead of a card tap."""
        if touch.target == "digit" and str(touch.value).isdigit() and len(str(touch.value)) == 1:
            self._secret = (self._secret + str(touch.value))[:INTAKE_NUMBER_LENGTH]
        elif touch.target == "delete":
            self._secret = self._secret[:-1]
        elif touch.target == "enter" and len(self._secret) == INTAKE_NUMBER_LENGTH:
            number, self._secret = self._secret, ""
            return self._movement([f"staff:{number}"])
        else:
            return []
        return [self._show("movement_number", digits=self._secret)]

    def _touch_refused(self, touch: Touch) -> list[object]:
        if touch.target == "back" and self._intake:
            return self._household_view()
        if touch.target == "staff_entry":
            return self._start_staff_entry()
        if touch.target == "code_b":
            self._secret = ""
            return [self._show("code_b", dots=0, card_present=self._card_key is not None)]
        if touch.target == "retry" and self._saving is not None:
            return [self._show("saving"), Record(self._saving)]
        return []

    def _touch_last_try(self, touch: Touch) -> list[object]:
        if touch.target == "pin_anyway":
            return [self._show("pin", dots=0, tries_left=self._tries, wrong=False)]
        return self._touch_refused(touch)

    def _touch_pin(self, touch: Touch) -> list[object]:
        if touch.target in ("code_b", "staff_entry"):
            self._secret = ""
            return self._touch_refused(touch)
        return self._secret_pad(touch, PIN_LENGTH, "pin", self._submit_pin)

    def _touch_code_b(self, touch: Touch) -> list[object]:
        if touch.target == "staff_entry":
            self._secret = ""
            return self._start_staff_entry()
        return self._secret_pad(touch, CODE_B_LENGTH, "code_b", self._submit_code_b)

    def _secret_pad(self, touch: Touch, length: int, screen: str, submit) -> list[object]:
        """A pad whose digits are never shown: only the count of dots leaves the role."""
        if touch.target == "digit" and str(touch.value) in "0123456789" and len(str(touch.value)) == 1:
            if len(self._secret) < length:
                self._secret += str(touch.value)
        elif touch.target == "delete":
            self._secret = self._secret[:-1]
        elif touch.target == "enter" and len(self._secret) == length:
            return submit()
        else:
            return []
        params = {"dots": len(self._secret)}
        params.update({"card_present": self._card_key is not None} if screen == "code_b" else
                      {"tries_left": self._tries, "wrong": False})
        return [self._show(screen, **params)]

    def _submit_pin(self) -> list[object]:
        pin, self._secret = self._secret, ""
        return [self._show("reading"), CardOp("verify_pin", {"pin": pin})]

    def _submit_code_b(self) -> list[object]:
        code, self._secret = self._secret, ""
        if not code_b_plausible(code):
            return self._refuse("code_b_invalid", ("code_b", "staff_entry", "cancel"))
        if self._card_key is None:
            return self._refuse("card_removed", ("code_b", "staff_entry", "cancel"))
        return [self._show("reading"), CardOp("verify_code_b", {"code": code})]

    def _touch_member_confirm(self, touch: Touch) -> list[object]:
        if touch.target == "ok" and self._pending:
            if self._intake is None:
                self._intake = Intake()
            self._intake.members.append(self._pending)
            self._pending = None
            return self._household_view()
        if touch.target == "back":
            self._pending = None
            return self._household_view() if self._intake else self._to_idle()
        return []

    # --- staff entry ---------------------------------------------------------------------

    def _start_staff_entry(self) -> list[object]:
        self._staff = StaffEntry()
        return [self._show("staff_name", text="", error=None)]

    def _touch_staff_name(self, touch: Touch) -> list[object]:
        staff = self._staff
        if touch.target == "kana":
            staff.kana = kana.type_key(staff.kana, str(touch.value))
            return [self._show("staff_name", text=staff.kana, error=None)]
        if touch.target == "next":
            if not staff.kana.strip():
                return [self._show("staff_name", text=staff.kana, error="name_missing"), Signal("error")]
            return [self._birth_view(None)]
        return []

    def _birth_view(self, error: str | None) -> Show:
        staff = self._staff
        return self._show("staff_birth", era=staff.era, digits=staff.digits,
                          needed=digits_needed(staff.era), error=error)

    def _touch_staff_birth(self, touch: Touch) -> list[object]:
        staff = self._staff
        if touch.target == "era" and touch.value in ("western", "taisho", "showa", "heisei", "reiwa"):
            staff.era, staff.digits = touch.value, ""
        elif touch.target == "digit" and str(touch.value).isdigit() and len(str(touch.value)) == 1:
            staff.digits = (staff.digits + str(touch.value))[:digits_needed(staff.era)]
        elif touch.target == "delete":
            staff.digits = staff.digits[:-1]
        elif touch.target == "next":
            staff.born = parse_birth_date(staff.era, staff.digits, self._now.wall.date())
            if staff.born is None:
                return [self._birth_view("birth_date_invalid"), Signal("error")]
            return [self._show("staff_sex", kana=staff.kana, birth_date=staff.born.isoformat())]
        elif touch.target == "back":
            return [self._show("staff_name", text=staff.kana, error=None)]
        else:
            return []
        return [self._birth_view(None)]

    def _touch_staff_sex(self, touch: Touch) -> list[object]:
        staff = self._staff
        if touch.target == "back":
            return [self._birth_view(None)]
        if touch.target != "sex" or touch.value not in ("1", "2", "9", "0"):
            return []
        member = staff_member(staff.kana.strip(), staff.born, touch.value)
        if self._intake is None:
            self._intake = Intake()
        self._intake.members.append(member)
        self._staff = None
        return self._household_view()

    # --- household, needs, extras, confirmation --------------------------------------------

    def _touch_household(self, touch: Touch) -> list[object]:
        intake = self._intake
        if touch.target == "add_staff":
            return self._start_staff_entry()
        if touch.target == "add_qr" and intake.qr:
            self._qr_for, self._qr_prereg = "intake", intake.qr
            self._ticks = self._not_added(intake.qr)
            return self._qr_view()
        if touch.target == "remove" and isinstance(touch.value, int) and 0 <= touch.value < len(intake.members):
            del intake.members[touch.value]
            return self._household_view() if intake.members else self._to_idle()
        if touch.target == "next" and intake.members:
            self._needs_at = 0
            return [self._needs_view()]
        return []

    def _needs_view(self) -> Show:
        member = self._intake.members[self._needs_at]
        return self._show("needs", index=self._needs_at, count=len(self._intake.members),
                          member=member.view(), categories=[labelled(c, CARE) for c in self.settings.care_categories])

    def _touch_needs(self, touch: Touch) -> list[object]:
        member = self._intake.members[self._needs_at]
        known = {labelled(c, CARE)[0] for c in self.settings.care_categories}
        if touch.target == "need" and touch.value in known:
            member.needs = [n for n in member.needs if n != touch.value] if touch.value in member.needs \
                else member.needs + [touch.value]
            return [self._needs_view()]
        if touch.target == "next":
            if self._needs_at + 1 < len(self._intake.members):
                self._needs_at += 1
                return [self._needs_view()]
            return [self._extras_view()]
        if touch.target == "back":
            if self._needs_at == 0:
                return self._household_view()
            self._needs_at -= 1
            return [self._needs_view()]
        return []

    def _extras_view(self) -> Show:
        i = self._intake
        return self._show("extras", pets={k: i.pets.get(k, 0) for k in PETS}, car=i.car, stay=i.stay,
                          consent=i.consent)

    def _touch_extras(self, touch: Touch) -> list[object]:
        intake = self._intake
        if touch.target in ("pet_plus", "pet_minus") and touch.value in PETS:
            step = 1 if touch.target == "pet_plus" else -1
            intake.pets[touch.value] = min(99, max(0, intake.pets.get(touch.value, 0) + step))
        elif touch.target == "car":
            intake.car = not intake.car
        elif touch.target == "stay" and touch.value in STAYS:
            intake.stay = touch.value
        elif touch.target == "consent":
            intake.consent = not intake.consent
        elif touch.target == "next":
            return [self._confirm_view()]
        elif touch.target == "back":
            self._needs_at = len(intake.members) - 1
            return [self._needs_view()]
        else:
            return []
        return [self._extras_view()]

    def _confirm_view(self) -> Show:
        i = self._intake
        return self._show("confirm", members=[m.view() for m in i.members],
                          pets={k: v for k, v in i.pets.items() if v}, car=i.car, stay=i.stay, consent=i.consent)

    def _touch_confirm(self, touch: Touch) -> list[object]:
        if touch.target == "back":
            return [self._extras_view()]
        if touch.target == "edit":
            return self._household_view()
        if touch.target == "ok":
            return self._save_admission()
        return []

    def _save_admission(self) -> list[object]:
        i = self._intake
        staying = len(i.members) if i.stay == "shelter" else 0
        data = {"household": i.household, "staying": staying,
                "members": [{"ref": m.ref, "channel": m.channel, "verified": m.verified} for m in i.members]}
        pii = {"household": i.household, "members": [dict(m.view(), ref=m.ref) for m in i.members],
               "pets": {k: v for k, v in i.pets.items() if v}, "car": i.car, "stay": i.stay,
               "consent": i.consent, "qr": i.qr.reg_id if i.qr else None}
        return self._record("admission/1", data, pii, self._admitted)

    def _admitted(self) -> list[object]:
        intake = self._intake
        for member in intake.members:
            self._present[member.ref] = "in"
        self._local_delta += len(intake.members) if intake.stay == "shelter" else 0
        view = {"members": [m.view() for m in intake.members], "stay": intake.stay,
                "numbers": [[m.kana, m.ref.split(":", 1)[1]] for m in intake.members if m.channel == "staff"]}
        return [self._show("done", kind="admission", **view), Signal("ok")]

    # --- departures and outings ----------------------------------------------------------

    def _movement(self, refs: list[str]) -> list[object]:
        self._move = {"refs": refs, "kind": None, "destination": ""}
        return [self._movement_view()]

    def _movement_view(self) -> Show:
        m = self._move
        return self._show("movement", people=len(m["refs"]), kind=m["kind"], destination=m["destination"],
                          states=[self._present.get(r) for r in m["refs"]])

    def _touch_movement(self, touch: Touch) -> list[object]:
        move = self._move
        if touch.target == "kind" and touch.value in ("out", "back", "leave"):
            move["kind"] = touch.value
            return [self._movement_view()]
        if touch.target == "destination":
            return [self._show("movement_destination", text=move["destination"])]
        if touch.target == "ok" and move["kind"]:
            data = {"refs": list(move["refs"]), "kind": move["kind"]}
            pii = {"destination": move["destination"]} if move["destination"].strip() else None
            return self._record("departure/1", data, pii, self._moved)
        return []

    def _touch_movement_destination(self, touch: Touch) -> list[object]:
        if touch.target == "kana":
            self._move["destination"] = kana.type_key(self._move["destination"], str(touch.value))
            return [self._show("movement_destination", text=self._move["destination"])]
        if touch.target in ("ok", "back"):
            return [self._movement_view()]
        return []

    def _moved(self) -> list[object]:
        kind, refs = self._move["kind"], self._move["refs"]
        for ref in refs:
            was_counted = ref in self._present
            if kind == "leave":
                self._present.pop(ref, None)
                self._local_delta -= 1 if was_counted else 0
            else:
                self._present[ref] = "out" if kind == "out" else "in"
        return [self._show("done", kind=kind, people=len(refs)), Signal("ok")]

    # --- admin: status and stock ---------------------------------------------------------

    def _touch_admin(self, touch: Touch) -> list[object]:
        if touch.target == "status" and touch.value in ("open", "full", "closed"):
            self._new_status = touch.value
            return self._record("shelter_status/1", {"status": touch.value}, None, self._status_saved)
        if touch.target == "stock":
            self._stock.selected, self._stock.entry = None, ""
            return [self._show("stock", **self._stock.view())]
        return []

    def _status_saved(self) -> list[object]:
        self._status = self._new_status
        return [self._show("admin", occupancy=self.occupancy(), saved=True), Signal("ok")]

    def _touch_stock(self, touch: Touch) -> list[object]:
        if self._stock.press(touch.target, touch.value):
            return [self._show("stock", **self._stock.view())]
        if touch.target == "save":
            return self._record("stock_count/1", {"items": dict(self._stock.counts)}, None, self._stock_saved)
        if touch.target == "back":
            return [self._show("admin", occupancy=self.occupancy())]
        return []

    def _stock_saved(self) -> list[object]:
        return [self._show("done", kind="stock"), Signal("ok")]

    # --- recording -----------------------------------------------------------------------

    def _record(self, schema: str, data: dict, pii: dict | None, then) -> list[object]:
        sealed = seal(pii, self._hub_key) if pii else None
        self._saving = new_event(schema, data, dev=self.settings.dev, site=self.settings.site,
                                 clock=self._now, pii=sealed)
        self._after_save = then
        return [self._show("saving"), Record(self._saving)]

    def _record_outcome(self, outcome: Recorded | RecordFailed) -> list[object]:
        if self._saving is None or outcome.event_id != self._saving.id:
            return []
        if isinstance(outcome, RecordFailed):
            code = "disk_full" if outcome.reason == "disk_full" else "record_failed"
            self.screen, self._options = "refused", ("retry", "cancel")
            return [Show("refused", {"code": code, "options": ["retry", "cancel"]}), Signal("error")]
        self._saving, then = None, self._after_save
        effects = then() + [self._state()]
        # The done screen holds personal details only for the confirmation time.
        self._deadline_ns = self._now.mono_ns + int(self.settings.confirmation_seconds * 1e9)
        effects[0] = Show(effects[0].screen, effects[0].params, self.settings.confirmation_seconds)
        return effects

    def _touch_done(self, touch: Touch) -> list[object]:
        return self._to_idle() if touch.target == "ok" else []


def _is_count(value: object) -> bool:
    """A tries-left figure from the card side (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
