"""The demo clinics' schedule: rooms, appointment types, provider sessions, blocked time, and
appointments for today and the next five working days; and today's board already under way.

Deterministic: everything follows from the load date and the seed (public ids from a seeded
random generator, times from the date), so two loads on the same day are identical. Written
directly, like the rest of the demo (no actor, no audit, no reminders), but by the same rules
the services enforce: appointments only inside sessions, outside blocked time, within the
session's capacity (scheduling/slots.py decides), and stage moves only along
encounters/stages.TRANSITIONS.
"""

import datetime as dt
import random
import uuid
from dataclasses import dataclass

from medassist.clinics.models import Clinic, Room
from medassist.demo.generator import CLINICS, CLOSED, SEED
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.stages import TRANSITIONS, Stage
from medassist.patients.models import Patient
from medassist.scheduling import slots
from medassist.scheduling.defaults import create_standard_types
from medassist.scheduling.models import Appointment, ScheduleBlock, ScheduleTemplate

WORKING_DAYS_AHEAD = 5
# Morning sessions take one double-booking per slot (same-day sick visits squeezed in, as most
# family practices do); afternoons do not.
SESSIONS = ((dt.time(8), dt.time(12), 2), (dt.time(13), dt.time(17), 1))
SLOT_MINUTES = 20
# How full the days ahead are: nearer days fuller (athenahealth's benchmark "fill rate" runs
# 80-90% for the next day and falls off over the week).
FILL_BY_DAYS_AHEAD = {0: 0.55, 1: 0.85, 2: 0.75, 3: 0.65, 4: 0.55, 5: 0.45}

# The generator's visit types, as this clinic's appointment types.
TYPE_OF_VISIT = {
    "Follow-up": "follow-up",
    "Telehealth follow-up": "telehealth",
    "Well child": "well-child",
    "Sick visit": "same-day",
    "Annual physical": "physical",
    "Medicare wellness": "physical",
    "New patient": "new-patient",
}

# What a booked day is made of, by age group: (type code, weight, reason).
MIX = {
    "child": (
        ("well-child", 40, "Well-child visit"),
        ("follow-up", 15, "Asthma follow-up"),
        ("immunization", 15, "Vaccines due"),
        ("same-day", 15, "Sore throat"),
        ("telehealth", 5, "ADHD medication check"),
        ("new-patient", 10, "New patient, establishing care"),
    ),
    "adult": (
        ("follow-up", 35, "Blood pressure follow-up"),
        ("physical", 20, "Annual physical"),
        ("telehealth", 10, "Lab results review"),
        ("procedure", 7, "Skin lesion removal"),
        ("new-patient", 10, "New patient, establishing care"),
        ("immunization", 8, "Flu shot"),
        ("same-day", 10, "Cough"),
    ),
}

# Today's board: the first visits of the day have already moved on, each to one stage further
# along the path (so every column of the flow board holds someone at load time).
PATH = (
    Stage.ARRIVED,
    Stage.ROOMED,
    Stage.READY_FOR_PROVIDER,
    Stage.WITH_PROVIDER,
    Stage.READY_FOR_CHECKOUT,
    Stage.DONE,
)
# Minutes after the booked start at which each move happened (arrival a little early).
AT_MINUTES = {
    Stage.ARRIVED: -10,
    Stage.ROOMED: 2,
    Stage.READY_FOR_PROVIDER: 12,
    Stage.WITH_PROVIDER: 16,
    Stage.READY_FOR_CHECKOUT: 34,
    Stage.DONE: 41,
}
BOARD = (
    Stage.DONE,
    Stage.READY_FOR_CHECKOUT,
    Stage.WITH_PROVIDER,
    Stage.READY_FOR_PROVIDER,
    Stage.ROOMED,
    Stage.ARRIVED,
)
IN_ROOM = {Stage.ROOMED, Stage.READY_FOR_PROVIDER, Stage.WITH_PROVIDER}


@dataclass(frozen=True)
class Written:
    appointments: int
    encounters: int  # the visits booked ahead (today's planned ones were already written)
    templates: int
    rooms: int


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def working_days(today: dt.date, ahead: int = WORKING_DAYS_AHEAD) -> list[dt.date]:
    """Today and the next `ahead` days the clinics are open (weekdays, not holidays)."""
    days, day = [today], today
    while len(days) <= ahead:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and (day.month, day.day) not in CLOSED:
            days.append(day)
    return days


def _at(day: dt.date, t: dt.time, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, t, tzinfo=tz)


