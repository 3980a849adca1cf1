"""CLIA-waived tests run in the clinic, their kits and controls, who may run them, and each run.

- PocTest: one test on a clinic's menu (rapid strep, influenza A/B, COVID antigen, glucose,
  urine hCG, urinalysis dipstick, HbA1c), with its device, the results it reports (LOINC, from
  catalog.py), the manufacturer's reportable range, the clinic's reference interval and
  critical limits (quantitative tests) and the clinic's QC policy.
- KitLot: one shipment of one lot of test kits (or strips, cartridges), with its expiry. A second
  shipment of the same lot number is its own row: a new shipment needs its own controls when
  the policy says so.
- ControlLot: one lot of an external control of one level, with the reading or range it must
  give (from its package insert or bottle).
- QcRun: one external control run on a kit lot; passed is computed (rules.qc_outcome), never
  typed; a failed run carries its corrective action.
- Competency: a person's assessed competency for one test, valid until a date
  (rules.competency_valid_until).
- PocTestRun: one patient test: the visit, the kit lot, the operator, the internal control, the
  QC runs that covered it, what the device showed, and the lab report it produced (one to
  one: LabReport.poct_run leads from the report back to the run, its kit lot, operator and QC).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from medassist.core import clock
from medassist.core.models import PublicModel
from medassist.labs.models import SpecimenType
from medassist.poct import catalog, lockout
from medassist.poct.catalog import Analyte
from medassist.poct.rules import Expectation, fmt


class PocTest(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=catalog.CHOICES)
    name = models.CharField(max_length=80)
    device = models.CharField(max_length=120, help_text="the kit, strip or analyzer")
    manufacturer = models.CharField(max_length=120)
    loinc = models.CharField(max_length=10, help_text="the report's LOINC code")
    result_type = models.CharField(max_length=12)
    specimen_type = models.CharField(max_length=4, choices=SpecimenType.choices)
    reportable_low = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    reportable_high = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    # Quantitative tests: the clinic's reference interval (inclusive) and critical limits
    # (a reading below critical_low or above critical_high alerts the provider), defaults in
    # catalog.py with their sources; empty critical limit: no critical value on that side.
    reference_low = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    critical_low = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="critical below this"
    )
    critical_high = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="critical above this"
    )
    control_levels = models.JSONField(
        default=list, help_text="the external control levels each QC event needs"
    )
    qc_on_new_lot = models.BooleanField(default=True)
    qc_on_new_shipment = models.BooleanField(default=True)
    qc_every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="external controls every N days (1: daily); empty: not"
    )
    internal_control = models.BooleanField(
        default=True, help_text="the device's built-in control is read on every test"
    )
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="poct_test_name_unique")
        ]
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def kind_info(self) -> catalog.Kind:
        return catalog.kind(self.kind)

    @property
    def analytes(self) -> tuple[Analyte, ...]:
        info = self.kind_info
        if info.result_type != catalog.QUANTITATIVE:
            return info.analytes
        return tuple(
            a.with_range(self.reportable_low, self.reportable_high).with_limits(
                self.reference_low, self.reference_high, self.critical_low, self.critical_high
            )
            for a in info.analytes
        )

    @property
    def limits_text(self) -> str:
        """ "reference 70–140 mg/dL; critical below 54 or above 400" (empty: qualitative)."""
        if self.result_type != catalog.QUANTITATIVE or not self.kind_info.analytes:
            return ""
        analyte = self.analytes[0]
        parts = []
        if self.reference_low is not None and self.reference_high is not None:
            low, high = (
                fmt(self.reference_low, analyte.decimals),
                fmt(self.reference_high, analyte.decimals),
            )
            parts.append(f"reference {low}–{high} {analyte.unit}".strip())
        critical = [
            f"{side} {fmt(value, analyte.decimals)}"
            for side, value in (("below", self.critical_low), ("above", self.critical_high))
            if value is not None
        ]
        parts.append(f"critical {' or '.join(critical)}" if critical else "no critical limits")
        return "; ".join(parts)

    @property
    def levels(self) -> list[tuple[str, str]]:
        """The required external control levels, (code, label), in the catalog's order."""
        wanted = set(self.control_levels or [])
        return [(lv.code, lv.label) for lv in self.kind_info.levels if lv.code in wanted]

    def level_label(self, code: str) -> str:
        found = self.kind_info.level(code)
        return found.label if found else code

    def policy(self) -> lockout.Policy:
        return lockout.Policy(
            test_name=self.name,
            active=self.active,
            levels=tuple(self.levels),
            on_new_lot=self.qc_on_new_lot,
            on_new_shipment=self.qc_on_new_shipment,
            every_days=self.qc_every_days,
        )

    @property
    def qc_schedule(self) -> str:
        parts = []
        if self.qc_on_new_lot:
            parts.append("each new lot")
        if self.qc_on_new_shipment:
            parts.append("each new shipment")
        if self.qc_every_days == 1:
            parts.append("every day of testing")
        elif self.qc_every_days:
            parts.append(f"every {self.qc_every_days} days")
        return lockout.words(parts) or "no scheduled external controls"


