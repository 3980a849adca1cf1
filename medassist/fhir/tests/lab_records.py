"""Lab rows for the FHIR tests, written with the ORM on the labs models as the labs services
would leave them: a lipid panel ordered by bob at a visit (placer and filler numbers, a
diagnosis, a timed draw), the serum specimen alice drew for it and its trail to the lab, and
the lab's report with four results (one flagged high), released to the MA or not yet.

LOINC codes (loinc.org): 24331-1 Lipid 1996 panel - Serum or Plasma (as in the FHIR R4
Bundle-lipids example), 2093-3 Cholesterol [Mass/volume] in Serum or Plasma, 2571-8
Triglyceride [Mass/volume] in Serum or Plasma, 2085-9 HDL Cholesterol [Mass/volume] in Serum or
Plasma, 13457-7 Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation."""

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from medassist.labs.models import (
    CustodyEvent,
    Flag,
    LabOrder,
    LabReport,
    LabRequisition,
    LabResult,
    LabTest,
    PerformingLab,
    Specimen,
    SpecimenType,
)
from medassist.patients.tests.factories import make_encounter, make_patient

ORDERED_AT = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
COLLECTED_AT = dt.datetime(2026, 11, 20, 15, 20, tzinfo=dt.UTC)
RECEIVED_AT = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
ISSUED_AT = dt.datetime(2026, 11, 21, 13, 30, tzinfo=dt.UTC)
LIPID_PANEL = "24331-1"
CHOLESTEROL = "2093-3"
HYPERLIPIDEMIA = {"code": "E78.5", "display": "Hyperlipidemia, unspecified"}

_numbers = itertools.count(1)

# (LOINC, name, value, flag, low, high, reference text): a lipid panel in mg/dL.
LIPIDS = (
    (CHOLESTEROL, "Cholesterol", "245", Flag.HIGH, None, "200", "<200"),
    ("2571-8", "Triglyceride", "130", Flag.NORMAL, None, "150", "<150"),
    ("2085-9", "HDL Cholesterol", "52", Flag.NORMAL, "40", None, ">40"),
    ("13457-7", "LDL Cholesterol (calculated)", "167", Flag.HIGH, None, "100", "<100"),
)


def make_lab(clinic: Any) -> PerformingLab:
    return PerformingLab.objects.get_or_create(
        clinic=clinic,
        facility=f"QUEST-{clinic.code}",
        clinic_facility=clinic.code.upper(),
        defaults={"name": "Quest Diagnostics Springfield", "clia_number": "14D0000001"},
    )[0]


def make_test(clinic: Any, loinc: str = LIPID_PANEL, **fields: Any) -> LabTest:
    values: dict[str, Any] = {
        "name": "Lipid panel",
        "lab_code": f"LIP{loinc}",
        "specimen_type": SpecimenType.SERUM,
        "container": "gold_sst",
        "volume_ml": Decimal("3.5"),
        "fasting_hours": 12,
        "spin_within_minutes": 120,
    }
    values.update(fields)
    return LabTest.objects.get_or_create(
        clinic=clinic, lab=make_lab(clinic), loinc=loinc, defaults=values
    )[0]


def lab_order(patient: Any, cast: Any, **fields: Any) -> LabOrder:
    """A lipid panel bob ordered at a visit, for hyperlipidemia; the lab has given its number."""
    clinic = patient.clinic
    n = next(_numbers)
    test = fields.pop("test", None) or make_test(clinic)
    requisition = LabRequisition.objects.create(
        clinic=clinic,
        patient=patient,
        encounter=make_encounter(patient, cast.bob, start=ORDERED_AT - dt.timedelta(minutes=20)),
        lab=test.lab,
        number=f"R{n:07d}",
        ordered_by=cast.bob,
        ordered_at=fields.pop("ordered_at", ORDERED_AT),
        priority=fields.pop("priority", "routine"),
        diagnoses=fields.pop("diagnoses", [HYPERLIPIDEMIA]),
        note=fields.pop("note", "Fasting 12 hours"),
    )
    values: dict[str, Any] = {
        "clinic": clinic,
        "patient": patient,
        "requisition": requisition,
        "test": test,
        "placer_number": f"P{n:07d}",
        "filler_number": f"QL{n:06d}",
        "stage": LabOrder.Stage.AT_LAB,
    }
    values.update(fields)
    return LabOrder.objects.create(**values)


