"""Vaccines in the fridge, the orders that let an MA give them, the doses given, and what the
registry said.

- VaccineLot: one lot of one product (NDC) in a clinic's storage unit, with its funding source
  (VFC/public or private stock may not be mixed) and the doses on hand.
- StandingOrder: a provider-signed protocol under which an MA gives a vaccine without a new
  order (CDC/ACIP standing orders; the clinic's state must allow it).
- Immunization: one dose given here, recorded from outside records (historical), or refused.
  Stored with everything the record, the registry and US Core need; a dose given here keeps
  the lot, screening, VIS, consent and who gave it under which order.
- ObservationPeriod: the wait after a dose (15 minutes by default, ACIP General Best Practice
  Guidelines on syncope), shown on the flow board.
- Reaction: an adverse event after a dose, from which a VAERS report draft is made.
- RegistryConnection / RegistrySubmission: the clinic's immunization information system and
  each VXU sent to it with the ACK it answered.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from medassist.core import clock
from medassist.core.models import PublicModel


class Funding(models.TextChoices):
    """Where the dose was paid from (CDC IG table CDCPHINVS funding source, OBX 30963-3)."""

    VFC = "VXC50", "Public (VFC)"
    PUBLIC_317 = "VXC51", "Public (Section 317)"
    STATE = "VXC52", "Public (state funds)"
    PRIVATE = "PHC70", "Private"


PUBLIC_FUNDING = frozenset({Funding.VFC, Funding.PUBLIC_317, Funding.STATE})


class Eligibility(models.TextChoices):
    """VFC eligibility at this dose (HL7 table 0064, CDC IG OBX 64994-7)."""

    NOT_ELIGIBLE = "V01", "Not VFC eligible"
    MEDICAID = "V02", "VFC eligible: Medicaid / Medicaid managed care"
    UNINSURED = "V03", "VFC eligible: uninsured"
    NATIVE = "V04", "VFC eligible: American Indian / Alaska Native"
    UNDERINSURED = "V05", "VFC eligible: underinsured (FQHC/RHC)"


VFC_ELIGIBLE = frozenset(
    {Eligibility.MEDICAID, Eligibility.UNINSURED, Eligibility.NATIVE, Eligibility.UNDERINSURED}
)


class Route(models.TextChoices):
    """HL7 table 0162 (CDC IG RXR-1; FHIR http://terminology.hl7.org/CodeSystem/v2-0162)."""

    IM = "IM", "Intramuscular"
    SC = "SC", "Subcutaneous"
    ID = "ID", "Intradermal"
    PO = "PO", "Oral"
    NS = "NS", "Intranasal"


class Site(models.TextChoices):
    """HL7 table 0163 (CDC IG RXR-2)."""

    LEFT_DELTOID = "LD", "Left deltoid"
    RIGHT_DELTOID = "RD", "Right deltoid"
    LEFT_THIGH = "LT", "Left thigh (vastus lateralis)"
    RIGHT_THIGH = "RT", "Right thigh (vastus lateralis)"
    LEFT_ARM = "LA", "Left upper arm"
    RIGHT_ARM = "RA", "Right upper arm"
    LEFT_GLUTEUS = "LG", "Left gluteus medius"
    RIGHT_GLUTEUS = "RG", "Right gluteus medius"
    MOUTH = "MO", "Mouth"
    NOSE = "NS", "Nose"


class VaccineLot(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    ndc = models.CharField("NDC", max_length=13, help_text="11-digit 5-4-2 form")
    cvx = models.CharField("CVX", max_length=4)
    mvx = models.CharField("MVX", max_length=4, blank=True)
    product_name = models.CharField(max_length=200)
    lot_number = models.CharField(max_length=20)
    expires_on = models.DateField()
    funding = models.CharField(max_length=5, choices=Funding.choices)
    doses_on_hand = models.PositiveIntegerField(default=0)
    dose_volume_ml = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.5"))
    storage_unit = models.CharField(max_length=60, help_text="the fridge or freezer it is in")
    received_on = models.DateField(default=clock.today)
    gtin = models.CharField(max_length=14, blank=True)
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "ndc", "lot_number", "funding"], name="one_lot_per_stock"
            )
        ]
        indexes = [models.Index(fields=["clinic", "cvx", "active"])]

    def __str__(self) -> str:
        return f"{self.product_name} lot {self.lot_number}"

    def expired_on(self, day) -> bool:  # type: ignore[no-untyped-def]
        return day > self.expires_on


