"""Changes to the schedule: book, reschedule, cancel, no-show, waitlist and blocked time. Each
checks permission, validates, writes, audits and queues its after-commit work in one
transaction. An appointment's status is its encounter's stage, so every change of status goes
through encounters.services.move_visit (with its optimistic version check)."""

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.encounters.models import Encounter
from medassist.encounters.services import move_visit
from medassist.encounters.stages import Stage
from medassist.patients.models import Patient
from medassist.scheduling import reminders, slots
from medassist.scheduling.models import (
    Appointment,
    AppointmentType,
    ReminderPreference,
    ScheduleBlock,
    WaitlistEntry,
)
from medassist.scheduling.selectors import NOT_HOLDING_TIME, calendar, clinic_tz

RESCHEDULED = "rescheduled"


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def may_double_book(actor: Actor, clinic: Clinic) -> bool:
    """Overbooking past a session's max_per_slot squeezes everyone's day; the clinic manager
    (who holds MANAGE_SCHEDULE) decides it, not whoever answers the phone."""
    return can(actor, Permission.MANAGE_SCHEDULE, clinic)


def _lock_for_booking(provider: Any, patient: Any) -> None:
    """Two desks booking the same provider (or the same patient) at the same moment: the second
    waits here until the first has committed, then checks against its booking. Without it,
    both could read the slot as free and both book it (PostgreSQL runs transactions side by
    side; SQLite already runs one writer at a time). Called inside the booking's transaction."""
    get_user_model().objects.select_for_update().filter(pk=provider.pk).values_list("pk").first()
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk").first()


def _check_bookable(
    *,
    actor: Actor,
    patient: Any,
    provider: Any,
    appointment_type: AppointmentType,
    start: dt.datetime,
    allow_double_booking: bool,
    ignore: tuple[int, ...] = (),
) -> None:
    if not can(actor, Permission.BOOK_APPOINTMENT, patient):
        raise PermissionDenied("Your role may not book appointments for this patient.")
    _lock_for_booking(provider, patient)
    clinic_id = appointment_type.clinic_id
    if patient.clinic_id != clinic_id:
        raise ValidationError("This appointment type belongs to another clinic.")
    if not appointment_type.active:
        raise ValidationError(f"{appointment_type.name} is no longer booked at this clinic.")
    if timezone.is_naive(start):
        raise ValidationError("The start time needs a time zone.")
    day = timezone.localdate(start, clinic_tz())
    today = clock.today()
    if day < today:
        raise ValidationError(f"{day:%a %d %b %Y} is in the past; book today or later.")
    if appointment_type.same_day_only and day != today:
        raise ValidationError(f"{appointment_type.name} slots are booked for today only.")
    if allow_double_booking and not may_double_book(actor, appointment_type.clinic):
        raise PermissionDenied("Only the clinic manager may book beyond a slot's capacity.")
    end = start + dt.timedelta(minutes=appointment_type.minutes)
    cal = calendar(clinic_id, day, day, provider.pk)
    sessions = cal.sessions(provider.pk, day, appointment_type.pk)
    if not sessions and cal.sessions(provider.pk, day, None):
        raise ValidationError(
            f"{_name(provider)} does not see {appointment_type.name} visits on {day:%A}s."
        )
    local = start.astimezone(clinic_tz())
    problem = slots.why_not_bookable(
        sessions=sessions,
        blocks=cal.blocks_of(provider.pk, day),
        bookings=cal.bookings_of(provider.pk, day, exclude=ignore),
        start=local,
        minutes=appointment_type.minutes,
        overbook=allow_double_booking,
    )
    if problem:
        raise ValidationError(f"{_name(provider)}: {problem}")
    clash = (
        Appointment.objects.filter(patient=patient, start__lt=end, end__gt=start)
        .exclude(encounter__stage__in=NOT_HOLDING_TIME)
        .exclude(pk__in=ignore)
        .select_related("provider", "appointment_type")
        .first()
    )
    if clash is not None:
        at = clash.start.astimezone(clinic_tz())
        raise ValidationError(
            f"{patient.given} {patient.family} is already booked at {at:%H:%M} on "
            f"{at:%a %d %b} with {_name(clash.provider)} ({clash.appointment_type.name})."
        )


