import datetime as dt
import zoneinfo

from medassist.scheduling.defaults import create_standard_types
from medassist.scheduling.models import ScheduleBlock, ScheduleTemplate

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
# A Monday, early morning in the clinic's time zone: "now" in most scheduling tests.
MONDAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 7, 0, tzinfo=CHICAGO)


def at(day: dt.date, hhmm: str) -> dt.datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m), tzinfo=CHICAGO)


def make_types(clinic):
    return create_standard_types(clinic)


def make_template(
    clinic,
    provider,
    weekday=0,
    start="08:00",
    end="12:00",
    *,
    slot_minutes=20,
    max_per_slot=1,
    types=(),
    **fields,
) -> ScheduleTemplate:
    template = ScheduleTemplate.objects.create(
        clinic=clinic,
        provider=provider,
        weekday=weekday,
        start_time=dt.time.fromisoformat(start),
        end_time=dt.time.fromisoformat(end),
        slot_minutes=slot_minutes,
        max_per_slot=max_per_slot,
        **fields,
    )
    template.appointment_types.set(types)
    return template


def make_week(clinic, provider, **kw) -> list[ScheduleTemplate]:
    """Monday to Friday, 8-12 and 13-17."""
    return [
        make_template(clinic, provider, day, start, end, **kw)
        for day in range(5)
        for start, end in (("08:00", "12:00"), ("13:00", "17:00"))
    ]


def make_block(clinic, start, end, reason="Staff meeting", provider=None) -> ScheduleBlock:
    return ScheduleBlock.objects.create(
        clinic=clinic, provider=provider, start=start, end=end, reason=reason
    )


def make_appointment(patient, provider, type_, start, **fields):
    """An appointment written directly (no service, no validation, no reminder)."""
    from medassist.encounters.models import Encounter
    from medassist.scheduling.models import Appointment

    encounter = Encounter.objects.create(
        patient=patient,
        clinic=patient.clinic,
        provider=provider,
        period_start=start,
        visit_type=type_.name,
        stage=fields.pop("stage", "scheduled"),
    )
    return Appointment.objects.create(
        clinic=patient.clinic,
        patient=patient,
        provider=provider,
        appointment_type=type_,
        encounter=encounter,
        start=start,
        end=start + dt.timedelta(minutes=type_.minutes),
        **fields,
    )