class StandingOrder(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    vaccine_group = models.CharField(
        max_length=40, help_text="CDSi vaccine group, e.g. 'DTaP/Tdap/Td'"
    )
    title = models.CharField(max_length=120)
    min_age_days = models.PositiveIntegerField(default=0)
    max_age_days = models.PositiveIntegerField(null=True, blank=True)
    conditions = models.CharField(
        max_length=300, blank=True, help_text="who the order covers, in words"
    )
    protocol = models.TextField(help_text="the protocol as signed")
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "vaccine_group", "active"])]

    def __str__(self) -> str:
        return self.title

    def covers(self, *, group: str, age_days: int, day) -> bool:  # type: ignore[no-untyped-def]
        return (
            self.active
            and self.vaccine_group == group
            and self.effective_from <= day
            and (self.effective_to is None or day <= self.effective_to)
            and age_days >= self.min_age_days
            and (self.max_age_days is None or age_days <= self.max_age_days)
        )


class Immunization(PublicModel):
    """One dose, as US Core Immunization (status completed / not-done / entered-in-error)."""

    class Status(models.TextChoices):
        COMPLETED = "completed", "Given"
        NOT_DONE = "not-done", "Refused / not given"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Source(models.TextChoices):
        """CDC IG table NIP001 (RXA-9): who reported the dose."""

        NEW = "00", "Given here"
        HISTORICAL = "01", "Historical, source unspecified"
        OTHER_PROVIDER = "02", "Historical, from another provider"
        PARENT_RECORD = "03", "Historical, from a parent's written record"
        PARENT_RECALL = "04", "Historical, from a parent's recall"
        REGISTRY = "05", "Historical, from another registry"
        BIRTH_CERTIFICATE = "06", "Historical, from a birth certificate"
        SCHOOL = "07", "Historical, from a school record"
        PUBLIC_AGENCY = "08", "Historical, from a public agency"

    class Consent(models.TextChoices):
        GIVEN = "given", "Consent given"
        REFUSED = "refused", "Refused"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="immunizations"
    )
    encounter = models.ForeignKey(
        "encounters.Encounter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="immunizations",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    source = models.CharField(max_length=2, choices=Source.choices, default=Source.NEW)
    source_detail = models.CharField(
        max_length=200, blank=True, help_text="e.g. 'yellow card from Lagos clinic'"
    )
    cvx = models.CharField("CVX", max_length=4)
    vaccine_name = models.CharField(max_length=200)
    vaccine_group = models.CharField(max_length=40, blank=True)
    ndc = models.CharField("NDC", max_length=13, blank=True)
    mvx = models.CharField("MVX", max_length=4, blank=True)
    lot = models.ForeignKey(
        VaccineLot, null=True, blank=True, on_delete=models.PROTECT, related_name="doses"
    )
    lot_number = models.CharField(max_length=20, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    dose_volume_ml = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    route = models.CharField(max_length=10, choices=Route.choices, blank=True)
    site = models.CharField(max_length=4, choices=Site.choices, blank=True)
    occurred_on = models.DateField(help_text="the date the dose was given")
    given_at = models.DateTimeField(null=True, blank=True, help_text="exact time, doses here")
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    given_by_role = models.CharField(max_length=30, blank=True)
    given_by_title = models.CharField(max_length=60, blank=True, help_text="CCMA, RN, MD ...")
    ordering_provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    standing_order = models.ForeignKey(
        StandingOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="doses"
    )
    funding = models.CharField(max_length=5, choices=Funding.choices, blank=True)
    eligibility = models.CharField(max_length=3, choices=Eligibility.choices, blank=True)
    screening = models.JSONField(default=dict, blank=True, help_text="question -> yes/no")
    vis = models.JSONField(
        default=list, blank=True, help_text="[{document, edition, encoded, presented}]"
    )
    consent = models.CharField(max_length=10, choices=Consent.choices, blank=True)
    refusal_reason = models.CharField(max_length=200, blank=True)
    # A dose the forecast did not call for, given on a provider's documented decision.
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    override_reason = models.CharField(max_length=300, blank=True)
    retracted_reason = models.CharField(max_length=300, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "occurred_on"]),
            models.Index(fields=["clinic", "occurred_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.vaccine_name} on {self.occurred_on}"

    @property
    def historical(self) -> bool:
        return self.source != self.Source.NEW


class ObservationPeriod(models.Model):
    """The wait after a dose. Open until released; the board shows it with its end time."""

    immunization = models.OneToOneField(
        Immunization, on_delete=models.CASCADE, related_name="observation"
    )
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    starts_at = models.DateTimeField(default=clock.now)
    ends_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["clinic", "released_at"])]

    def __str__(self) -> str:
        return f"observation until {self.ends_at:%H:%M}"


class Reaction(PublicModel):
    class Outcome(models.TextChoices):
        RESOLVED = "resolved", "Resolved in the clinic"
        REFERRED = "referred", "Sent to emergency care"
        HOSPITALIZED = "hospitalized", "Hospitalized"
        ONGOING = "ongoing", "Not yet resolved"
        DIED = "died", "Died"

    immunization = models.ForeignKey(
        Immunization, on_delete=models.PROTECT, related_name="reactions"
    )
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    symptoms = models.CharField(max_length=300)
    onset_at = models.DateTimeField()
    treatment = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=15, choices=Outcome.choices)
    serious = models.BooleanField(default=False)
    notes = models.TextField(blank=True)


