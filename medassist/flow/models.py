"""The front of the clinic day: check-in, consent forms, checkout, and each clinic's targets
for the flow board. Where a visit stands is its encounter's stage (encounters/stages.py); these
records keep what was verified, signed, collected and booked on the way."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from medassist.core import clock


class FlowTargets(models.Model):
    """A clinic's targets for the time a visit spends in each stage, in minutes. The flow board
    marks a visit that is past one. Defaults: see flow/timing.py (DEFAULT_TARGETS)."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.CASCADE, related_name="+")
    arrived = models.PositiveSmallIntegerField("waiting room", validators=[MinValueValidator(1)])
    roomed = models.PositiveSmallIntegerField("rooming", validators=[MinValueValidator(1)])
    ready_for_provider = models.PositiveSmallIntegerField(
        "waiting for the provider", validators=[MinValueValidator(1)]
    )
    with_provider = models.PositiveSmallIntegerField(
        "with the provider", validators=[MinValueValidator(1)]
    )
    ready_for_checkout = models.PositiveSmallIntegerField(
        "waiting for checkout", validators=[MinValueValidator(1)]
    )
    total = models.PositiveSmallIntegerField(
        "door to door", validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    updated_at = models.DateTimeField(default=clock.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"targets of clinic {self.clinic_id}"


class ConsentSignature(models.Model):
    """A patient's answer to one of the clinic's forms: signed on a date, or declined (the
    notice of privacy practices asks only for a good-faith effort to get an acknowledgment,
    45 CFR 164.520(c)(2)(ii), so a refusal is recorded, not a reason to turn the patient away).
    """

    class Form(models.TextChoices):
        PRIVACY_NOTICE = "privacy_notice", "Notice of privacy practices (acknowledgment)"
        FINANCIAL_POLICY = "financial_policy", "Financial policy"

    class Answer(models.TextChoices):
        SIGNED = "signed", "Signed"
        DECLINED = "declined", "Declined to sign"

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    form = models.CharField(max_length=30, choices=Form.choices)
    answer = models.CharField(max_length=10, choices=Answer.choices, default=Answer.SIGNED)
    signed_on = models.DateField()
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=clock.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-signed_on", "-recorded_at"]
        indexes = [models.Index(fields=["patient", "form", "-signed_on"])]

    def __str__(self) -> str:
        return f"{self.form} {self.answer} {self.signed_on}"


class CheckIn(models.Model):
    """What the front desk verified when the patient arrived. A visit has one; undoing a
    check-in made by mistake keeps it (the next check-in adds another)."""

    class Identifier(models.TextChoices):
        # The Joint Commission, NPSG.01.01.01: at least two patient identifiers, neither of
        # them the room number.
        NAME = "name", "Full name, stated by the patient"
        BIRTH_DATE = "birth_date", "Date of birth, stated by the patient"
        PHOTO_ID = "photo_id", "Photo ID matches"
        PHONE = "phone", "Phone number, stated by the patient"

    class Payment(models.TextChoices):
        NONE_DUE = "none_due", "No copay due"
        CASH = "cash", "Cash"
        CARD = "card", "Card"
        CHECK = "check", "Check"
        BILL_LATER = "bill_later", "Not collected: bill the patient"

    encounter = models.ForeignKey(
        "encounters.Encounter", on_delete=models.CASCADE, related_name="check_ins"
    )
    at = models.DateTimeField(default=clock.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    identifiers = models.JSONField(default=list, help_text="Identifier codes verified")
    demographics_confirmed = models.BooleanField(default=False)
    coverage = models.ForeignKey(
        "patients.Coverage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    self_pay = models.BooleanField(default=False)
    copay_amount = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    payment = models.CharField(max_length=12, choices=Payment.choices)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"check-in of visit {self.encounter_id} at {self.at:%H:%M}"


class Checkout(models.Model):
    """How the visit ended at the desk: the follow-up booked (or why none), and when the
    after-visit summary was handed over."""

    class Plan(models.TextChoices):
        BOOKED = "booked", "Follow-up booked"
        NONE_NEEDED = "none_needed", "No follow-up needed"
        PATIENT_WILL_CALL = "patient_will_call", "Patient will call to book"
        AS_NEEDED = "as_needed", "Return as needed"

    encounter = models.OneToOneField(
        "encounters.Encounter", on_delete=models.CASCADE, related_name="checkout"
    )
    at = models.DateTimeField(default=clock.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    plan = models.CharField(max_length=20, choices=Plan.choices)
    follow_up = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"checkout of visit {self.encounter_id}: {self.plan}"
