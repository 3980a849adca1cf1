"""What the patient brings: allergies, medications, problems and past history.
The rooming worklist (a later module) writes these; the banner and chart read them."""

from django.db import models

from medassist.core.models import PublicModel

# SNOMED CT 716186003 "No known allergy": an explicit answer, distinct from "not yet asked"
# (the FHIR AllergyIntolerance-nka example uses this code).
NO_KNOWN_ALLERGY_SNOMED = "716186003"


class Allergy(PublicModel):
    class Criticality(models.TextChoices):  # FHIR AllergyIntolerance.criticality
        LOW = "low", "Low"
        HIGH = "high", "High"
        UNABLE = "unable-to-assess", "Unable to assess"

    class Verification(models.TextChoices):  # FHIR allergyintolerance-verification
        UNCONFIRMED = "unconfirmed", "Unconfirmed"
        CONFIRMED = "confirmed", "Confirmed"
        REFUTED = "refuted", "Refuted"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Category(models.TextChoices):  # FHIR AllergyIntolerance.category
        MEDICATION = "medication", "Medication"
        FOOD = "food", "Food"
        ENVIRONMENT = "environment", "Environment"
        BIOLOGIC = "biologic", "Biologic"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="allergies"
    )
    substance = models.CharField(max_length=200)
    code_system = models.CharField(
        max_length=200, blank=True, help_text="Code system URI (RxNorm, SNOMED CT)"
    )
    code = models.CharField(max_length=40, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, blank=True)
    reaction = models.CharField(max_length=200, blank=True)
    criticality = models.CharField(max_length=20, choices=Criticality.choices, blank=True)
    verification = models.CharField(
        max_length=20, choices=Verification.choices, default=Verification.UNCONFIRMED
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["substance"]

    @property
    def is_no_known_allergy(self) -> bool:
        return self.code == NO_KNOWN_ALLERGY_SNOMED


class Medication(PublicModel):
    """A medication the patient takes (the reported list, US Core MedicationRequest 'reported')."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="medications"
    )
    name = models.CharField(max_length=200)
    rxnorm = models.CharField(max_length=20, blank=True)
    dose = models.CharField(max_length=60, blank=True)
    route = models.CharField(max_length=40, blank=True)
    frequency = models.CharField(max_length=60, blank=True)
    active = models.BooleanField(default=True)
    start_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]


class Condition(PublicModel):
    class Category(models.TextChoices):
        PROBLEM = "problem-list-item", "Problem"
        MEDICAL_HISTORY = "medical-history", "Past medical history"
        SURGICAL_HISTORY = "surgical-history", "Past surgical history"
        FAMILY_HISTORY = "family-history", "Family history"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="conditions"
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    description = models.CharField(max_length=200)
    icd10 = models.CharField("ICD-10-CM", max_length=10, blank=True)
    snomed = models.CharField("SNOMED CT", max_length=20, blank=True)
    relative = models.CharField(max_length=40, blank=True, help_text="for family history")
    onset_date = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "description"]