def _book(
    *,
    actor: Actor,
    patient: Any,
    provider: Any,
    appointment_type: AppointmentType,
    start: dt.datetime,
    reason: str,
    note: str,
    allow_double_booking: bool,
    rescheduled_from: Appointment | None = None,
) -> Appointment:
    _check_bookable(
        actor=actor,
        patient=patient,
        provider=provider,
        appointment_type=appointment_type,
        start=start,
        allow_double_booking=allow_double_booking,
    )
    now = clock.now()
    encounter = Encounter.objects.create(
        patient=patient,
        clinic_id=appointment_type.clinic_id,
        provider=provider,
        stage=Stage.SCHEDULED,
        stage_since=now,
        kind=appointment_type.kind,
        visit_type=appointment_type.name[:60],
        reason=reason[:300],
        period_start=start,
        created_by_id=actor.user_id,
    )
    appointment = Appointment.objects.create(
        clinic_id=appointment_type.clinic_id,
        patient=patient,
        provider=provider,
        appointment_type=appointment_type,
        encounter=encounter,
        start=start,
        end=start + dt.timedelta(minutes=appointment_type.minutes),
        reason=reason[:300],
        note=note[:300],
        rescheduled_from=rescheduled_from,
        created_by_id=actor.user_id,
    )
    local = start.astimezone(clinic_tz())
    record(
        actor,
        Action.CREATE,
        "Appointment",
        patient=patient,
        entity_id=str(appointment.public_id),
        description=(
            f"{appointment_type.name} with {_name(provider)} at {local:%Y-%m-%d %H:%M}"
            + (" (double-booked)" if allow_double_booking else "")
            + (f", rescheduled from {rescheduled_from.public_id}" if rescheduled_from else "")
        ),
    )
    reminders.queue_reminders(appointment)
    return appointment


def book_appointment(
    *,
    actor: Actor,
    patient: Any,
    provider: Any,
    appointment_type: AppointmentType,
    start: dt.datetime,
    reason: str = "",
    note: str = "",
    allow_double_booking: bool = False,
) -> Appointment:
    """Book the patient with the provider at `start` for a visit of `appointment_type`: creates
    the scheduled encounter and the appointment, audits, and queues the reminder (sent after
    commit). Raises PermissionDenied, or ValidationError naming the conflict."""
    with transaction.atomic():
        return _book(
            actor=actor,
            patient=patient,
            provider=provider,
            appointment_type=appointment_type,
            start=start,
            reason=reason,
            note=note,
            allow_double_booking=allow_double_booking,
        )


def _still_scheduled(appointment: Appointment, doing: str) -> None:
    stage = appointment.encounter.stage
    if stage != Stage.SCHEDULED:
        label = Stage(stage).label.lower()
        raise ValidationError(f"Only a scheduled visit can be {doing}; this one is {label}.")


