from django.conf import settings
from django.db import models

from medassist.core.models import PublicModel


class Encounter(PublicModel):
    """One visit. Status uses the FHIR R4 Encounter.status vocabulary; the flow board's finer
    stages (a later module) map onto it."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ARRIVED = "arrived", "Arrived"
        TRIAGED = "triaged", "Roomed"
        IN_PROGRESS = "in-progress", "With provider"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

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
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.AMBULATORY)
    visit_type = models.CharField(max_length=60, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text="chief complaint")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start"]
        indexes = [
            models.Index(fields=["patient", "-period_start"]),
            models.Index(fields=["clinic", "period_start"]),
        ]

    def __str__(self) -> str:
        return f"{self.period_start:%Y-%m-%d} {self.get_status_display()}"
