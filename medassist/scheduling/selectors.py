"""Reads of the schedule, scoped to the actor. Each runs a fixed number of queries however many
appointments a day holds (the day view is the busiest page of the front desk)."""

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.encounters.stages import Stage
from medassist.events.models import OutboxMessage
from medassist.scheduling import slots
from medassist.scheduling.models import (
    Appointment,
    AppointmentType,
    ReminderPreference,
    ScheduleBlock,
    ScheduleTemplate,
    WaitlistEntry,
)

# A cancelled or missed visit no longer holds its time.
NOT_HOLDING_TIME = (Stage.CANCELLED, Stage.NO_SHOW)
# How far ahead "first open slot" looks.
SEARCH_DAYS = 42


def clinic_tz() -> dt.tzinfo:
    return timezone.get_default_timezone()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = clinic_tz()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)


def schedule_clinics(actor: Actor, perm: Permission = Permission.VIEW_SCHEDULE) -> QuerySet[Clinic]:
    """The clinics whose schedule the actor may see (or change, with another `perm`)."""
    if not actor.user.is_authenticated:
        return Clinic.objects.none()
    return Clinic.objects.filter(pk__in=actor.clinics_with(perm)).order_by("name")


def _require(actor: Actor, perm: Permission, clinic: Clinic) -> None:
    if not can(actor, perm, clinic):
        raise PermissionDenied("Your role may not do this at this clinic.")


def appointment_types_for(actor: Actor, clinic: Clinic) -> list[AppointmentType]:
    """The clinic's active appointment types, in the order the clinic lists them."""
    _require(actor, Permission.VIEW_SCHEDULE, clinic)
    return list(AppointmentType.objects.filter(clinic=clinic, active=True))


# --- the calendar: templates, blocks and bookings over a range of days, in three queries ---


@dataclass
class Calendar:
    templates: list[ScheduleTemplate]
    blocks: list[ScheduleBlock]
    bookings: list[Appointment]

    def sessions(self, provider_id: int, day: dt.date, type_id: int | None) -> list[slots.Session]:
        mine = [t for t in self.templates if t.provider_id == provider_id]
        return slots.sessions_from_templates(mine, day, clinic_tz(), type_id)

    def blocks_of(self, provider_id: int, day: dt.date) -> list[slots.Interval]:
        lo, hi = day_bounds(day)
        tz = clinic_tz()
        return [
            slots.Interval(b.start.astimezone(tz), b.end.astimezone(tz), b.reason)
            for b in self.blocks
            if b.provider_id in (None, provider_id) and b.start < hi and b.end > lo
        ]

    def bookings_of(
        self, provider_id: int, day: dt.date, exclude: Iterable[int] = ()
    ) -> list[slots.Interval]:
        lo, hi = day_bounds(day)
        tz = clinic_tz()
        skip = set(exclude)
        return [
            slots.Interval(a.start.astimezone(tz), a.end.astimezone(tz), a.appointment_type.name)
            for a in self.bookings
            if a.provider_id == provider_id and a.start < hi and a.end > lo and a.pk not in skip
        ]


def calendar(
    clinic_id: int, first_day: dt.date, last_day: dt.date, provider_id: int | None = None
) -> Calendar:
    """What decides availability at a clinic from `first_day` to `last_day` (inclusive). An
    internal building block for services and selectors: it checks no permission itself."""
    lo, _ = day_bounds(first_day)
    _, hi = day_bounds(last_day)
    templates = ScheduleTemplate.objects.filter(clinic_id=clinic_id).prefetch_related(
        "appointment_types"
    )
    blocks = ScheduleBlock.objects.filter(clinic_id=clinic_id, start__lt=hi, end__gt=lo)
    bookings = (
        Appointment.objects.filter(clinic_id=clinic_id, start__lt=hi, end__gt=lo)
        .exclude(encounter__stage__in=NOT_HOLDING_TIME)
        .select_related("appointment_type")
    )
    if provider_id is not None:
        templates = templates.filter(provider_id=provider_id)
        blocks = blocks.filter(Q(provider_id=provider_id) | Q(provider__isnull=True))
        bookings = bookings.filter(provider_id=provider_id)
    return Calendar(list(templates), list(blocks), list(bookings))


