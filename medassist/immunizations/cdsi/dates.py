"""CDSi date arithmetic: durations such as "6 weeks - 4 days" or "3 months + 4 weeks" added to a
date exactly as the Logic Specification for ACIP Recommendations v4.6 says (section 3.4,
table 3-6):

- CALCDT-1/2: years and months move the calendar year and month while the day of the month is
  held constant;
- CALCDT-3/4: weeks and days add (or subtract) that many days;
- CALCDT-5: a computed date that is not a real date (September 31) moves forward to the first day
  of the next month;
- CALCDT-6: years first, then months, then weeks and days.

The 4-day grace period is not a rule of its own: CDC writes it into the supporting data
("absolute minimum age 6 weeks - 4 days").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

_TERM = re.compile(r"([+-]?)\s*(\d+)\s*(year|month|week|day)s?", re.IGNORECASE)

# Table 3-4 / 6-2: the values assumed when a date is empty.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)


@dataclass(frozen=True, slots=True)
class Duration:
    """A CDSi age or interval: calendar years and months, then days."""

    years: int = 0
    months: int = 0
    days: int = 0  # weeks already turned into days
    text: str = ""

    def after(self, start: dt.date) -> dt.date:
        """`start` plus this duration (CALCDT-1 to CALCDT-6)."""
        year, month = start.year + self.years, start.month + self.months
        year += (month - 1) // 12
        month = (month - 1) % 12 + 1
        try:
            moved = start.replace(year=year, month=month)
        except ValueError:  # CALCDT-5: not a real date -> first day of the next month
            moved = dt.date(year + month // 12, month % 12 + 1, 1)
        return moved + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=4096)
def parse(text: str | None) -> Duration | None:
    """'6 weeks - 4 days' -> Duration(days=38). Empty text -> None. Anything that is not a
    sequence of signed year/month/week/day terms is an error: the supporting data is CDC's and
    a misread term would silently shift every date."""
    if text is None or not text.strip() or text.strip().lower() == "n/a":
        return None
    cleaned = text.strip()
    years = months = days = 0
    position = 0
    for match in _TERM.finditer(cleaned):
        if cleaned[position : match.start()].strip():
            raise ValueError(f"cannot read the CDSi duration {text!r}")
        sign = -1 if match.group(1) == "-" else 1
        amount = sign * int(match.group(2))
        unit = match.group(3).lower()
        if unit == "year":
            years += amount
        elif unit == "month":
            months += amount
        elif unit == "week":
            days += 7 * amount
        else:
            days += amount
        position = match.end()
    if position == 0 or cleaned[position:].strip():
        raise ValueError(f"cannot read the CDSi duration {text!r}")
    return Duration(years, months, days, cleaned)


def add(start: dt.date, duration: Duration | None) -> dt.date | None:
    return None if duration is None else duration.after(start)


def parse_date(text: str | None) -> dt.date | None:
    """Supporting data dates: '20230912' (series data) or '01/01/1957' (immunity)."""
    if text is None or not text.strip() or text.strip().lower() == "n/a":
        return None
    value = text.strip()
    if "/" in value:
        month, day, year = (int(part) for part in value.split("/"))
        return dt.date(year, month, day)
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