def reschedule_appointment(
    *,
    actor: Actor,
    appointment: Appointment,
    start: dt.datetime,
    expected_version: int,
    provider: Any = None,
    appointment_type: AppointmentType | None = None,
    note: str = "",
    allow_double_booking: bool = False,
) -> Appointment:
    """Move a booked visit to another time (and optionally provider or type): a new appointment
    that remembers the old one (rescheduled_from); the old visit is cancelled as "rescheduled",
    so the day's record keeps what was planned. The patient's own old booking does not count
    as a clash with the new one."""
    _still_scheduled(appointment, "rescheduled")
    with transaction.atomic():
        new_type = appointment_type or appointment.appointment_type
        new_provider = provider or appointment.provider
        _check_bookable(
            actor=actor,
            patient=appointment.patient,
            provider=new_provider,
            appointment_type=new_type,
            start=start,
            allow_double_booking=allow_double_booking,
            ignore=(appointment.pk,),
        )
        move_visit(
            actor=actor,
            encounter=appointment.encounter,
            to=Stage.CANCELLED,
            expected_version=expected_version,
            note=RESCHEDULED,
        )
        Appointment.objects.filter(pk=appointment.pk).update(
            cancel_reason=RESCHEDULED, updated_at=clock.now()
        )
        appointment.cancel_reason = RESCHEDULED
        return _book(
            actor=actor,
            patient=appointment.patient,
            provider=new_provider,
            appointment_type=new_type,
            start=start,
            reason=appointment.reason,
            note=note or appointment.note,
            allow_double_booking=allow_double_booking,
            rescheduled_from=appointment,
        )


def cancel_appointment(
    *, actor: Actor, appointment: Appointment, reason: str, expected_version: int
) -> Appointment:
    """Cancel a booked visit. The reason is required (the clinic reviews why visits drop)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the appointment is cancelled.")
    _still_scheduled(appointment, "cancelled")
    with transaction.atomic():
        move_visit(
            actor=actor,
            encounter=appointment.encounter,
            to=Stage.CANCELLED,
            expected_version=expected_version,
            note=reason,
        )
        appointment.cancel_reason = reason[:200]
        appointment.updated_at = clock.now()
        appointment.save(update_fields=["cancel_reason", "updated_at"])
        record(
            actor,
            Action.UPDATE,
            "Appointment",
            patient=appointment.patient,
            entity_id=str(appointment.public_id),
            description=f"cancelled: {reason[:200]}",
        )
    return appointment


def mark_no_show(*, actor: Actor, appointment: Appointment, expected_version: int) -> Appointment:
    """The patient did not come. Only once the appointment's time has come."""
    _still_scheduled(appointment, "marked a no-show")
    if appointment.start > clock.now():
        at = appointment.start.astimezone(clinic_tz())
        raise ValidationError(f"The appointment is at {at:%H:%M}; it is not a no-show yet.")
    with transaction.atomic():
        move_visit(
            actor=actor,
            encounter=appointment.encounter,
            to=Stage.NO_SHOW,
            expected_version=expected_version,
        )
    return appointment


# --- waitlist ---


def add_to_waitlist(
    *,
    actor: Actor,
    patient: Any,
    appointment_type: AppointmentType,
    provider: Any = None,
    earliest: dt.date | None = None,
    latest: dt.date | None = None,
    note: str = "",
) -> WaitlistEntry:
    if not can(actor, Permission.BOOK_APPOINTMENT, patient):
        raise PermissionDenied("Your role may not book appointments for this patient.")
    if patient.clinic_id != appointment_type.clinic_id:
        raise ValidationError("This appointment type belongs to another clinic.")
    earliest = earliest or clock.today()
    if latest is not None and latest < earliest:
        raise ValidationError("The latest date is before the earliest date.")
    if latest is not None and latest < clock.today():
        raise ValidationError("The latest date is already past.")
    with transaction.atomic():
        entry = WaitlistEntry.objects.create(
            clinic_id=appointment_type.clinic_id,
            patient=patient,
            provider=provider,
            appointment_type=appointment_type,
            earliest=earliest,
            latest=latest,
            note=note[:300],
            created_by_id=actor.user_id,
        )
        record(
            actor,
            Action.CREATE,
            "WaitlistEntry",
            patient=patient,
            entity_id=str(entry.public_id),
            description=f"waitlist for {appointment_type.name}",
        )
    return entry