def write_schedule(
    *, today: dt.date, tz: dt.tzinfo, clinics: dict[str, Clinic], users: dict, seed: int = SEED
) -> Written:
    days = working_days(today)
    morning = _at(today, dt.time(7), tz)  # when the demo's "setup" happened, for timestamps
    n_appointments = n_encounters = n_templates = n_rooms = 0
    for plan in CLINICS:
        clinic = clinics[plan.code]
        rng = random.Random(f"{seed}:{plan.code}:schedule")
        provider = users[plan.provider]
        n_rooms += _rooms(clinic, morning)
        types = create_standard_types(clinic)
        weekdays = sorted({d.weekday() for d in days} | set(range(5)))
        templates = [
            ScheduleTemplate(
                clinic=clinic,
                provider=provider,
                weekday=weekday,
                start_time=start,
                end_time=end,
                slot_minutes=SLOT_MINUTES,
                max_per_slot=cap,
            )
            for weekday in weekdays
            for start, end, cap in SESSIONS
        ]
        ScheduleTemplate.objects.bulk_create(templates)
        n_templates += len(templates)
        blocks = _blocks(clinic, provider, days, tz, users)
        appointments, encounters = _appointments(
            rng, clinic, provider, types, templates, blocks, days, today, tz, users
        )
        n_appointments += appointments
        n_encounters += encounters
    return Written(n_appointments, n_encounters, n_templates, n_rooms)


def _rooms(clinic: Clinic, at: dt.datetime) -> int:
    names = [(f"Exam {i}", "exam") for i in range(1, 7)] + [("Procedure", "procedure")]
    rooms = [
        Room(
            public_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{clinic.code}:room:{name}"),
            clinic=clinic,
            name=name,
            kind=kind,
            sort_order=i,
            status_since=at,
        )
        for i, (name, kind) in enumerate(names, start=1)
    ]
    Room.objects.bulk_create(rooms)
    return len(rooms)


def _blocks(clinic, provider, days, tz, users) -> list[ScheduleBlock]:  # type: ignore[no-untyped-def]
    """A weekly staff meeting on the first Wednesday ahead, and the provider's admin hour on
    the last afternoon of the week shown."""
    manager = users["dana"]
    made = []
    wednesday = next((d for d in days[1:] if d.weekday() == 2), None)
    if wednesday:
        made.append(
            ScheduleBlock(
                public_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{clinic.code}:meeting"),
                clinic=clinic,
                provider=None,
                start=_at(wednesday, dt.time(13), tz),
                end=_at(wednesday, dt.time(14), tz),
                reason="Staff meeting",
                created_by=manager,
            )
        )
    last = days[-1]
    made.append(
        ScheduleBlock(
            public_id=uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{clinic.code}:admin"),
            clinic=clinic,
            provider=provider,
            start=_at(last, dt.time(16), tz),
            end=_at(last, dt.time(17), tz),
            reason="Charting and inbox",
            created_by=manager,
        )
    )
    ScheduleBlock.objects.bulk_create(made)
    return made


def _appointments(
    rng, clinic, provider, types, templates, blocks, days, today, tz, users
) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    sessions_of = {
        day: [
            slots.Session(
                _at(day, t.start_time, tz), _at(day, t.end_time, tz), SLOT_MINUTES, t.max_per_slot
            )
            for t in templates
            if t.weekday == day.weekday()
        ]
        for day in days
    }
    blocks_of = {
        day: [slots.Interval(b.start, b.end, b.reason) for b in blocks if b.start.date() == day]
        for day in days
    }
    # Today's visits the generator planned: give each its appointment.
    planned = list(
        Encounter.objects.filter(clinic=clinic, stage=Stage.SCHEDULED)
        .select_related("patient")
        .order_by("period_start", "public_id")
    )
    booked: dict[dt.date, list[slots.Interval]] = {day: [] for day in days}
    rows: list[Appointment] = []
    for enc in planned:
        kind = types[TYPE_OF_VISIT.get(enc.visit_type, "same-day")]
        enc.visit_type = kind.name
        rows.append(_appointment(rng, clinic, enc, kind, enc.period_start, today, tz, users))
        day = enc.period_start.astimezone(tz).date()
        booked.setdefault(day, []).append(slots.Interval(enc.period_start, rows[-1].end))
    Encounter.objects.bulk_update(planned, ["visit_type"])

    # The rest: patients drawn at random, each booked once, in the open slots.
    taken = {e.patient_id for e in planned}
    pool = list(
        Patient.objects.filter(clinic=clinic)
        .exclude(pk__in=taken)
        .order_by("public_id")
        .only("pk", "birth_date", "clinic_id", "public_id")
    )
    rng.shuffle(pool)
    new_encounters: list[Encounter] = []
    for ahead, day in enumerate(days):
        fill = FILL_BY_DAYS_AHEAD.get(ahead, 0.45)
        not_before = _at(day, dt.time(12), tz) if day == today else None  # today: afternoon only
        for start in _starts(sessions_of[day], blocks_of[day], not_before):
            if rng.random() > fill or not pool:
                continue
            patient = pool.pop()
            group = "child" if (day - patient.birth_date).days < 18 * 365.25 else "adult"
            code, reason = _pick(rng, MIX[group])
            kind = types[code]
            end = start + dt.timedelta(minutes=kind.minutes)
            problem = slots.why_not_bookable(
                sessions=sessions_of[day],
                blocks=blocks_of[day],
                bookings=booked[day],
                start=start,
                minutes=kind.minutes,
            )
            if problem:
                pool.insert(0, patient)
                continue
            booked[day].append(slots.Interval(start, end))
            enc = Encounter(
                public_id=_uuid(rng),
                patient=patient,
                clinic=clinic,
                provider=provider,
                stage=Stage.SCHEDULED,
                kind=kind.kind,
                visit_type=kind.name,
                reason=reason,
                period_start=start,
            )
            new_encounters.append(enc)
            rows.append(_appointment(rng, clinic, enc, kind, start, today, tz, users))
    for enc in new_encounters:
        booked_at = _booked_at(rng, enc.period_start, today, tz)
        enc.created_at = enc.updated_at = enc.stage_since = booked_at
        enc.created_by = users["gwen"] if clinic.code == "north" else users["carol"]
    Encounter.objects.bulk_create(new_encounters)
    Appointment.objects.bulk_create(rows)
    _board(clinic, today, tz, users)
    return len(rows), len(new_encounters)