class KitLot(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    test = models.ForeignKey(PocTest, on_delete=models.PROTECT, related_name="kit_lots")
    lot_number = models.CharField(max_length=30)
    expires_on = models.DateField()
    shipment = models.CharField(max_length=40, help_text="packing slip or order number")
    received_on = models.DateField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    tests_received = models.PositiveIntegerField(null=True, blank=True)
    first_used_on = models.DateField(null=True, blank=True, help_text="first patient test")
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retired_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["test", "lot_number", "shipment"], name="poct_kit_lot_shipment_unique"
            )
        ]
        indexes = [models.Index(fields=["test", "retired_at"])]
        ordering = ["expires_on", "id"]

    def __str__(self) -> str:
        return f"{self.test.name} lot {self.lot_number}"

    def expired_on(self, day: dt.date) -> bool:
        return day > self.expires_on

    def facts(self) -> lockout.KitLotFacts:
        return lockout.KitLotFacts(
            key=self.pk,
            lot_number=self.lot_number,
            expires_on=self.expires_on,
            shipment=self.shipment,
            received_on=self.received_on,
            retired_on=clock.localtime(self.retired_at).date() if self.retired_at else None,
        )


class ControlLot(PublicModel):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    test = models.ForeignKey(PocTest, on_delete=models.PROTECT, related_name="control_lots")
    level = models.CharField(max_length=20)
    lot_number = models.CharField(max_length=30)
    expires_on = models.DateField()
    product = models.CharField(max_length=120, blank=True, help_text="e.g. the kit's control swab")
    expected = models.JSONField(help_text="analyte LOINC -> {'answers': [...]} or {'low', 'high'}")
    received_on = models.DateField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["test", "level", "lot_number"], name="poct_control_lot_unique"
            )
        ]
        ordering = ["level", "expires_on", "id"]

    def __str__(self) -> str:
        return f"{self.level} control lot {self.lot_number}"

    def expired_on(self, day: dt.date) -> bool:
        return day > self.expires_on

    @property
    def expectations(self) -> dict[str, Expectation]:
        return {code: Expectation.from_json(data) for code, data in (self.expected or {}).items()}

    @property
    def level_label(self) -> str:
        return self.test.level_label(self.level)

    @property
    def expected_summary(self) -> str:
        found = self.expectations
        analytes = self.test.analytes
        many = len(analytes) > 1
        return "; ".join(
            (f"{a.short} " if many else "") + found[a.code].text(a.unit)
            for a in analytes
            if a.code in found
        )