def book_from_waitlist(
    *,
    actor: Actor,
    entry: WaitlistEntry,
    provider: Any,
    start: dt.datetime,
    reason: str = "",
) -> Appointment:
    """Offer accepted: book the waiting patient and resolve the entry, in one transaction."""
    if entry.resolved_at is not None:
        raise ValidationError("This waitlist entry is already resolved.")
    with transaction.atomic():
        appointment = _book(
            actor=actor,
            patient=entry.patient,
            provider=provider,
            appointment_type=entry.appointment_type,
            start=start,
            reason=reason,
            note=entry.note,
            allow_double_booking=False,
        )
        resolved = WaitlistEntry.objects.filter(pk=entry.pk, resolved_at__isnull=True).update(
            resolved_at=clock.now(), appointment=appointment, updated_at=clock.now()
        )
        if not resolved:
            raise ValidationError("Someone else resolved this waitlist entry meanwhile.")
        entry.refresh_from_db()
    return appointment


def remove_from_waitlist(*, actor: Actor, entry: WaitlistEntry) -> WaitlistEntry:
    """The patient no longer wants an earlier visit."""
    if not can(actor, Permission.BOOK_APPOINTMENT, entry.patient):
        raise PermissionDenied("Your role may not change this waitlist.")
    with transaction.atomic():
        WaitlistEntry.objects.filter(pk=entry.pk, resolved_at__isnull=True).update(
            resolved_at=clock.now(), updated_at=clock.now()
        )
        record(
            actor,
            Action.UPDATE,
            "WaitlistEntry",
            patient=entry.patient,
            entity_id=str(entry.public_id),
            description="removed from the waitlist",
        )
        entry.refresh_from_db()
    return entry


# --- blocked time ---


def block_time(
    *,
    actor: Actor,
    clinic: Clinic,
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    provider: Any = None,
) -> ScheduleBlock:
    """Block time for a provider (or the whole clinic when no provider). Visits already booked
    in it stay booked and show on the day view for the desk to move."""
    if not can(actor, Permission.MANAGE_SCHEDULE, clinic):
        raise PermissionDenied("Your role may not change this clinic's schedule.")
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the time is blocked.")
    if end <= start:
        raise ValidationError("The block must end after it starts.")
    with transaction.atomic():
        block = ScheduleBlock.objects.create(
            clinic=clinic,
            provider=provider,
            start=start,
            end=end,
            reason=reason[:200],
            created_by_id=actor.user_id,
        )
        record(
            actor,
            Action.CREATE,
            "ScheduleBlock",
            clinic_id=clinic.pk,
            entity_id=str(block.public_id),
            description=f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}: {reason[:100]}",
        )
    return block


def unblock_time(*, actor: Actor, block: ScheduleBlock) -> None:
    if not can(actor, Permission.MANAGE_SCHEDULE, block):
        raise PermissionDenied("Your role may not change this clinic's schedule.")
    with transaction.atomic():
        record(
            actor,
            Action.DELETE,
            "ScheduleBlock",
            clinic_id=block.clinic_id,
            entity_id=str(block.public_id),
            description=f"{block.start:%Y-%m-%d %H:%M}: {block.reason[:100]}",
        )
        block.delete()


# --- reminder preferences ---


def set_reminder_preference(
    *, actor: Actor, patient: Any, channel: str, opted_out: bool
) -> ReminderPreference:
    if not can(actor, Permission.EDIT_PATIENT, patient) and not can(
        actor, Permission.BOOK_APPOINTMENT, patient
    ):
        raise PermissionDenied("Your role may not change this patient's reminders.")
    if channel not in ReminderPreference.Channel.values:
        raise ValidationError(f"Unknown reminder channel {channel!r}.")
    with transaction.atomic():
        pref, _ = ReminderPreference.objects.update_or_create(
            patient=patient,
            channel=channel,
            defaults={"opted_out": opted_out, "updated_at": clock.now()},
        )
        record(
            actor,
            Action.UPDATE,
            "ReminderPreference",
            patient=patient,
            entity_id=str(pref.pk),
            description=f"{channel} reminders {'off' if opted_out else 'on'}",
        )
    return pref
