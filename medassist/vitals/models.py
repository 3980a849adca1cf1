"""Vital signs as measured, with what they mean and who must hear about them.

- VitalSet: one sitting of measurements at a visit (what the MA took together), with the NEWS2
  aggregate when every NEWS2 parameter was taken.
- VitalSign: one measurement (one FHIR Observation), stored exactly as measured: the value and
  the UCUM unit the MA used (lb or kg, in or cm, degF or Cel). With it, the interpretation that
  was made at the time (flag, words, reference range, source of the threshold), so a later
  change of table or policy never rewrites what the provider was shown.
- VitalAlert: a critical value routed to the visit's provider (a FHIR Task), which must be
  acknowledged and escalates to the clinic manager when it is not.
- VitalsPolicy: a clinic's critical-value thresholds and timers (defaults in vitals/policy.py).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from medassist.core import clock
from medassist.core.models import PublicModel


class Measure(models.TextChoices):
    """What was measured, with the LOINC code of the US Core vital-sign profile it maps to
    (LOINC below, in LOINC_CODES)."""

    BLOOD_PRESSURE = "bp", "Blood pressure"
    HEART_RATE = "heart_rate", "Heart rate"
    RESPIRATORY_RATE = "respiratory_rate", "Respiratory rate"
    TEMPERATURE = "temperature", "Temperature"
    SPO2 = "spo2", "Oxygen saturation"
    HEIGHT = "height", "Height / length"
    WEIGHT = "weight", "Weight"
    BMI = "bmi", "BMI"
    HEAD = "head", "Head circumference"
    BMI_PERCENTILE = "bmi_percentile", "BMI-for-age percentile"
    WEIGHT_FOR_LENGTH = "weight_for_length", "Weight-for-length percentile"
    HEAD_PERCENTILE = "head_percentile", "Head circumference percentile"


# US Core 6+ vital-sign profiles (http://hl7.org/fhir/us/core/StructureDefinition/...):
# the panel code, then the profile's slug.
LOINC_CODES: dict[str, tuple[str, str]] = {
    Measure.BLOOD_PRESSURE: ("85354-9", "us-core-blood-pressure"),
    Measure.HEART_RATE: ("8867-4", "us-core-heart-rate"),
    Measure.RESPIRATORY_RATE: ("9279-1", "us-core-respiratory-rate"),
    Measure.TEMPERATURE: ("8310-5", "us-core-body-temperature"),
    Measure.SPO2: ("59408-5", "us-core-pulse-oximetry"),
    Measure.HEIGHT: ("8302-2", "us-core-body-height"),
    Measure.WEIGHT: ("29463-7", "us-core-body-weight"),
    Measure.BMI: ("39156-5", "us-core-bmi"),
    Measure.HEAD: ("9843-4", "us-core-head-circumference"),
    Measure.BMI_PERCENTILE: ("59576-9", "pediatric-bmi-for-age"),
    Measure.WEIGHT_FOR_LENGTH: ("77606-2", "pediatric-weight-for-height"),
    Measure.HEAD_PERCENTILE: ("8289-1", "head-occipital-frontal-circumference-percentile"),
}
SYSTOLIC_LOINC = "8480-6"
DIASTOLIC_LOINC = "8462-4"
SPO2_ARTERIAL_LOINC = "2708-6"  # US Core pulse oximetry carries both 59408-5 and 2708-6
O2_FLOW_LOINC = "3151-8"  # inhaled oxygen flow rate
O2_CONCENTRATION_LOINC = "3150-0"  # inhaled oxygen concentration


class VitalSet(PublicModel):
    """One sitting of measurements at one visit (or one FHIR POST without a visit)."""

    class Consciousness(models.TextChoices):
        # NEWS2 ACVPU (RCP 2017): alert, or new confusion / voice / pain / unresponsive
        ALERT = "A", "Alert"
        CONFUSION = "C", "New confusion"
        VOICE = "V", "Responds to voice"
        PAIN = "P", "Responds to pain"
        UNRESPONSIVE = "U", "Unresponsive"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vital_sets",
    )
    taken_at = models.DateTimeField(default=clock.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    consciousness = models.CharField(max_length=1, choices=Consciousness.choices, blank=True)
    on_oxygen = models.BooleanField(default=False)
    news2_total = models.PositiveSmallIntegerField(null=True, blank=True)
    news2_scores = models.JSONField(default=dict, blank=True)
    news2_risk = models.CharField(max_length=40, blank=True)
    news2_response = models.CharField(max_length=200, blank=True)
    # Values outside the usual range that the MA confirmed, and what she was asked.
    confirmed = models.JSONField(default=list, blank=True)
    channel = models.CharField(max_length=10, default="web")

    class Meta:
        indexes = [models.Index(fields=["patient", "-taken_at"])]

    def __str__(self) -> str:
        return f"vitals of {self.patient_id} at {self.taken_at:%Y-%m-%d %H:%M}"


class VitalSign(PublicModel):
    """One measurement, stored as measured, with its interpretation at the time."""

    class Status(models.TextChoices):  # FHIR Observation.status
        FINAL = "final", "Final"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    vital_set = models.ForeignKey(VitalSet, on_delete=models.CASCADE, related_name="signs")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    measure = models.CharField(max_length=20, choices=Measure.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.FINAL)
    effective = models.DateTimeField(default=clock.now)
    # The value exactly as measured, in the unit it was measured in (UCUM). Blood pressure:
    # value = systolic, value2 = diastolic, both mm[Hg].
    value = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    value2 = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    unit = models.CharField(max_length=20)
    # How it was measured: position, arm, cuff, site, rhythm, route, device, O2 flow...
    details = models.JSONField(default=dict, blank=True)
    # Why there is no value (FHIR dataAbsentReason code), for observations received that way.
    absent_reason = models.CharField(max_length=40, blank=True)
    # The interpretation made when it was recorded.
    flag = models.CharField(max_length=2, blank=True)  # v3 ObservationInterpretation
    category = models.CharField(max_length=30, blank=True)
    interpretation = models.CharField(max_length=200, blank=True)
    range_low = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    range_high = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    range_unit = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=300, blank=True, help_text="the threshold's authority")
    percentile = models.FloatField(null=True, blank=True)
    z = models.FloatField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    # The sender's identifier ("system|value") of an observation received from another system:
    # the same one sent again is the same observation, not a second reading.
    source_identifier = models.CharField(max_length=300, blank=True)
    # An adult's raised blood pressure is measured again after a rest (ACC/AHA 2017 §4.1).
    repeat_due_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["effective", "id"]
        indexes = [
            models.Index(fields=["patient", "measure", "-effective"]),
            models.Index(fields=["encounter", "measure"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "source_identifier"],
                condition=~models.Q(source_identifier=""),
                name="one_sign_per_source_identifier",
            )
        ]

    def __str__(self) -> str:
        return f"{self.measure} {self.value} {self.unit}"

    @property
    def loinc(self) -> str:
        return LOINC_CODES[self.measure][0]

    @property
    def is_critical(self) -> bool:
        return self.flag in ("LL", "HH")


class VitalAlert(PublicModel):
    """A critical value the visit's provider must acknowledge (FHIR Task, priority stat,
    focus = the observation, owner = the provider, status requested until acknowledged)."""

    class Status(models.TextChoices):  # FHIR Task.status
        REQUESTED = "requested", "Waiting for acknowledgment"
        COMPLETED = "completed", "Acknowledged"
        CANCELLED = "cancelled", "Cancelled: the value was entered in error"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vital_alerts",
    )
    sign = models.ForeignKey(VitalSign, on_delete=models.PROTECT, related_name="alerts")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    trigger = models.CharField(max_length=30)  # policy rule: "bp_crisis", "news2_high", ...
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    raised_at = models.DateTimeField(default=clock.now)
    escalated_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "status", "raised_at"]),
            models.Index(fields=["owner", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.trigger}: {self.status}"

    @property
    def seconds_to_acknowledge(self) -> int | None:
        if self.acknowledged_at is None:
            return None
        return int((self.acknowledged_at - self.raised_at).total_seconds())


class VitalsPolicy(models.Model):
    """A clinic's critical-value policy. Missing row = the published defaults
    (vitals/policy.py DEFAULTS, each with its source)."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.CASCADE, related_name="+")
    news2_total = models.PositiveSmallIntegerField(
        "NEWS2 aggregate at or above", validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    news2_single_red = models.BooleanField("any single NEWS2 parameter scoring 3")
    systolic = models.PositiveSmallIntegerField(
        "systolic at or above (mmHg)", validators=[MinValueValidator(120)]
    )
    diastolic = models.PositiveSmallIntegerField(
        "diastolic at or above (mmHg)", validators=[MinValueValidator(80)]
    )
    spo2_below = models.PositiveSmallIntegerField(
        "SpO2 below (%)", validators=[MinValueValidator(50), MaxValueValidator(100)]
    )
    temperature = models.DecimalField(
        "temperature at or above (°C)",
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("37.5")), MaxValueValidator(Decimal("43"))],
    )
    pediatric_centiles = models.BooleanField(
        "children's heart and respiratory rate beyond the 1st/99th centile"
    )
    escalate_after = models.PositiveSmallIntegerField(
        "escalate to the manager after (minutes)",
        validators=[MinValueValidator(1), MaxValueValidator(240)],
    )
    bp_repeat_after = models.PositiveSmallIntegerField(
        "repeat a raised blood pressure after (minutes)",
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    updated_at = models.DateTimeField(default=clock.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name_plural = "vitals policies"

    def __str__(self) -> str:
        return f"vitals policy of clinic {self.clinic_id}"
