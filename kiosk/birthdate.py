"""Birth dates typed by staff: in the Western calendar or in a Japanese era (和暦).

Many older evacuees give their birth date as e.g. 昭和25年3月4日, so the staff-entry pad has era
keys. ``parse_birth_date("showa", "250304")`` -> date(1950, 3, 4); ``parse_birth_date("western",
"19500304")`` likewise. Anything impossible (month 13, a date in the future, 平成 40) is None.
"""

from __future__ import annotations

from datetime import date

# era -> (first day, last year number within the era, or None while it lasts)
ERAS = {
    "taisho": (date(1912, 7, 30), 15),
    "showa": (date(1926, 12, 25), 64),
    "heisei": (date(1989, 1, 8), 31),
    "reiwa": (date(2019, 5, 1), None),
}
ERA_LABELS = {"western": "西暦", "taisho": "大正", "showa": "昭和", "heisei": "平成", "reiwa": "令和"}


def digits_needed(era: str) -> int:
    """YYYYMMDD for the Western calendar, YYMMDD within an era."""
    return 8 if era == "western" else 6


def parse_birth_date(era: str, digits: str, today: date | None = None) -> date | None:
    if len(digits) != digits_needed(era) or not digits.isdigit():
        return None
    if era == "western":
        year = int(digits[:4])
    elif era in ERAS:
        start, last = ERAS[era]
        number = int(digits[:2])
        if number < 1 or (last is not None and number > last):
            return None
        year = start.year + number - 1
    else:
        return None
    try:
        born = date(year, int(digits[-4:-2]), int(digits[-2:]))
    except ValueError:
        return None
    if era in ERAS and born < ERAS[era][0]:
        return None
    if born.year < 1900 or born > (today or date.today()):
        return None
    return born
