"""What the medical assistant did in the room at one visit: which worklist steps are done
(resumable), how each medication was reconciled, and the screening answers with their scores.
The chart facts themselves (allergies, medications, histories, smoking status) live in
`history`; these rows record the visit's work on them."""

from django.conf import settings
from django.db import models

from medassist.core import clock


class Step(models.TextChoices):
    """The rooming worklist, in the order the MA works through it."""

    AGENDA = "agenda", "Visit agenda and chief complaint"
    ALLERGIES = "allergies", "Allergies"
    MEDICATIONS = "medications", "Medication reconciliation"
    HISTORIES = "histories", "Histories and social history"
    SCREENINGS = "screenings", "Screenings"
    VITALS = "vitals", "Vital signs"


class RoomingProgress(models.Model):
    """One worklist step of one visit: done or skipped, by whom, when. A missing row means the
    step has not been done yet, so the worklist can be left and resumed at any point."""

    class Status(models.TextChoices):
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    encounter = models.ForeignKey(
        "encounters.Encounter", on_delete=models.CASCADE, related_name="rooming_steps"
    )
    step = models.CharField(max_length=20, choices=Step.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["encounter", "step"], name="one_progress_per_step")
        ]
        verbose_name_plural = "rooming progress"

    def __str__(self) -> str:
        return f"{self.step}: {self.status}"


class MedicationReview(models.Model):
    """The patient's answer about one medication at one visit (medication reconciliation).
    Anything but "taking as prescribed" is a discrepancy the provider must see."""

    class Answer(models.TextChoices):
        # FHIR MedicationStatement.status: active / active (dosage differs) / not-taken / active
        AS_PRESCRIBED = "as_prescribed", "Taking as prescribed"
        DIFFERENTLY = "differently", "Taking differently"
        NOT_TAKING = "not_taking", "Not taking"
        NEW = "new", "New, reported by the patient"

    encounter = models.ForeignKey(
        "encounters.Encounter", on_delete=models.CASCADE, related_name="medication_reviews"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    medication = models.ForeignKey(
        "history.Medication", on_delete=models.CASCADE, related_name="reviews"
    )
    answer = models.CharField(max_length=20, choices=Answer.choices)
    actual_dose = models.CharField(max_length=60, blank=True, help_text="when taken differently")
    actual_frequency = models.CharField(max_length=60, blank=True)
    note = models.CharField(max_length=200, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "medication"], name="one_review_per_medication"
            )
        ]

    def __str__(self) -> str:
        return f"{self.medication_id}: {self.answer}"

    @property
    def is_discrepancy(self) -> bool:
        return self.answer != self.Answer.AS_PRESCRIBED


class ScreeningResponse(models.Model):
    """One completed screening instrument at one visit: the answers keyed by item LOINC (or a
    local key where the item has no LOINC), the total, its interpretation and whether it is
    positive. Maps to a FHIR QuestionnaireResponse plus an Observation for the total.
    Scoring is done by the pure functions of rooming/screening.py."""

    encounter = models.ForeignKey(
        "encounters.Encounter", on_delete=models.CASCADE, related_name="screenings"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    instrument = models.CharField(max_length=20, help_text="LOINC code of the panel")
    title = models.CharField(max_length=100)
    answers = models.JSONField(default=dict)
    total_score = models.PositiveSmallIntegerField(null=True, blank=True)
    total_loinc = models.CharField(max_length=20, blank=True)
    interpretation = models.CharField(max_length=200)
    positive = models.BooleanField(default=False)
    # Needs the provider now (PHQ-9 item 9: thoughts of self-harm), ahead of everything else.
    urgent = models.BooleanField(default=False)
    positive_domains = models.JSONField(default=list, blank=True, help_text="AHC HRSN domains")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-urgent", "-positive", "at"]
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "instrument"], name="one_response_per_instrument"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title}: {self.interpretation}"
