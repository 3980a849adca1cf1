"""Appointment reminders through the outbox (medassist.events).

At booking, a confirmation is queued to go right after commit, and a reminder for the day
before when the visit is further away than that. What goes out is decided at sending time: a
visit cancelled meanwhile, or a patient who opted out of the channel, makes the message
"skipped". The text names the clinic, the date and the time, and nothing else: not the
provider, not the reason (HIPAA minimum necessary; texts are read on lock screens).
"""

import datetime as dt

from django.utils import timezone

from medassist.core import clock
from medassist.encounters.stages import Stage
from medassist.events.models import OutboxMessage
from medassist.events.services import Skip, enqueue
from medassist.events.transports import Reminder, reminder_transport
from medassist.scheduling.models import Appointment, ReminderPreference

KIND = "appointment.reminder"
# The day-before reminder goes out at this local time (not at 3 a.m. for a 3 a.m.-booked visit).
DAY_BEFORE_AT = dt.time(10, 0)


def queue_reminders(appointment: Appointment) -> list[OutboxMessage]:
    """Queue the booking confirmation (now) and the day-before reminder (when it is still
    ahead). Runs inside the booking's transaction."""
    channel = reminder_transport().channel
    subject = str(appointment.public_id)
    payload = {"appointment": subject, "channel": channel}
    messages = [enqueue(KIND, {**payload, "when": "booked"}, subject=subject)]
    tz = timezone.get_default_timezone()
    day_before = timezone.localdate(appointment.start, tz) - dt.timedelta(days=1)
    remind_at = dt.datetime.combine(day_before, DAY_BEFORE_AT, tzinfo=tz)
    if remind_at > clock.now():
        messages.append(
            enqueue(
                KIND, {**payload, "when": "day_before"}, subject=subject, available_at=remind_at
            )
        )
    return messages


def reminder_text(appointment: Appointment, when: str) -> str:
    at = timezone.localtime(appointment.start, timezone.get_default_timezone())
    clinic = appointment.clinic
    opening = "Your appointment is booked" if when == "booked" else "Reminder: your appointment"
    call = f" To change it, call {clinic.phone}." if clinic.phone else ""
    return f"{opening} at {clinic.name} on {at:%a %b} {at.day} at {at:%I:%M %p}.{call}"


def send_appointment_reminder(message: OutboxMessage) -> str:
    """The outbox handler for KIND."""
    appointment = (
        Appointment.objects.select_related("clinic", "patient", "encounter")
        .filter(public_id=message.payload.get("appointment"))
        .first()
    )
    if appointment is None:
        raise Skip("the appointment no longer exists")
    if appointment.encounter.stage != Stage.SCHEDULED:
        raise Skip(f"the visit is {appointment.encounter.get_stage_display().lower()}")
    if appointment.start <= clock.now():
        raise Skip("the appointment time has passed")
    transport = reminder_transport()
    channel = transport.channel
    if ReminderPreference.objects.filter(
        patient=appointment.patient, channel=channel, opted_out=True
    ).exists():
        raise Skip(f"the patient opted out of {channel} reminders")
    patient = appointment.patient
    to = patient.email if channel == ReminderPreference.Channel.EMAIL else patient.phone
    if not to:
        raise Skip(f"no {'e-mail address' if channel == 'email' else 'phone number'} on file")
    return transport.send(Reminder(to=to, text=reminder_text(appointment, message.payload["when"])))