def collected_specimen(order: LabOrder, cast: Any, **fields: Any) -> Specimen:
    """The serum tube alice drew for the order: spun, refrigerated, sent and received."""
    steps = fields.pop(
        "steps",
        (
            (CustodyEvent.Step.COLLECTED, COLLECTED_AT, ""),
            (CustodyEvent.Step.LABELED, COLLECTED_AT + dt.timedelta(minutes=1), ""),
            (CustodyEvent.Step.SPUN, COLLECTED_AT + dt.timedelta(minutes=35), "10 min at 1300 g"),
            (CustodyEvent.Step.REFRIGERATED, COLLECTED_AT + dt.timedelta(minutes=50), ""),
            (CustodyEvent.Step.HANDED_TO_COURIER, COLLECTED_AT + dt.timedelta(hours=2), ""),
            (CustodyEvent.Step.RECEIVED_BY_LAB, RECEIVED_AT, ""),
        ),
    )
    values: dict[str, Any] = {
        "clinic": order.clinic,
        "patient": order.patient,
        "requisition": order.requisition,
        "accession": f"A{next(_numbers):09d}",
        "container": "gold_sst",
        "specimen_type": SpecimenType.SERUM,
        "status": Specimen.Status.RECEIVED,
        "collected_at": COLLECTED_AT,
        "collected_by": cast.alice,
        "method": Specimen.Method.VENIPUNCTURE,
        "body_site": "left antecubital vein",
        "identifiers_confirmed": ["name", "birth_date"],
        "fasting_hours_reported": 12,
        "problems": [Specimen.Problem.HEMOLYSIS_RISK],
    }
    values.update(fields)
    specimen = Specimen.objects.create(**values)
    specimen.orders.add(order)
    for step, at, detail in steps:
        CustodyEvent.objects.create(
            specimen=specimen,
            step=step,
            at=at,
            by=None if step == CustodyEvent.Step.RECEIVED_BY_LAB else cast.alice,
            by_name="Quest Diagnostics Springfield"
            if step == CustodyEvent.Step.RECEIVED_BY_LAB
            else "",
            detail=detail,
        )
    return specimen


def lipid_report(order: LabOrder, cast: Any, *, released: bool = True, **fields: Any) -> LabReport:
    """The lab's final report of the order, with the four lipid results; released by bob to the
    MA (with words for the patient) unless `released` is False."""
    values: dict[str, Any] = {
        "clinic": order.clinic,
        "patient": order.patient,
        "encounter": order.requisition.encounter,
        "order": order,
        "loinc": order.test.loinc,
        "name": order.test.name,
        "status": LabReport.Status.FINAL,
        "performer": order.requisition.lab.name,
        "filler_number": order.filler_number,
        "collected_at": COLLECTED_AT,
        "issued_at": ISSUED_AT,
        "ordering_provider": cast.bob,
        "abnormal": True,
    }
    if released:
        values |= {
            "reviewed_at": ISSUED_AT + dt.timedelta(hours=1),
            "reviewed_by": cast.bob,
            "released_at": ISSUED_AT + dt.timedelta(hours=1),
            "released_by": cast.bob,
            "patient_message": "Your cholesterol is a little high; we will talk diet.",
        }
    values.update(fields)
    report = LabReport.objects.create(**values)
    for sequence, (loinc, name, value, flag, low, high, text) in enumerate(LIPIDS, start=1):
        lab_result(
            report,
            sequence=sequence,
            loinc=loinc,
            name=name,
            value_number=Decimal(value),
            flag=flag,
            reference_low=Decimal(low) if low else None,
            reference_high=Decimal(high) if high else None,
            reference_text=text,
        )
    return report


def lab_result(report: LabReport, **fields: Any) -> LabResult:
    values: dict[str, Any] = {
        "report": report,
        "patient": report.patient,
        "sequence": 1,
        "loinc": CHOLESTEROL,
        "name": "Cholesterol",
        "value_type": LabResult.ValueType.NUMERIC,
        "unit": "mg/dL",
        "status": "final",
        "observed_at": COLLECTED_AT,
    }
    values.update(fields)
    return LabResult.objects.create(**values)


def north_lab_records(cast: Any, patient: Any) -> dict[str, str]:
    """The ids of a North order, its specimen, its released report and a result (an
    Observation), keyed by resource type ("LabObservation" for the result)."""
    order = lab_order(patient, cast)
    specimen = collected_specimen(order, cast)
    report = lipid_report(order, cast)
    result = report.results.order_by("sequence").first()
    assert result is not None
    return {
        "ServiceRequest": str(order.public_id),
        "Specimen": str(specimen.public_id),
        "DiagnosticReport": str(report.public_id),
        "LabObservation": f"lab-{result.public_id}",
    }


# For the outsider test (tests/test_outsiders.py): one North object per FHIR id route. --------


def _north(cast: Any, kind: str) -> str:
    patient = make_patient(cast.north, family="Northerner", given="Lena")
    return north_lab_records(cast, patient)[kind]


def north_service_request(cast: Any) -> str:
    return _north(cast, "ServiceRequest")


def north_specimen(cast: Any) -> str:
    return _north(cast, "Specimen")


def north_diagnostic_report(cast: Any) -> str:
    return _north(cast, "DiagnosticReport")


def north_lab_observation(cast: Any) -> str:
    """A North lab result's Observation id (fhir/R4/Observation/<id> with a lab id)."""
    return _north(cast, "LabObservation")