# --- first open slot ---


@dataclass(frozen=True)
class OpenSlot:
    provider: Any
    start: dt.datetime
    end: dt.datetime


def first_open_slots(
    actor: Actor,
    clinic: Clinic,
    appointment_type: AppointmentType,
    provider: Any = None,
    after: dt.datetime | None = None,
    limit: int = 5,
) -> list[OpenSlot]:
    """The earliest `limit` starts at which a visit of this type can be booked at the clinic
    (with `provider`, or any provider), not before `after` (default: now). Looks SEARCH_DAYS
    ahead; a same-day-only type looks at today only."""
    _require(actor, Permission.VIEW_SCHEDULE, clinic)
    now = clock.now()
    after = max(after or now, now)
    first_day = timezone.localdate(after, clinic_tz())
    last_day = first_day + dt.timedelta(days=SEARCH_DAYS - 1)
    if appointment_type.same_day_only:
        if first_day != clock.today():
            return []
        last_day = first_day
    cal = calendar(clinic.pk, first_day, last_day, getattr(provider, "pk", None))
    provider_ids = sorted({t.provider_id for t in cal.templates})
    found: list[tuple[dt.datetime, int, dt.datetime]] = []
    day = first_day
    while day <= last_day and len(found) < limit:
        todays = []
        for pid in provider_ids:
            for s in slots.free_slots(
                sessions=cal.sessions(pid, day, appointment_type.pk),
                blocks=cal.blocks_of(pid, day),
                bookings=cal.bookings_of(pid, day),
                minutes=appointment_type.minutes,
                not_before=after,
            ):
                todays.append((s.start, pid, s.end))
        found.extend(sorted(todays))
        day += dt.timedelta(days=1)
    users = get_user_model().objects.in_bulk({pid for _, pid, _ in found[:limit]})
    return [OpenSlot(users[pid], start, end) for start, pid, end in found[:limit]]


def slots_for(
    actor: Actor,
    clinic: Clinic,
    day: dt.date,
    provider: Any = None,
    appointment_type: AppointmentType | None = None,
) -> list[tuple[int, slots.Slot]]:
    """Every grid slot of the day at the clinic, per provider id, with its FHIR Slot status
    (free / busy / busy-unavailable), for a visit of `appointment_type` (default: one slot).
    Three queries whatever the number of providers or bookings (for FHIR Slot search)."""
    _require(actor, Permission.VIEW_SCHEDULE, clinic)
    cal = calendar(clinic.pk, day, day, getattr(provider, "pk", None))
    type_id = appointment_type.pk if appointment_type else None
    minutes = appointment_type.minutes if appointment_type else None
    found: list[tuple[int, slots.Slot]] = []
    for pid in sorted({t.provider_id for t in cal.templates}):
        for s in slots.day_slots(
            sessions=cal.sessions(pid, day, type_id),
            blocks=cal.blocks_of(pid, day),
            bookings=cal.bookings_of(pid, day),
            minutes=minutes,
        ):
            found.append((pid, s))
    return found


# --- the day view ---


@dataclass
class ProviderColumn:
    provider: Any
    sessions: list[slots.Session] = field(default_factory=list)
    blocks: list[ScheduleBlock] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)

    @property
    def booked(self) -> int:
        return sum(1 for a in self.appointments if a.encounter.stage not in NOT_HOLDING_TIME)


@dataclass
class DaySchedule:
    clinic: Clinic
    day: dt.date
    columns: list[ProviderColumn]
    clinic_blocks: list[ScheduleBlock]

    @property
    def appointments(self) -> list[Appointment]:
        return sorted((a for c in self.columns for a in c.appointments), key=lambda a: a.start)


