"""What the patient brings: allergies, medications, problems and past history, smoking status
and social history. The rooming worklist writes these (history/services.py); the banner, the
chart and the FHIR adapter read them."""

from django.db import models

from medassist.core import clock
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

    class Severity(models.TextChoices):  # FHIR AllergyIntolerance.reaction.severity
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

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
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    criticality = models.CharField(max_length=20, choices=Criticality.choices, blank=True)
    verification = models.CharField(
        max_length=20, choices=Verification.choices, default=Verification.UNCONFIRMED
    )
    active = models.BooleanField(default=True)
    encounter = models.ForeignKey(
        "encounters.Encounter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the visit at which this was recorded or last changed (FHIR .encounter)",
    )

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
    encounter = models.ForeignKey(
        "encounters.Encounter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the visit at which this was recorded or last changed (FHIR .encounter)",
    )

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
    encounter = models.ForeignKey(
        "encounters.Encounter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the visit at which this was recorded or last changed (FHIR .encounter)",
    )

    class Meta:
        ordering = ["category", "description"]


# US Core Smoking Status profile (http://hl7.org/fhir/us/core/StructureDefinition/us-core-smokingstatus):
# Observation.code LOINC 72166-2 "Tobacco smoking status" (value set
# us-core-smoking-status-observation-codes); Observation.value from the US Core 3.1.1 value set
# "US Core Smoking Status" (http://hl7.org/fhir/us/core/ValueSet/us-core-observation-smokingstatus,
# OID 2.16.840.1.113883.4.642.2.602): exactly the eight SNOMED CT codes of SmokingStatus.Value.
SMOKING_STATUS_LOINC = "72166-2"
SNOMED_SYSTEM = "http://snomed.info/sct"


class SmokingStatus(PublicModel):
    """One tobacco smoking status observation (US Core Smoking Status), as of `effective_date`."""

    class Value(models.TextChoices):  # SNOMED CT, US Core smoking status value set
        CURRENT_EVERY_DAY = "449868002", "Current every day smoker"
        CURRENT_SOME_DAY = "428041000124106", "Current some day smoker"
        FORMER = "8517006", "Former smoker"
        NEVER = "266919005", "Never smoker"
        CURRENT_UNKNOWN_FREQUENCY = "77176002", "Smoker, current status unknown"
        UNKNOWN = "266927001", "Unknown if ever smoked"
        HEAVY = "428071000124103", "Current heavy tobacco smoker"
        LIGHT = "428061000124105", "Current light tobacco smoker"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="smoking_statuses"
    )
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.CharField("SNOMED CT", max_length=20, choices=Value.choices)
    effective_date = models.DateField(default=clock.today)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-effective_date", "-created_at"]
        verbose_name_plural = "smoking statuses"

    @property
    def loinc(self) -> str:
        return SMOKING_STATUS_LOINC

    @property
    def display(self) -> str:
        return self.Value(self.code).label

    @property
    def is_current_smoker(self) -> bool:
        return self.code in {
            self.Value.CURRENT_EVERY_DAY,
            self.Value.CURRENT_SOME_DAY,
            self.Value.CURRENT_UNKNOWN_FREQUENCY,
            self.Value.HEAVY,
            self.Value.LIGHT,
        }


class SocialHistory(PublicModel):
    """One social-history observation other than smoking status (FHIR Observation, category
    social-history): alcohol use (optionally with an AUDIT-C score) or substance use."""

    class Topic(models.TextChoices):
        # LOINC 11331-6 "History of Alcohol use"; 11343-1 "History of Other nonmedical drug
        # use" (the code of US Core's substance use status example, US Core 7.0.0).
        ALCOHOL = "11331-6", "Alcohol use"
        SUBSTANCE = "11343-1", "Substance use"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="social_history"
    )
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    topic = models.CharField("LOINC", max_length=20, choices=Topic.choices)
    value = models.CharField(max_length=200, help_text="the answer in words")
    # AUDIT-C: the three item answers keyed by item LOINC, total (LOINC 75626-2) and whether
    # it screens positive; empty for substance use or when AUDIT-C was not asked.
    answers = models.JSONField(default=dict, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    positive = models.BooleanField(null=True, blank=True)
    effective_date = models.DateField(default=clock.today)

    class Meta:
        ordering = ["topic", "-effective_date", "-created_at"]
        verbose_name_plural = "social history"
