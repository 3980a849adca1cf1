"""Which times a provider can still be booked on a day. Pure: plain values in, plain values out.

The same arithmetic answers the booking form's "first open slot", the service's validation of a
booking and the FHIR Slot resource (free / busy / busy-unavailable, as FHIR R4 SlotStatus
spells them: http://hl7.org/fhir/R4/valueset-slotstatus.html), so the three can never disagree.

A provider's day is made of sessions (their ScheduleTemplate rows for that weekday). Each
session is cut into a grid of `slot_minutes`; a visit may start on any grid line and runs for
its type's minutes. A visit fits when it lies wholly inside one session, touches no blocked
time, and at no moment would there be `max_per_slot` visits or more already running (so a
template with max_per_slot=2 allows one double-booking at any time, OpenEMR's and athena's
"overbook slots").
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

FREE = "free"
BUSY = "busy"
UNAVAILABLE = "busy-unavailable"


@dataclass(frozen=True)
class Session:
    """One bookable stretch of a provider's day (from a ScheduleTemplate)."""

    start: dt.datetime
    end: dt.datetime
    slot_minutes: int = 15
    max_per_slot: int = 1
    type_ids: frozenset[int] = field(default_factory=frozenset)  # empty = every type

    def takes(self, type_id: int | None) -> bool:
        return not self.type_ids or type_id is None or type_id in self.type_ids


@dataclass(frozen=True)
class Interval:
    """Blocked time or an existing booking."""

    start: dt.datetime
    end: dt.datetime
    label: str = ""

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class Slot:
    start: dt.datetime
    end: dt.datetime
    status: str  # FREE, BUSY or UNAVAILABLE
    booked: int = 0
    capacity: int = 1

    @property
    def is_free(self) -> bool:
        return self.status == FREE


def sessions_from_templates(
    templates: Iterable, day: dt.date, tz: dt.tzinfo, type_id: int | None = None
) -> list[Session]:
    """The sessions that apply on `day` (weekday and validity dates), as aware datetimes in the
    clinic's time zone. `templates` are ScheduleTemplate-like objects; `type_ids` of each comes
    from its prefetched `appointment_types` (or an attribute `type_ids` on plain objects)."""
    sessions = []
    for t in templates:
        if t.weekday != day.weekday():
            continue
        if t.valid_from and day < t.valid_from:
            continue
        if t.valid_until and day > t.valid_until:
            continue
        ids = getattr(t, "type_ids", None)
        if ids is None:
            ids = frozenset(a.pk for a in t.appointment_types.all())
        session = Session(
            start=dt.datetime.combine(day, t.start_time, tzinfo=tz),
            end=dt.datetime.combine(day, t.end_time, tzinfo=tz),
            slot_minutes=t.slot_minutes,
            max_per_slot=t.max_per_slot,
            type_ids=frozenset(ids),
        )
        if session.takes(type_id):
            sessions.append(session)
    return sorted(sessions, key=lambda s: s.start)


def most_at_once(bookings: Sequence[Interval], start: dt.datetime, end: dt.datetime) -> int:
    """The largest number of `bookings` running at one moment within [start, end)."""
    overlapping = [b for b in bookings if b.overlaps(start, end)]
    if not overlapping:
        return 0
    moments = {start} | {b.start for b in overlapping if b.start > start}
    return max(sum(1 for b in overlapping if b.start <= m < b.end) for m in moments)


def why_not_bookable(
    *,
    sessions: Sequence[Session],
    blocks: Sequence[Interval],
    bookings: Sequence[Interval],
    start: dt.datetime,
    minutes: int,
    overbook: bool = False,
) -> str:
    """Why a visit of `minutes` cannot start at `start` ("" when it can). With `overbook`, a
    full slot is accepted (a double-booking approved by someone allowed to)."""
    end = start + dt.timedelta(minutes=minutes)
    session = next((s for s in sessions if s.start <= start and end <= s.end), None)
    if session is None:
        inside = next((s for s in sessions if s.start <= start < s.end), None)
        if inside is not None:
            return (
                f"A {minutes}-minute visit at {start:%H:%M} would run past the end of the "
                f"provider's session at {inside.end:%H:%M}."
            )
        if not sessions:
            return "The provider has no clinic session that day for this appointment type."
        hours = ", ".join(f"{s.start:%H:%M}-{s.end:%H:%M}" for s in sessions)
        return f"{start:%H:%M} is outside the provider's sessions that day ({hours})."
    for block in blocks:
        if block.overlaps(start, end):
            return f"That time is blocked from {block.start:%H:%M} to {block.end:%H:%M}" + (
                f" ({block.label})." if block.label else "."
            )
    if not overbook:
        running = most_at_once(bookings, start, end)
        if running >= session.max_per_slot:
            taken = [b for b in bookings if b.overlaps(start, end)]
            first = min(taken, key=lambda b: b.start)
            return (
                f"The provider is already booked at that time ({first.start:%H:%M}-"
                f"{first.end:%H:%M}"
                + (f", {first.label}" if first.label else "")
                + f"); this session allows {session.max_per_slot} at once."
            )
    return ""


def day_slots(
    *,
    sessions: Sequence[Session],
    blocks: Sequence[Interval],
    bookings: Sequence[Interval],
    minutes: int | None = None,
    not_before: dt.datetime | None = None,
) -> list[Slot]:
    """Every grid slot of the day with its FHIR status: a visit of `minutes` (default: the
    session's slot length) starting there is free, busy (full) or busy-unavailable (blocked,
    past, or running past the session's end)."""
    slots: list[Slot] = []
    for session in sessions:
        step = dt.timedelta(minutes=session.slot_minutes)
        length = dt.timedelta(minutes=minutes or session.slot_minutes)
        at = session.start
        while at + step <= session.end:
            end = at + length
            booked = most_at_once(bookings, at, end)
            if (
                end > session.end
                or (not_before is not None and at < not_before)
                or any(b.overlaps(at, end) for b in blocks)
            ):
                status = UNAVAILABLE
            elif booked >= session.max_per_slot:
                status = BUSY
            else:
                status = FREE
            slots.append(Slot(at, end, status, booked, session.max_per_slot))
            at += step
    return slots


def free_slots(
    *,
    sessions: Sequence[Session],
    blocks: Sequence[Interval],
    bookings: Sequence[Interval],
    minutes: int | None = None,
    not_before: dt.datetime | None = None,
) -> list[Slot]:
    """The open starts of the day for a visit of `minutes`, earliest first."""
    return [
        s
        for s in day_slots(
            sessions=sessions,
            blocks=blocks,
            bookings=bookings,
            minutes=minutes,
            not_before=not_before,
        )
        if s.is_free
    ]
