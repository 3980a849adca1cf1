"""Provider schedules, appointment types, blocked time, appointments and the waitlist.

An appointment is the booking (who, with whom, when, what kind); where the visit stands is its
encounter's stage (encounters/stages.py), never a second status kept here.
"""

import uuid

from django.conf import settings
from django.db import models

from medassist.core import clock
from medassist.core.models import PublicModel
from medassist.encounters import stages


class AppointmentType(models.Model):
    """A kind of visit a clinic books, with its length and its color on the schedule."""

    class Kind(models.TextChoices):  # HL7 v3 ActCode, as FHIR Encounter.class
        AMBULATORY = "AMB", "Office visit"
        VIRTUAL = "VR", "Telehealth"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="+")
    code = models.SlugField(max_length=30, help_text="e.g. new-patient, follow-up, well-child")
    name = models.CharField(max_length=60)
    minutes = models.PositiveSmallIntegerField()
    color = models.CharField(max_length=7, help_text="#rrggbb on the schedule")
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.AMBULATORY)
    same_day_only = models.BooleanField(default=False, help_text="acute slots held for today")
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["clinic", "sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "code"], name="appointment_type_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.minutes} min)"


class ScheduleTemplate(models.Model):
    """A provider's recurring session: on this weekday, from this hour to that, at this clinic
    (FHIR Schedule; the bookable Slots are generated from it). `max_per_slot` above 1 allows
    double-booking up to that many patients at one start time."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday ... 6 = Sunday")
    start_time = models.TimeField()
    end_time = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField(default=15)
    max_per_slot = models.PositiveSmallIntegerField(default=1)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    appointment_types = models.ManyToManyField(
        AppointmentType, blank=True, related_name="+", help_text="none = every type"
    )

    class Meta:
        ordering = ["clinic", "provider", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_time__lt=models.F("end_time")),
                name="schedule_template_starts_before_it_ends",
            )
        ]

    def __str__(self) -> str:
        return f"provider {self.provider_id} day {self.weekday} {self.start_time}-{self.end_time}"


class ScheduleBlock(models.Model):
    """Time no one may book: a provider's meeting, lunch, leave; or the whole clinic's."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="empty = the whole clinic",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["clinic", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end")), name="block_starts_before_it_ends"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.reason}"


class Appointment(PublicModel):
    """A booked visit. One-to-one with its encounter, which carries the stage."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments"
    )
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    encounter = models.OneToOneField(
        "encounters.Encounter", on_delete=models.PROTECT, related_name="appointment"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True, help_text="why the patient is coming")
    note = models.CharField(max_length=300, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    rescheduled_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["clinic", "start"]),
            models.Index(fields=["provider", "start"]),
            models.Index(fields=["patient", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end")),
                name="appointment_starts_before_it_ends",
            )
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.appointment_type_id}"

    @property
    def status(self) -> str:
        """FHIR R4 Appointment.status, derived from the encounter's stage."""
        return stages.APPOINTMENT_STATUS[stages.Stage(self.encounter.stage)]


class WaitlistEntry(PublicModel):
    """A patient who wants an earlier (or any) appointment; offered the first fitting opening."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="empty = any provider",
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    earliest = models.DateField(default=clock.today)
    latest = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["clinic", "resolved_at"])]


class ReminderPreference(models.Model):
    """A patient's choice not to be reminded on a channel (TCPA and CAN-SPAM: consent to
    texts and e-mail can be withdrawn at any time). No row = reminders welcome."""

    class Channel(models.TextChoices):
        SMS = "sms", "Text message"
        EMAIL = "email", "E-mail"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="reminder_preferences"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    opted_out = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "channel"], name="one_reminder_preference_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.channel} {'out' if self.opted_out else 'in'}"