def day_schedule(actor: Actor, clinic: Clinic, day: dt.date) -> DaySchedule:
    """The clinic's day: one column per provider with a session or a booking that day, each
    with its appointments (encounter, patient, provider and type loaded) and blocked time.
    Records the read (the schedule shows who is coming)."""
    _require(actor, Permission.VIEW_SCHEDULE, clinic)
    lo, hi = day_bounds(day)
    cal = calendar(clinic.pk, day, day)
    appointments = list(
        Appointment.objects.filter(clinic=clinic, start__gte=lo, start__lt=hi)
        .select_related("encounter", "patient", "provider", "appointment_type")
        .order_by("start", "id")
    )
    provider_ids = {t.provider_id for t in cal.templates if cal.sessions(t.provider_id, day, None)}
    provider_ids |= {a.provider_id for a in appointments}
    provider_ids |= {b.provider_id for b in cal.blocks if b.provider_id}
    users = get_user_model().objects.in_bulk(provider_ids)
    columns = {pid: ProviderColumn(users[pid], cal.sessions(pid, day, None)) for pid in users}
    for block in cal.blocks:
        if block.provider_id in columns:
            columns[block.provider_id].blocks.append(block)
    for appt in appointments:
        columns[appt.provider_id].appointments.append(appt)
    record(
        actor,
        Action.READ,
        "Schedule",
        clinic_id=clinic.pk,
        entity_id=day.isoformat(),
        description=f"day schedule, {len(appointments)} appointments",
    )
    ordered = sorted(
        columns.values(), key=lambda c: (c.provider.last_name, c.provider.first_name, c.provider.pk)
    )
    return DaySchedule(clinic, day, ordered, [b for b in cal.blocks if b.provider_id is None])


# --- one appointment ---


def visible_appointments(
    actor: Actor, perm: Permission = Permission.VIEW_SCHEDULE
) -> QuerySet[Appointment]:
    if not actor.user.is_authenticated:
        return Appointment.objects.none()
    return Appointment.objects.filter(clinic_id__in=actor.clinics_with(perm))


def get_appointment(
    actor: Actor, public_id: uuid.UUID | str, perm: Permission = Permission.VIEW_SCHEDULE
) -> Appointment:
    """One appointment with its visit, patient, provider and type, or 404 (absent and out of
    reach look the same). Records the read."""
    appt = (
        visible_appointments(actor, perm)
        .select_related(
            "encounter", "patient", "provider", "appointment_type", "clinic", "rescheduled_from"
        )
        .filter(public_id=public_id)
        .first()
    )
    if appt is None:
        raise out_of_reach(actor, "Appointment", public_id, message="No such appointment")
    record(actor, Action.READ, "Appointment", patient=appt.patient, entity_id=str(public_id))
    return appt


def reminder_deliveries(appointment: Appointment) -> list[OutboxMessage]:
    """The reminders queued for this appointment and how each went."""
    return list(
        OutboxMessage.objects.filter(subject=str(appointment.public_id)).order_by(
            "available_at", "id"
        )
    )


def reminder_opt_outs(patient: Any) -> list[str]:
    """The channels on which the patient asked not to be reminded."""
    return sorted(
        ReminderPreference.objects.filter(patient=patient, opted_out=True).values_list(
            "channel", flat=True
        )
    )


# --- waitlist ---


def open_waitlist(actor: Actor, clinic: Clinic) -> list[WaitlistEntry]:
    _require(actor, Permission.VIEW_SCHEDULE, clinic)
    return list(
        WaitlistEntry.objects.filter(clinic=clinic, resolved_at__isnull=True)
        .select_related("patient", "provider", "appointment_type")
        .order_by("created_at", "id")
    )


