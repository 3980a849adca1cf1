"""free_slots and why_not_bookable, row by row."""

import datetime as dt
import zoneinfo

import pytest

from medassist.scheduling.slots import (
    BUSY,
    FREE,
    UNAVAILABLE,
    Interval,
    Session,
    day_slots,
    free_slots,
    most_at_once,
    why_not_bookable,
)

TZ = zoneinfo.ZoneInfo("America/Chicago")
DAY = dt.date(2026, 11, 24)


def t(hhmm: str) -> dt.datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(DAY, dt.time(h, m), tzinfo=TZ)


def iv(a: str, b: str, label: str = "") -> Interval:
    return Interval(t(a), t(b), label)


MORNING = Session(t("08:00"), t("09:00"), slot_minutes=15)
DOUBLE = Session(t("08:00"), t("09:00"), slot_minutes=15, max_per_slot=2)


@pytest.mark.parametrize(
    ("sessions", "blocks", "bookings", "minutes", "not_before", "expected"),
    [
        # an empty session: every grid line is open
        ([MORNING], [], [], None, None, ["08:00", "08:15", "08:30", "08:45"]),
        # a 30-minute visit cannot start at 08:45 (would end after 09:00)
        ([MORNING], [], [], 30, None, ["08:00", "08:15", "08:30"]),
        # a booking takes its grid lines; a 30-minute visit also cannot start just before it
        ([MORNING], [], [iv("08:15", "08:30")], 30, None, ["08:30"]),
        # blocked time takes what it touches
        ([MORNING], [iv("08:20", "08:40")], [], None, None, ["08:00", "08:45"]),
        # two per slot: one booking leaves the line open, two fill it
        ([DOUBLE], [], [iv("08:00", "08:15")], None, None, ["08:00", "08:15", "08:30", "08:45"]),
        ([DOUBLE], [], [iv("08:00", "08:15")] * 2, None, None, ["08:15", "08:30", "08:45"]),
        # back-to-back bookings are never counted as running at once
        (
            [MORNING],
            [],
            [iv("08:00", "08:15"), iv("08:15", "08:30")],
            None,
            None,
            ["08:30", "08:45"],
        ),
        (
            [DOUBLE],
            [],
            [iv("08:00", "08:15"), iv("08:15", "08:30")],
            30,
            None,
            ["08:00", "08:15", "08:30"],
        ),
        # nothing before `not_before` (now)
        ([MORNING], [], [], None, t("08:20"), ["08:30", "08:45"]),
        # two sessions, gap between
        (
            [MORNING, Session(t("13:00"), t("13:30"), slot_minutes=15)],
            [],
            [],
            None,
            None,
            ["08:00", "08:15", "08:30", "08:45", "13:00", "13:15"],
        ),
        # no session: nothing
        ([], [], [], None, None, []),
    ],
)
def test_free_slots(sessions, blocks, bookings, minutes, not_before, expected):
    found = free_slots(
        sessions=sessions, blocks=blocks, bookings=bookings, minutes=minutes, not_before=not_before
    )
    assert [f"{s.start:%H:%M}" for s in found] == expected


def test_day_slots_give_fhir_statuses():
    found = day_slots(
        sessions=[MORNING], blocks=[iv("08:45", "09:00")], bookings=[iv("08:15", "08:30")]
    )
    assert [s.status for s in found] == [FREE, BUSY, FREE, UNAVAILABLE]


@pytest.mark.parametrize(
    ("bookings", "start", "end", "expected"),
    [
        ([], "08:00", "09:00", 0),
        ([iv("08:00", "08:30"), iv("08:30", "09:00")], "08:00", "09:00", 1),
        ([iv("08:00", "08:30"), iv("08:15", "08:45")], "08:00", "09:00", 2),
        ([iv("08:00", "08:30"), iv("08:15", "08:45")], "08:30", "09:00", 1),
        ([iv("07:00", "08:00")], "08:00", "09:00", 0),
    ],
)
def test_most_at_once(bookings, start, end, expected):
    assert most_at_once(bookings, t(start), t(end)) == expected


@pytest.mark.parametrize(
    ("start", "minutes", "blocks", "bookings", "overbook", "message"),
    [
        ("08:00", 15, [], [], False, ""),
        (
            "07:45",
            15,
            [],
            [],
            False,
            "07:45 is outside the provider's sessions that day (08:00-09:00)",
        ),
        ("08:45", 30, [], [], False, "would run past the end of the provider's session at 09:00"),
        (
            "08:00",
            15,
            [iv("08:10", "08:20", "Huddle")],
            [],
            False,
            "That time is blocked from 08:10 to 08:20 (Huddle).",
        ),
        (
            "08:00",
            15,
            [],
            [iv("08:00", "08:15", "Follow-up")],
            False,
            "already booked at that time (08:00-08:15, Follow-up); this session allows 1 at once",
        ),
        ("08:00", 15, [], [iv("08:00", "08:15", "Follow-up")], True, ""),
        ("08:00", 15, [iv("08:00", "08:15")], [], True, "blocked"),
    ],
)
def test_why_not_bookable(start, minutes, blocks, bookings, overbook, message):
    answer = why_not_bookable(
        sessions=[MORNING],
        blocks=blocks,
        bookings=bookings,
        start=t(start),
        minutes=minutes,
        overbook=overbook,
    )
    assert (message in answer) if message else answer == ""


def test_no_sessions_at_all_says_so():
    answer = why_not_bookable(sessions=[], blocks=[], bookings=[], start=t("08:00"), minutes=15)
    assert answer == "The provider has no clinic session that day for this appointment type."
