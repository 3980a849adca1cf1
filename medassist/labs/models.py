"""Lab orders, the specimens collected for them, their trail to the lab, and the results back.

- PerformingLab: a reference lab a clinic sends to, with its HL7 v2 connection (ORM^O01 or
  OML^O21 out over MLLP; ORU^R01 in) and how long a specimen may wait for pickup.
- LabTest: one orderable test in the clinic's catalog: LOINC code, the lab's own code, the
  specimen, container, volume, fasting and handling it needs.
- LabRequisition: what a provider ordered for one patient at one visit from one lab (the
  requisition / FHIR ServiceRequest.requisition); sent as one message.
- LabOrder: one test ordered (FHIR ServiceRequest). Its placer order number (identifier type
  PLAC) travels in ORC-2 / OBR-2; the lab's filler number (FILL) comes back in ORC-3 / OBR-3.
- Specimen: one labelled container (FHIR Specimen) with its accession number (Code 128 on
  the label), who collected it when and how, and the tests it serves.
- CustodyEvent: each hand on the specimen (collected, labelled, processed, packaged, handed
  to the courier, received by the lab), with who and when.
- Manifest: the bag of specimens handed to one courier for one lab.
- LabReport / LabResult: a DiagnosticReport and its US Core lab Observations (value, unit,
  reference range, the lab's abnormal flag), routed to the ordering provider for review and
  released by the provider with words for the patient.
- ResultAlert: a critical result the provider must acknowledge (FHIR Task, priority stat).
- OrderMessage / InboundMessage: every HL7 message out (with the lab's ACK) and in (with the
  ACK we sent), the inbound ones that could not be filed waiting in the error queue.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from medassist.core import clock
from medassist.core.models import PublicModel
from medassist.labs.draw import Container


class SpecimenType(models.TextChoices):
    """HL7 v2 table 0487 (specimen type), the codes the lab interface sends in SPM-4 / OBR-15."""

    BLOOD = "BLD", "Whole blood"
    CAPILLARY = "BLDC", "Capillary blood"
    SERUM = "SER", "Serum"
    PLASMA = "PLAS", "Plasma"
    URINE = "UR", "Urine"
    THROAT = "THRT", "Throat swab"
    NOSE = "NOS", "Nasal swab"
    STOOL = "STL", "Stool"


class Handling(models.TextChoices):
    ROOM_TEMPERATURE = "room", "Room temperature"
    REFRIGERATE = "refrigerate", "Refrigerate (2–8 °C)"
    FREEZE = "freeze", "Freeze (−20 °C)"
    PROTECT_FROM_LIGHT = "dark", "Protect from light, room temperature"


class PerformingLab(PublicModel):
    class MessageType(models.TextChoices):
        ORM = "ORM^O01", "ORM^O01 (HL7 v2.5.1 general order)"
        OML = "OML^O21", "OML^O21 (HL7 v2.5.1 laboratory order)"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    clia_number = models.CharField(max_length=10, blank=True, help_text="the lab's CLIA ID")
    # HL7 identities: the lab sends as MSH-3/MSH-4 and we send to it as MSH-5/MSH-6.
    application = models.CharField(max_length=40, default="LAB")
    facility = models.CharField(max_length=40, help_text="the lab's facility id (MSH-4 / MSH-6)")
    clinic_facility = models.CharField(
        max_length=40, help_text="our facility id the lab sends results to (its MSH-6)"
    )
    message_type = models.CharField(
        max_length=7, choices=MessageType.choices, default=MessageType.ORM
    )
    host = models.CharField(max_length=200, blank=True, help_text="MLLP host; empty: not sending")
    port = models.PositiveIntegerField(null=True, blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=30)
    enabled = models.BooleanField(default=True)
    pickup_hours = models.PositiveSmallIntegerField(
        default=4,
        help_text="a specimen not handed to the courier this long after collection is overdue",
    )
    transit_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="a specimen the lab has not received this long after hand-off is overdue",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "clinic_facility"], name="labs_lab_hl7_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class LabTest(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    lab = models.ForeignKey(PerformingLab, on_delete=models.PROTECT, related_name="tests")
    loinc = models.CharField(max_length=10, help_text="LOINC code of the orderable")
    name = models.CharField(max_length=120)
    lab_code = models.CharField(max_length=20, help_text="the lab's own test code (OBR-4 alt.)")
    specimen_type = models.CharField(max_length=4, choices=SpecimenType.choices)
    container = models.CharField(max_length=20, choices=Container.choices)
    volume_ml = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal("0"))
    fasting_hours = models.PositiveSmallIntegerField(
        default=0, help_text="hours of fasting required before collection; 0: none"
    )
    handling = models.CharField(
        max_length=12, choices=Handling.choices, default=Handling.ROOM_TEMPERATURE
    )
    spin_within_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="centrifuge within this long of collection (serum/plasma)"
    )
    instructions = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "lab", "lab_code"], name="labs_test_code_unique"
            )
        ]
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.loinc})"


class Priority(models.TextChoices):  # FHIR request-priority; HL7 v2 TQ1-9 / OBR-27 S, A, R
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    ASAP = "asap", "ASAP"
    STAT = "stat", "STAT"


class LabRequisition(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lab_requisitions",
    )
    lab = models.ForeignKey(PerformingLab, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=30, unique=True, help_text="ServiceRequest.requisition")
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ordered_at = models.DateTimeField(default=clock.now)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.ROUTINE)
    diagnoses = models.JSONField(
        default=list,
        blank=True,
        help_text="[{'code': ICD-10-CM, 'display': ...}] (DG1 / reasonCode)",
    )
    note = models.CharField(max_length=300, blank=True, help_text="to the lab and the collector")

    class Meta:
        indexes = [models.Index(fields=["clinic", "ordered_at"])]


class LabOrder(PublicModel):
    """One test ordered (FHIR ServiceRequest)."""

    class Status(models.TextChoices):  # FHIR ServiceRequest.status
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        REVOKED = "revoked", "Cancelled"
        ENTERED_IN_ERROR = "entered-in-error", "Entered in error"

    class Stage(models.TextChoices):  # where the order is in the clinic's work
        TO_COLLECT = "to_collect", "Awaiting collection"
        COLLECTED = "collected", "Collected, awaiting pickup"
        IN_TRANSIT = "in_transit", "With the courier"
        AT_LAB = "at_lab", "At the lab, awaiting results"
        PARTIAL = "partial", "Preliminary results"
        RESULTED = "resulted", "Final results"
        NOT_COLLECTED = "not_collected", "Could not be collected"
        CANCELLED = "cancelled", "Cancelled"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    requisition = models.ForeignKey(LabRequisition, on_delete=models.PROTECT, related_name="orders")
    test = models.ForeignKey(LabTest, on_delete=models.PROTECT, related_name="+")
    placer_number = models.CharField(
        max_length=30, unique=True, help_text="ServiceRequest.identifier type PLAC; ORC-2 / OBR-2"
    )
    filler_number = models.CharField(
        max_length=40, blank=True, help_text="the lab's number, type FILL; ORC-3 / OBR-3"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    stage = models.CharField(max_length=14, choices=Stage.choices, default=Stage.TO_COLLECT)
    collect_not_before = models.DateTimeField(
        null=True, blank=True, help_text="timed draw: not before this time (e.g. 2 h post-dose)"
    )
    cancelled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "stage"]),
            models.Index(fields=["patient", "test"]),
        ]

    def __str__(self) -> str:
        return self.placer_number


class Specimen(PublicModel):
    """One labelled container (FHIR Specimen)."""

    class Status(models.TextChoices):  # the chain of custody, in order
        COLLECTED = "collected", "Collected"
        LABELED = "labeled", "Labelled"
        PROCESSED = "processed", "Processed"
        PACKAGED = "packaged", "Packaged"
        IN_TRANSIT = "in_transit", "With the courier"
        RECEIVED = "received", "Received by the lab"
        REJECTED = "rejected", "Rejected by the lab"
        NOT_COLLECTED = "not_collected", "Not collected"

    class Method(models.TextChoices):
        # FHIR Specimen.collection.method. VENIP, CAP and SWA are HL7 v2 table 0488 codes; the
        # table has no code for clean-catch, random urine or stool, so those are local and
        # travel as text only (hl7/lab_orders.py, fhir/mappers/lab.py).
        VENIPUNCTURE = "VENIP", "Venipuncture"
        CAPILLARY = "CAP", "Capillary (finger or heel stick)"
        CLEAN_CATCH = "CLEAN", "Clean-catch midstream urine"
        RANDOM_URINE = "RANDU", "Random urine"
        SWAB = "SWA", "Swab"
        STOOL = "STOOL", "Stool collection"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    requisition = models.ForeignKey(
        LabRequisition, on_delete=models.PROTECT, related_name="specimens"
    )
    orders = models.ManyToManyField(LabOrder, related_name="specimens")
    accession = models.CharField(max_length=20, unique=True, help_text="Code 128 on the label")
    container = models.CharField(max_length=20, choices=Container.choices)
    specimen_type = models.CharField(max_length=4, choices=SpecimenType.choices)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.COLLECTED)
    collected_at = models.DateTimeField(null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    method = models.CharField(max_length=6, choices=Method.choices)
    body_site = models.CharField(max_length=60, blank=True, help_text="e.g. left antecubital vein")
    attempts = models.PositiveSmallIntegerField(default=1)
    identifiers_confirmed = models.JSONField(
        default=list,
        help_text="the two identifiers the patient stated, e.g. ['name', 'birth_date']",
    )
    fasting_hours_reported = models.PositiveSmallIntegerField(null=True, blank=True)
    problems = models.JSONField(default=list, blank=True, help_text="Problem codes")
    note = models.CharField(max_length=300, blank=True)
    manifest = models.ForeignKey(
        "Manifest", null=True, blank=True, on_delete=models.PROTECT, related_name="specimens"
    )
    labels_printed = models.PositiveSmallIntegerField(default=0)

    class Problem(models.TextChoices):
        HEMOLYSIS_RISK = (
            "hemolysis_risk",
            "Hemolysis risk (difficult draw, small needle, slow fill)",
        )
        SHORT_DRAW = "short_draw", "Short draw (under the tube's fill line)"
        FAINTED = "fainted", "Patient fainted or nearly fainted"
        HEMATOMA = "hematoma", "Hematoma at the site"
        NOT_FASTING = "not_fasting", "Patient was not fasting as required"
        UNABLE = "unable_to_collect", "Unable to collect"
        REFUSED = "refused", "Patient refused"

    class Meta:
        indexes = [models.Index(fields=["clinic", "status"])]

    def __str__(self) -> str:
        return self.accession


class CustodyEvent(models.Model):
    class Step(models.TextChoices):
        COLLECTED = "collected", "Collected"
        LABELED = "labeled", "Labelled"
        SPUN = "spun", "Centrifuged"
        ALIQUOTED = "aliquoted", "Aliquoted"
        REFRIGERATED = "refrigerated", "Refrigerated"
        FROZEN = "frozen", "Frozen"
        PACKAGED = "packaged", "Packaged with manifest"
        HANDED_TO_COURIER = "courier", "Handed to courier"
        RECEIVED_BY_LAB = "received", "Received by the lab"
        REJECTED_BY_LAB = "rejected", "Rejected by the lab"
        NOT_COLLECTED = "not_collected", "Not collected"

    specimen = models.ForeignKey(Specimen, on_delete=models.CASCADE, related_name="custody")
    step = models.CharField(max_length=14, choices=Step.choices)
    at = models.DateTimeField(default=clock.now, help_text="when it happened")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by_name = models.CharField(
        max_length=120, blank=True, help_text="who, when not a user: the courier, the lab"
    )
    detail = models.CharField(max_length=300, blank=True)
    recorded_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.step} at {self.at:%Y-%m-%d %H:%M}"


class Manifest(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    lab = models.ForeignKey(PerformingLab, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=20, unique=True)
    packaged_at = models.DateTimeField(default=clock.now)
    packaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    courier_name = models.CharField(max_length=120, blank=True)
    handed_at = models.DateTimeField(null=True, blank=True)
    handed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class Flag(models.TextChoices):
    """HL7 v2 table 0078 (OBX-8) / FHIR v3 ObservationInterpretation: the lab's flag, never
    ours. Every code of the v2.5.1 table (chapter 7, OBX-8; the table ends in "null": no range
    defined, sent as an empty OBX-8), and the codes v2.7 added to it, which labs send in 2.5.1
    messages too (qualitative results: POS, NEG, DET, ...). Only the first eight say a value is
    outside its range (ABNORMAL_FLAGS); the others are recorded and shown, attributed to the
    lab, and make nothing abnormal or critical."""

    # v2.5.1: the range flags.
    NORMAL = "N", "Normal"
    LOW = "L", "Low"
    HIGH = "H", "High"
    CRITICAL_LOW = "LL", "Critically low"
    CRITICAL_HIGH = "HH", "Critically high"
    ABNORMAL = "A", "Abnormal"
    CRITICAL = "AA", "Critically abnormal"
    BELOW_RANGE = "<", "Below the reportable range"
    ABOVE_RANGE = ">", "Above the reportable range"
    # v2.5.1: change from the previous result (delta flags).
    CHANGE_UP = "U", "Significant change up"
    CHANGE_DOWN = "D", "Significant change down"
    BETTER = "B", "Better"
    WORSE = "W", "Worse"
    # v2.5.1: microbiology susceptibilities.
    SUSCEPTIBLE = "S", "Susceptible"
    RESISTANT = "R", "Resistant"
    INTERMEDIATE = "I", "Intermediate"
    MODERATELY_SUSCEPTIBLE = "MS", "Moderately susceptible"
    VERY_SUSCEPTIBLE = "VS", "Very susceptible"
    # v2.7 additions.
    POSITIVE = "POS", "Positive"
    NEGATIVE = "NEG", "Negative"
    INDETERMINATE = "IND", "Indeterminate"
    DETECTED = "DET", "Detected"
    NOT_DETECTED = "ND", "Not detected"
    ANTI_COMPLEMENTARY = "AC", "Anti-complementary substances present"
    CYTOTOXIC = "TOX", "Cytotoxic substance present"
    QC_FAILURE = "QCF", "Quality control failure"
    REACTIVE = "RR", "Reactive"
    WEAKLY_REACTIVE = "WR", "Weakly reactive"
    NON_REACTIVE = "NR", "Non-reactive"


CRITICAL_FLAGS = frozenset({Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH, Flag.CRITICAL})
ABNORMAL_FLAGS = frozenset(
    {Flag.LOW, Flag.HIGH, Flag.ABNORMAL, Flag.BELOW_RANGE, Flag.ABOVE_RANGE} | CRITICAL_FLAGS
)
# FHIR Observation.status of a result that says nothing about the patient: HL7 v2 table 0085
# OBX-11 W ("the result sent before was wrong") and X ("results cannot be obtained"). Such a
# result is kept and shown struck through; it makes no flag, no alert, no trend point and is no
# one's "previous" value.
VOID_RESULT_STATUSES = ("entered-in-error", "cancelled")


class LabReport(PublicModel):
    """A DiagnosticReport: one ordered test's results (or one point-of-care test's)."""

    class Status(models.TextChoices):  # FHIR DiagnosticReport.status; v2 OBR-25 P/F/C/X
        PRELIMINARY = "preliminary", "Preliminary"
        FINAL = "final", "Final"
        CORRECTED = "corrected", "Corrected"
        CANCELLED = "cancelled", "Cancelled by the lab"

    class Source(models.TextChoices):
        LAB = "lab", "Reference lab"
        POCT = "poct", "Point-of-care test (in clinic)"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order = models.OneToOneField(
        LabOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="report"
    )
    source = models.CharField(max_length=4, choices=Source.choices, default=Source.LAB)
    loinc = models.CharField(max_length=10)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices)
    performer = models.CharField(max_length=200, help_text="the lab, or the clinic for POCT")
    filler_number = models.CharField(max_length=40, blank=True)
    collected_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(default=clock.now)
    ordering_provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    abnormal = models.BooleanField(default=False, help_text="any result flagged by the lab")
    critical = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    patient_message = models.TextField(
        blank=True, help_text="what the provider wrote for the patient; the MA reads it out"
    )
    version = models.PositiveIntegerField(default=1, help_text="bumped by each corrected result")
    # Added by the results part: what each earlier version said (values, flags, who reviewed
    # and released it), so a corrected report shows what changed and nothing is lost.
    history = models.JSONField(
        default=list, blank=True, help_text="earlier versions, oldest first (labs.services.results)"
    )

    class ToldHow(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        PHONE = "phone", "By phone"

    told_at = models.DateTimeField(
        null=True, blank=True, help_text="when the released result was told to the patient"
    )
    told_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    told_how = models.CharField(max_length=10, choices=ToldHow.choices, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "ordering_provider", "reviewed_at"]),
            models.Index(fields=["patient", "loinc"]),
        ]


class LabResult(PublicModel):
    """One US Core laboratory Observation."""

    class ValueType(models.TextChoices):  # HL7 v2 OBX-2
        NUMERIC = "NM", "Number"
        TEXT = "ST", "Text"
        CODED = "CWE", "Coded"
        STRUCTURED = "SN", "Structured numeric (e.g. <5)"

    report = models.ForeignKey(LabReport, on_delete=models.CASCADE, related_name="results")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveSmallIntegerField(default=1, help_text="OBX-1")
    loinc = models.CharField(max_length=10)
    name = models.CharField(max_length=200)
    value_type = models.CharField(max_length=3, choices=ValueType.choices)
    value_number = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    value_comparator = models.CharField(max_length=2, blank=True, help_text="<, <=, >=, > (SN)")
    value_text = models.CharField(max_length=500, blank=True)
    value_code = models.CharField(max_length=20, blank=True, help_text="SNOMED CT for coded")
    unit = models.CharField(max_length=30, blank=True, help_text="UCUM")
    reference_low = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reference_text = models.CharField(max_length=60, blank=True, help_text="OBX-7 as sent")
    flag = models.CharField(max_length=5, choices=Flag.choices, blank=True, help_text="OBX-8")
    status = models.CharField(max_length=16, default="final", help_text="FHIR Observation.status")
    observed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["sequence", "id"]
        indexes = [models.Index(fields=["patient", "loinc", "observed_at"])]

    @property
    def void(self) -> bool:
        """Entered in error or cancelled by the lab: shown struck through, counted nowhere."""
        return self.status in VOID_RESULT_STATUSES


class ResultAlert(PublicModel):
    """A critical result the ordering provider must acknowledge (FHIR Task, priority stat)."""

    class Status(models.TextChoices):  # FHIR Task.status
        REQUESTED = "requested", "Waiting for acknowledgment"
        COMPLETED = "completed", "Acknowledged"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    report = models.ForeignKey(LabReport, on_delete=models.PROTECT, related_name="alerts")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    raised_at = models.DateTimeField(default=clock.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    escalated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when it went to every reviewer of the clinic, not acknowledged in time",
    )

    class Meta:
        indexes = [models.Index(fields=["owner", "status"])]


class OrderMessage(PublicModel):
    """One ORM^O01 / OML^O21 sent for a requisition (new order NW, or cancel CA)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to send"
        ACCEPTED = "accepted", "Accepted (AA)"
        ERROR = "error", "Error (AE)"
        REJECTED = "rejected", "Rejected (AR)"
        FAILED = "failed", "Could not reach the lab"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    requisition = models.ForeignKey(
        LabRequisition, on_delete=models.PROTECT, related_name="messages"
    )
    control = models.CharField(max_length=2, default="NW", help_text="ORC-1: NW new, CA cancel")
    # Which of the requisition's orders the message carries: all of them for NW, the one
    # cancelled for CA (a requisition may lose one test and keep the others).
    orders = models.ManyToManyField(LabOrder, blank=True, related_name="messages")
    control_id = models.CharField(max_length=40, unique=True, help_text="MSH-10")
    message = models.TextField(blank=True, help_text="frozen at first send; a retry resends it")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    ack_code = models.CharField(max_length=2, blank=True)
    ack_text = models.CharField(max_length=500, blank=True)
    ack_errors = models.JSONField(default=list, blank=True)
    ack_raw = models.TextField(blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "status"])]