def get_waitlist_entry(
    actor: Actor, public_id: uuid.UUID | str, perm: Permission = Permission.BOOK_APPOINTMENT
) -> WaitlistEntry:
    if not actor.user.is_authenticated:
        raise Http404("No such waitlist entry")
    entry = (
        WaitlistEntry.objects.filter(clinic_id__in=actor.clinics_with(perm), public_id=public_id)
        .select_related("patient", "provider", "appointment_type", "clinic")
        .first()
    )
    if entry is None:
        raise Http404("No such waitlist entry")
    return entry


@dataclass
class Opening:
    """A freed time (a cancelled appointment, still in the future and still free) and the
    waitlist entries it could be offered to, longest waiting first."""

    provider: Any
    start: dt.datetime
    end: dt.datetime
    freed_by: Appointment
    entries: list[WaitlistEntry]


def waitlist_openings(actor: Actor, clinic: Clinic, entries: list[WaitlistEntry]) -> list[Opening]:
    """Openings left by cancellations from now on (up to SEARCH_DAYS), each with the fitting
    open waitlist entries: same provider or any, type no longer than the opening, date within
    the entry's range."""
    _require(actor, Permission.VIEW_SCHEDULE, clinic)
    now = clock.now()
    last_day = clock.today() + dt.timedelta(days=SEARCH_DAYS)
    freed = list(
        Appointment.objects.filter(clinic=clinic, start__gte=now, encounter__stage=Stage.CANCELLED)
        .filter(start__lt=day_bounds(last_day)[1])
        .select_related("provider", "appointment_type")
        .order_by("start", "id")
    )
    if not freed or not entries:
        return []
    cal = calendar(clinic.pk, clock.today(), last_day)
    openings: list[Opening] = []
    seen: set[tuple[int, dt.datetime]] = set()
    for appt in freed:
        key = (appt.provider_id, appt.start)
        if key in seen:
            continue
        seen.add(key)
        day = timezone.localdate(appt.start, clinic_tz())
        running = slots.most_at_once(cal.bookings_of(appt.provider_id, day), appt.start, appt.end)
        sessions = [s for s in cal.sessions(appt.provider_id, day, None) if s.start <= appt.start]
        capacity = max((s.max_per_slot for s in sessions), default=1)
        if running >= capacity:
            continue  # someone already took it
        fitting = [
            e
            for e in entries
            if e.provider_id in (None, appt.provider_id)
            and e.appointment_type.minutes <= appt.appointment_type.minutes
            and e.earliest <= day
            and (e.latest is None or day <= e.latest)
        ]
        if fitting:
            openings.append(Opening(appt.provider, appt.start, appt.end, appt, fitting))
    return openings


def blocks_for(actor: Actor, clinic: Clinic, first_day: dt.date) -> list[ScheduleBlock]:
    """Blocked time from `first_day` on, for the manage page."""
    _require(actor, Permission.MANAGE_SCHEDULE, clinic)
    lo, _ = day_bounds(first_day)
    return list(
        ScheduleBlock.objects.filter(clinic=clinic, end__gt=lo)
        .select_related("provider")
        .order_by("start", "id")[:200]
    )


def schedule_providers(clinic: Clinic) -> list[Any]:
    """The providers who hold sessions at the clinic (for pickers)."""
    ids = ScheduleTemplate.objects.filter(clinic=clinic).values_list("provider_id", flat=True)
    return list(get_user_model().objects.filter(pk__in=ids).order_by("last_name", "first_name"))


def get_block(actor: Actor, public_id: uuid.UUID | str) -> ScheduleBlock:
    if not actor.user.is_authenticated:
        raise Http404("No such block")
    block = ScheduleBlock.objects.filter(
        clinic_id__in=actor.clinics_with(Permission.MANAGE_SCHEDULE), public_id=public_id
    ).first()
    if block is None:
        raise Http404("No such block")
    return block


# --- pre-visit planning ---


@dataclass
class PrevisitRow:
    appointment: Appointment
    items: list[str]


