"""CDSi date arithmetic, row by row against the Logic Specification v4.6 table 3-6."""

import datetime as dt

import pytest

from medassist.immunizations.cdsi.dates import parse, parse_date

D = dt.date


@pytest.mark.parametrize(
    ("start", "duration", "expected", "rule"),
    [
        (D(2000, 1, 1), "3 years", D(2003, 1, 1), "CALCDT-1"),
        (D(2000, 1, 1), "6 months", D(2000, 7, 1), "CALCDT-2"),
        (D(2000, 11, 1), "6 months", D(2001, 5, 1), "CALCDT-2"),
        (D(2000, 1, 1), "3 days", D(2000, 1, 4), "CALCDT-3"),
        (D(2000, 1, 1), "3 weeks", D(2000, 1, 22), "CALCDT-3"),
        (D(2000, 2, 1), "5 weeks", D(2000, 3, 7), "CALCDT-3 leap year"),
        (D(2001, 2, 1), "5 weeks", D(2001, 3, 8), "CALCDT-3 not a leap year"),
        (D(2000, 1, 15), "- 4 days", D(2000, 1, 11), "CALCDT-4"),
        (D(2000, 3, 31), "6 months", D(2000, 10, 1), "CALCDT-5 September 31"),
        (D(2000, 8, 31), "6 months", D(2001, 3, 1), "CALCDT-5 February 31"),
        (D(2000, 1, 31), "6 months - 4 days", D(2000, 7, 27), "CALCDT-6"),
        # Shapes that occur in the supporting data
        (D(2025, 1, 1), "6 weeks - 4 days", D(2025, 2, 8), "grace period"),
        (D(2025, 1, 1), "3 months + 4 weeks", D(2025, 4, 29), "months then weeks"),
        (D(2025, 1, 31), "1 month", D(2025, 3, 1), "January 31 plus a month"),
        (D(2024, 2, 29), "1 year", D(2025, 3, 1), "February 29 plus a year"),
        (D(2025, 1, 1), "1 day", D(2025, 1, 2), "singular unit"),
        (D(2025, 1, 1), "0 days", D(2025, 1, 1), "zero"),
        (D(2025, 1, 1), "18 years - 2 months", D(2042, 11, 1), "minus months"),
    ],
)
def test_date_rules(start, duration, expected, rule):
    parsed = parse(duration)
    assert parsed is not None
    assert parsed.after(start) == expected, rule


@pytest.mark.parametrize("text", ["", "  ", None, "n/a"])
def test_empty_durations_are_none(text):
    assert parse(text) is None


@pytest.mark.parametrize("text", ["6 weeks and 4 days", "four weeks", "6 fortnights", "weeks 6"])
def test_unreadable_durations_are_refused(text):
    with pytest.raises(ValueError, match="cannot read"):
        parse(text)


def test_supporting_data_dates():
    assert parse_date("20230912") == D(2023, 9, 12)
    assert parse_date("01/01/1957") == D(1957, 1, 1)
    assert parse_date("") is None