class ClinicSettings(models.Model):
    """A clinic's immunization rules. Whether medical assistants may give vaccines at all is the
    state's law (scope of practice), which the clinic's manager records here."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.CASCADE, related_name="+")
    observation_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(0), MaxValueValidator(120)]
    )
    assistants_may_administer = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"immunization settings of clinic {self.clinic_id}"


class DoseOrder(PublicModel):
    """A provider's order for one vaccine for one patient: the way to give a dose no standing
    order covers, and the documented decision to give a dose the forecast does not call for."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    vaccine_group = models.CharField(max_length=40)
    off_schedule = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    used_by = models.OneToOneField(
        "Immunization", null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )


class RegistryConnection(models.Model):
    """The immunization information system a clinic reports to (MLLP over TCP)."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.CASCADE, related_name="+")
    host = models.CharField(max_length=200)
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    sending_facility = models.CharField(max_length=40, help_text="MSH-4, the IIS's facility id")
    receiving_application = models.CharField(max_length=40, default="IIS")
    receiving_facility = models.CharField(max_length=40, default="IIS")
    processing_id = models.CharField(max_length=1, default="P", help_text="P production, T test")
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class RegistrySubmission(PublicModel):
    """One VXU for one change of one dose (action A add, U update, D delete)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to send"
        ACCEPTED = "accepted", "Accepted (AA)"
        WARNING = "warning", "Accepted with warnings"
        ERROR = "error", "Error (AE)"
        REJECTED = "rejected", "Rejected (AR)"
        FAILED = "failed", "Could not reach the registry"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    immunization = models.ForeignKey(
        Immunization, on_delete=models.PROTECT, related_name="submissions"
    )
    action = models.CharField(max_length=1, default="A")
    control_id = models.CharField(max_length=40, unique=True, help_text="MSH-10")
    message = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    ack_code = models.CharField(max_length=2, blank=True)
    ack_text = models.CharField(max_length=500, blank=True)
    ack_errors = models.JSONField(default=list, blank=True)
    ack_raw = models.TextField(blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["clinic", "status"])]


class PatientIndication(PublicModel):
    """A CDSi coded observation about the patient (ScheduleSupportingData <observations>):
    pregnant, asplenia, dialysis, laboratory evidence of immunity, a contraindication... These
    make risk series relevant, show immunity or contraindicate a vaccine in the forecast."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="immunization_indications"
    )
    code = models.CharField(max_length=4, help_text="CDSi observation code, e.g. '007'")
    title = models.CharField(max_length=300)
    observed_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "active"])]