class QcRun(PublicModel):
    class Reason(models.TextChoices):
        NEW_LOT = "new_lot", "New lot"
        NEW_SHIPMENT = "new_shipment", "New shipment"
        SCHEDULED = "scheduled", "Scheduled"
        TROUBLESHOOTING = "troubleshooting", "Troubleshooting"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    test = models.ForeignKey(PocTest, on_delete=models.PROTECT, related_name="qc_runs")
    kit_lot = models.ForeignKey(KitLot, on_delete=models.PROTECT, related_name="qc_runs")
    control_lot = models.ForeignKey(ControlLot, on_delete=models.PROTECT, related_name="runs")
    level = models.CharField(max_length=20)
    observed = models.JSONField(help_text="analyte LOINC -> the reading as recorded")
    expected = models.JSONField(help_text="the control lot's expectations at the time")
    passed = models.BooleanField()
    problems = models.JSONField(default=list, blank=True, help_text="why it failed")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    performed_at = models.DateTimeField()
    corrective_action = models.TextField(blank=True)
    corrective_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    corrective_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["test", "performed_at"]),
            models.Index(fields=["kit_lot", "performed_at"]),
        ]
        ordering = ["performed_at", "id"]

    def facts(self) -> lockout.QcFacts:
        return lockout.QcFacts(
            kit_lot_key=self.kit_lot_id,
            lot_number=self.kit_lot.lot_number,
            level=self.level,
            passed=self.passed,
            performed_at=self.performed_at,
            corrective_action=bool(self.corrective_action),
            key=self.pk,
        )

    @property
    def expectations(self) -> dict[str, Expectation]:
        return {code: Expectation.from_json(data) for code, data in (self.expected or {}).items()}

    @property
    def level_label(self) -> str:
        return self.test.level_label(self.level)

    @property
    def expected_text(self) -> str:
        found = self.expectations
        many = len(self.test.analytes) > 1
        return "; ".join(
            (f"{a.short} " if many else "") + found[a.code].text(a.unit)
            for a in self.test.analytes
            if a.code in found
        )

    @property
    def observed_text(self) -> str:
        seen = self.observed or {}
        many = len(self.test.analytes) > 1
        return "; ".join(
            (f"{a.short} " if many else "")
            + (f"{seen[a.code]} {a.unit}".strip() if a.quantitative else seen[a.code].capitalize())
            for a in self.test.analytes
            if a.code in seen
        )


class Competency(PublicModel):
    class Method(models.TextChoices):
        # The six procedures of CLIA competency assessment (42 CFR 493.1451(b)(8)(i)-(vi)),
        # as CMS's "What do I need to do to assess personnel competency?" lists them.
        OBSERVATION = "observation", "Direct observation of routine patient testing"
        RECORDING = "recording", "Monitoring the recording and reporting of results"
        RECORDS = "records", "Review of worksheets, QC records and maintenance records"
        MAINTENANCE = "maintenance", "Direct observation of maintenance and function checks"
        SAMPLES = "samples", "Testing previously analyzed, blind or proficiency samples"
        PROBLEM_SOLVING = "problem_solving", "Assessment of problem-solving skills"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    test = models.ForeignKey(PocTest, on_delete=models.PROTECT, related_name="competencies")
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assessed_on = models.DateField()
    valid_until = models.DateField(help_text="the last day it lets the person test")
    methods = models.JSONField(default=list)
    first_year = models.BooleanField(default=True, help_text="assessed within the first year")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "test", "valid_until"])]
        ordering = ["-assessed_on", "-id"]

    def facts(self) -> lockout.CompetencyFacts:
        return lockout.CompetencyFacts(assessed_on=self.assessed_on, valid_until=self.valid_until)


class PocTestRun(PublicModel):
    class Status(models.TextChoices):
        REPORTED = "reported", "Reported to the provider"
        INVALID = "invalid", "Invalid: not reportable"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "encounters.Encounter", on_delete=models.PROTECT, related_name="poct_runs"
    )
    test = models.ForeignKey(PocTest, on_delete=models.PROTECT, related_name="runs")
    kit_lot = models.ForeignKey(KitLot, on_delete=models.PROTECT, related_name="runs")
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ordering_provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    performed_at = models.DateTimeField()
    identifiers_confirmed = models.JSONField(
        default=list, help_text="the two identifiers checked, e.g. ['name', 'birth_date']"
    )
    internal_control_valid = models.BooleanField(null=True, blank=True)
    values = models.JSONField(default=dict, help_text="analyte LOINC -> what the device showed")
    status = models.CharField(max_length=10, choices=Status.choices)
    qc_runs = models.ManyToManyField(QcRun, blank=True, related_name="covered_runs")
    report = models.OneToOneField(
        "labs.LabReport", null=True, blank=True, on_delete=models.PROTECT, related_name="poct_run"
    )

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "performed_at"]),
            models.Index(fields=["encounter", "test"]),
        ]
        ordering = ["-performed_at", "-id"]
