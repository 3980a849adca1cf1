from django.conf import settings
from django.db import models

from medassist.core import clock
from medassist.core.models import PublicModel
from medassist.encounters import stages
from medassist.encounters.stages import Stage


class Encounter(PublicModel):
    """One visit, from booking to checkout. Its `stage` is the single source of truth for where
    the visit stands: the FHIR Encounter.status and the appointment's status are derived from it
    (encounters/stages.py). `version` guards against two people changing the visit at once:
    every change names the version it saw, and a stale one is refused (services.move_visit)."""

    Stage = Stage

    class Kind(models.TextChoices):  # HL7 v3 ActCode, as FHIR Encounter.class
        AMBULATORY = "AMB", "Office visit"
        VIRTUAL = "VR", "Telehealth"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="encounters"
    )
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    medical_assistant = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.SCHEDULED)
    stage_since = models.DateTimeField(default=clock.now)
    version = models.PositiveIntegerField(default=1)
    room = models.ForeignKey(
        "clinics.Room", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.AMBULATORY)
    visit_type = models.CharField(max_length=60, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text="chief complaint")
    period_start = models.DateTimeField(help_text="arrival, or the booked start until then")
    period_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start"]
        indexes = [
            models.Index(fields=["patient", "-period_start"]),
            models.Index(fields=["clinic", "period_start"]),
        ]

    def __str__(self) -> str:
        return f"{self.period_start:%Y-%m-%d} {self.get_stage_display()}"

    @property
    def status(self) -> str:
        """FHIR R4 Encounter.status, derived from the stage."""
        return stages.ENCOUNTER_STATUS[Stage(self.stage)]

    @property
    def is_final(self) -> bool:
        return self.stage in stages.FINAL


class StageChange(models.Model):
    """Every move of a visit from one stage to the next, timestamped: the flow board's "time in
    stage" and the day's cycle times (arrival to roomed, roomed to provider, door to door) are
    computed from these rows. Never updated; a correction is another move."""

    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    at = models.DateTimeField(default=clock.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["encounter", "at"])]

    def __str__(self) -> str:
        return f"{self.from_stage or '-'} -> {self.to_stage} at {self.at:%H:%M}"