class InboundMessage(PublicModel):
    """One HL7 message received from a lab, with the ACK we answered. Those not filed wait in
    the error queue until a person files, retries or dismisses them."""

    class Status(models.TextChoices):
        FILED = "filed", "Filed"
        ERROR = "error", "Not filed (AE): waiting for a person"
        REJECTED = "rejected", "Rejected (AR): waiting for a person"
        RESOLVED = "resolved", "Filed after review"
        DISMISSED = "dismissed", "Dismissed after review"

    clinic = models.ForeignKey(
        "clinics.Clinic", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lab = models.ForeignKey(
        PerformingLab, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sender = models.CharField(max_length=100, blank=True, help_text="MSH-3^MSH-4")
    control_id = models.CharField(max_length=40, blank=True, help_text="MSH-10")
    message_type = models.CharField(max_length=20, blank=True)
    raw = models.TextField()
    received_at = models.DateTimeField(default=clock.now)
    channel = models.CharField(max_length=10, default="mllp", help_text="mllp or file")
    status = models.CharField(max_length=10, choices=Status.choices)
    errors = models.JSONField(default=list, blank=True, help_text="[{'location', 'text', ...}]")
    ack = models.TextField(blank=True, help_text="the ACK we sent")
    ack_code = models.CharField(max_length=2, blank=True)
    repeats = models.PositiveIntegerField(default=0, help_text="times received again (same MSH-10)")
    reports = models.ManyToManyField(LabReport, blank=True, related_name="messages")
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.CharField(max_length=300, blank=True)
    # A different message under a (sender, MSH-10) already used: kept as its own row, refused
    # (AR), pointing at the message that holds the id (LIS control-id counters get reset).
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )

    class Meta:
        constraints = [
            # Idempotent intake: one row per sender and MSH-10 (an empty MSH-10 is malformed
            # and stored as its own row each time; so is a different message under a used id,
            # which points at the first with duplicate_of).
            models.UniqueConstraint(
                fields=["sender", "control_id"],
                condition=~models.Q(control_id="") & models.Q(duplicate_of__isnull=True),
                name="labs_inbound_sender_control_id_unique",
            )
        ]
        indexes = [models.Index(fields=["clinic", "status"])]