def _starts(sessions, blocks, not_before) -> list[dt.datetime]:  # type: ignore[no-untyped-def]
    return [
        s.start
        for s in slots.day_slots(
            sessions=sessions, blocks=blocks, bookings=[], not_before=not_before
        )
        if s.is_free
    ]


def _pick(rng: random.Random, mix: tuple[tuple[str, int, str], ...]) -> tuple[str, str]:
    total = sum(w for _, w, _ in mix)
    r = rng.uniform(0, total)
    for code, weight, reason in mix:
        r -= weight
        if r <= 0:
            return code, reason
    return mix[-1][0], mix[-1][2]


def _booked_at(
    rng: random.Random, start: dt.datetime, today: dt.date, tz: dt.tzinfo
) -> dt.datetime:
    """When the visit was booked: days to weeks before it, never after the demo's morning."""
    days_before = rng.randint(1, 40)
    booked = _at(start.astimezone(tz).date() - dt.timedelta(days=days_before), dt.time(10), tz)
    return min(booked, _at(today, dt.time(7), tz))


def _appointment(rng, clinic, enc, kind, start, today, tz, users) -> Appointment:  # type: ignore[no-untyped-def]
    made = _booked_at(rng, start, today, tz)
    return Appointment(
        public_id=_uuid(rng),
        clinic=clinic,
        patient_id=enc.patient_id,
        provider_id=enc.provider_id,
        appointment_type=kind,
        encounter=enc,
        start=start,
        end=start + dt.timedelta(minutes=kind.minutes),
        reason=enc.reason,
        created_at=made,
        updated_at=made,
        created_by=users["gwen"] if clinic.code == "north" else users["carol"],
    )


def _board(clinic: Clinic, today: dt.date, tz: dt.tzinfo, users: dict) -> None:
    """Move today's first visits along the clinic-day path, one stage further each, with the
    StageChange rows the flow board and the cycle-time report read."""
    plan = next(p for p in CLINICS if p.code == clinic.code)
    ma = users[plan.medical_assistant]
    lo = _at(today, dt.time(0), tz)
    todays = list(
        Appointment.objects.filter(
            clinic=clinic, start__gte=lo, start__lt=lo + dt.timedelta(days=1)
        )
        .select_related("encounter")
        .order_by("start", "public_id")
    )
    rooms = list(Room.objects.filter(clinic=clinic, kind="exam").order_by("sort_order"))
    changes: list[StageChange] = []
    encounters: list[Encounter] = []
    used_rooms: list[Room] = []
    for appt, target in zip(todays, BOARD, strict=False):
        enc = appt.encounter
        previous = Stage.SCHEDULED
        for stage in PATH[: PATH.index(target) + 1]:
            assert stage in TRANSITIONS[previous], (previous, stage)  # noqa: S101 (demo invariant)
            at = appt.start + dt.timedelta(minutes=AT_MINUTES[stage])
            who = (
                users[plan.provider]
                if stage in {Stage.WITH_PROVIDER, Stage.READY_FOR_CHECKOUT}
                else ma
            )
            changes.append(
                StageChange(encounter=enc, from_stage=previous, to_stage=stage, at=at, by=who)
            )
            previous = stage
        enc.stage = target
        enc.stage_since = changes[-1].at
        enc.version = 1 + len(PATH[: PATH.index(target) + 1])
        enc.updated_at = changes[-1].at
        enc.period_start = appt.start + dt.timedelta(minutes=AT_MINUTES[Stage.ARRIVED])
        if target != Stage.ARRIVED:
            enc.medical_assistant = ma
        if target == Stage.DONE:
            enc.period_end = changes[-1].at
        if target in IN_ROOM:
            room = rooms[len(used_rooms)]
            room.status = Room.Status.OCCUPIED
            room.status_since = changes[1].at  # when the patient was roomed
            used_rooms.append(room)
            enc.room = room
        encounters.append(enc)
    Encounter.objects.bulk_update(
        encounters,
        ["stage", "stage_since", "version", "updated_at", "period_start", "period_end",
         "medical_assistant", "room"],
    )  # fmt: skip
    StageChange.objects.bulk_create(changes)
    Room.objects.bulk_update(used_rooms, ["status", "status_since"])