def previsit_list(actor: Actor, clinic: Clinic, day: dt.date) -> list[PrevisitRow]:
    """Each patient booked on `day` (still scheduled) with the open items the registered
    checks find (scheduling/previsit.py), in a fixed number of queries. Records the read."""
    from medassist.scheduling.previsit import run_checks

    _require(actor, Permission.VIEW_SCHEDULE, clinic)
    lo, hi = day_bounds(day)
    appointments = list(
        Appointment.objects.filter(
            clinic=clinic, start__gte=lo, start__lt=hi, encounter__stage=Stage.SCHEDULED
        )
        .select_related("patient", "provider", "appointment_type", "encounter")
        .order_by("start", "id")
    )
    patients: dict[int, Any] = {}
    for appt in appointments:
        patient = patients.setdefault(appt.patient_id, appt.patient)
        patient.booked_types = getattr(patient, "booked_types", set()) | {
            appt.appointment_type.code
        }
    items = run_checks(list(patients.values()), day)
    record(
        actor,
        Action.READ,
        "Schedule.previsit",
        clinic_id=clinic.pk,
        entity_id=day.isoformat(),
        description=f"pre-visit list, {len(patients)} patients",
    )
    return [PrevisitRow(a, items.get(a.patient_id, [])) for a in appointments]


# --- the day grid (pure arithmetic over a DaySchedule, no queries) ---


@dataclass
class Cell:
    state: str  # "off", "open", "blocked", "busy", "cont"
    appointments: list[Appointment] = field(default_factory=list)
    label: str = ""
    type_ids: list[int] = field(default_factory=list)
    provider: Any = None


@dataclass
class GridRow:
    at: dt.datetime
    cells: list[Cell]


def day_grid(schedule: DaySchedule, step_minutes: int | None = None) -> list[GridRow]:
    """The day as rows of `step_minutes` (default: the shortest slot of the day's sessions)
    from the earliest session or booking to the latest, with one cell per provider column."""
    tz = clinic_tz()
    sessions = [s for c in schedule.columns for s in c.sessions]
    # Each column's own appointments, with their local start, looked at cell by cell: never
    # the whole day's list per cell (40 providers x 30 rows x 900 visits was most of the page).
    booked = [
        [(a.start.astimezone(tz), a) for a in column.appointments] for column in schedule.columns
    ]
    if not sessions and not schedule.appointments:
        return []
    step = dt.timedelta(minutes=step_minutes or min((s.slot_minutes for s in sessions), default=15))
    starts = [s.start for s in sessions] + [a.start.astimezone(tz) for a in schedule.appointments]
    ends = [s.end for s in sessions] + [a.end.astimezone(tz) for a in schedule.appointments]
    lo, hi = day_bounds(schedule.day)
    first = max(min(starts), lo)
    last = min(max(ends), hi)
    # start the grid on a whole step from midnight so times read 08:00, 08:15, ...
    first = lo + step * ((first - lo) // step)
    rows: list[GridRow] = []
    at = first
    clinic_blocks = [slots.Interval(b.start, b.end, b.reason) for b in schedule.clinic_blocks]
    while at < last:
        until = at + step
        cells = []
        for column, appointments in zip(schedule.columns, booked, strict=True):
            starting = [a for start, a in appointments if at <= start < until]
            running = [
                a
                for _, a in appointments
                if a.start < at < a.end and a.encounter.stage != Stage.CANCELLED
            ]
            blocks = [
                slots.Interval(b.start, b.end, b.reason) for b in column.blocks
            ] + clinic_blocks
            block = next((b for b in blocks if b.overlaps(at, until)), None)
            in_session = any(s.start <= at < s.end for s in column.sessions)
            if starting:
                cell = Cell("busy", starting, type_ids=[a.appointment_type_id for a in starting])
            elif running:
                cell = Cell("cont", type_ids=[running[0].appointment_type_id])
            elif block is not None:
                cell = Cell("blocked", label=block.label)
            elif in_session:
                cell = Cell("open")
            else:
                cell = Cell("off")
            cell.provider = column.provider
            cells.append(cell)
        rows.append(GridRow(at, cells))
        at = until
    return rows
