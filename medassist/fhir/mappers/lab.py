"""Lab orders, specimens, reports and results -> FHIR R4, as US Core 9.0.0 profiles them. Pure:
each function reads the record and what the caller loaded with it (select_related and
prefetch_related, listed on each function), never the database.

- LabOrder -> ServiceRequest (us-core-servicerequest): identifier PLAC (our placer number,
  ORC-2) and FILL (the lab's, ORC-3, once known; no system of ours, the lab as its assigner),
  requisition PGN (the requisition number: the tests ordered together), status as stored
  (FHIR request-status), intent order, category SNOMED CT 108252007 Laboratory procedure (in
  US Core's servicerequest-category value set, through FHIR's servicerequest-category), code
  LOINC, authoredOn, requester, priority (FHIR request-priority), reasonCode ICD-10-CM from the
  requisition's diagnoses (HL7 v2 DG1), the specimens, and occurrencePeriod.start for a timed
  draw ("not before": a start with no end).
- Specimen -> Specimen (us-core-specimen): the label's accession number, status from the chain
  of custody (available while it can be tested; unsatisfactory once the lab rejected it;
  unavailable when it was never collected: FHIR specimen-status), type HL7 v2 table 0487,
  collection (collector, time, method HL7 v2 table 0488 where the code is in the table, body
  site as the MA wrote it, fasting hours reported), the container (draw.CONTAINERS), processing
  (centrifuged, aliquoted, refrigerated, frozen: from the custody trail, each with its time),
  receivedTime (the lab's receipt), and the collection problems as notes.
- LabReport -> DiagnosticReport (us-core-diagnosticreport-lab): category LAB (HL7 v2 table
  0074), code LOINC, effectiveDateTime (collected), issued, performer the lab (an Organization
  named by display: no Organization resource is served), result, basedOn, specimen. A
  point-of-care report (source "poct") is performed by the clinic and, first, by the person
  who ran the test (its PocTestRun's operator, a Practitioner reference). R4 DiagnosticReport
  has no device element: the kit is named on the Observations.
- LabResult -> Observation (us-core-observation-lab): category laboratory, code LOINC, the
  value as the lab sent it (valueQuantity in UCUM, with the comparator of a structured numeric
  such as <5; valueString; valueCodeableConcept in SNOMED CT), interpretation the lab's flag
  (v3-ObservationInterpretation: HL7 v2 table 0078 uses the same codes), referenceRange, the
  lab as performer (a point-of-care result: the operator, a Practitioner, and the clinic; and
  device, the kit or meter with its lot, "Assure Prism multi, lot 24117", by display: no
  Device resource is served). Its id is "lab-" and the result's public id, so that it can never be
  mistaken for a vital sign's (a bare UUID) or a screening's (a visit's UUID and an
  instrument): see lab_observation_id().

Codes: LOINC (loinc.org) as the catalog and the lab give them; displays are left to the code
system where only the lab's own name is known (it goes in text).
"""

import uuid
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from medassist.fhir.mappers.common import (
    ICD10CM,
    LOINC,
    SNOMED,
    coding,
    concept,
    patient_reference,
    practitioner_reference,
    without_empty,
)
from medassist.fhir.mappers.observation import INTERPRETATION, OBSERVATION_CATEGORY
from medassist.fhir.mappers.vital_sign import UCUM, number
from medassist.labs.draw import CONTAINERS
from medassist.labs.models import (
    CustodyEvent,
    Flag,
    LabOrder,
    LabReport,
    LabResult,
    SpecimenType,
)
from medassist.labs.models import Specimen as SpecimenRecord

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
US_CORE_SERVICE_REQUEST = US_CORE + "us-core-servicerequest"
US_CORE_SPECIMEN = US_CORE + "us-core-specimen"
US_CORE_DIAGNOSTIC_REPORT_LAB = US_CORE + "us-core-diagnosticreport-lab"
US_CORE_OBSERVATION_LAB = US_CORE + "us-core-observation-lab"

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier type
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"  # diagnostic service section
V2_0487 = "http://terminology.hl7.org/CodeSystem/v2-0487"  # specimen type
V2_0488 = "http://terminology.hl7.org/CodeSystem/v2-0488"  # specimen collection method
SPECIMEN_STATUS = "http://hl7.org/fhir/specimen-status"
DIAGNOSTIC_REPORT_STATUS = "http://hl7.org/fhir/diagnostic-report-status"
REQUEST_STATUS = "http://hl7.org/fhir/request-status"
# The workstation's own numbers: placer order numbers (ORC-2), requisitions, specimen labels.
PLACER_SYSTEM = "https://medassist.example/fhir/sid/lab-placer-number"
REQUISITION_SYSTEM = "https://medassist.example/fhir/sid/lab-requisition"
ACCESSION_SYSTEM = "https://medassist.example/fhir/sid/specimen-accession"

LAB_OBSERVATION_PREFIX = "lab-"

PLACER = concept("Placer Identifier", coding(V2_0203, "PLAC", "Placer Identifier"))
FILLER = concept("Filler Identifier", coding(V2_0203, "FILL", "Filler Identifier"))
PLACER_GROUP = concept("Placer Group Number", coding(V2_0203, "PGN", "Placer Group Number"))
LABORATORY_PROCEDURE = coding(SNOMED, "108252007", "Laboratory procedure")
LAB_SECTION = coding(V2_0074, "LAB", "Laboratory")
LABORATORY = coding(OBSERVATION_CATEGORY, "laboratory", "Laboratory")

# HL7 v2 table 0488 (THO CodeSystem v2-0488, version 3.0.0): the methods of Specimen.Method that
# the table has. Clean-catch, random urine and stool collection are not in it; they are given
# as text only rather than under a code the table does not define.
_METHOD_0488: dict[str, str] = {
    SpecimenRecord.Method.VENIPUNCTURE: "Venipuncture",
    SpecimenRecord.Method.CAPILLARY: "Capillary Specimen",
    SpecimenRecord.Method.SWAB: "Swab",
}
# FHIR specimen-status from the chain of custody: a rejected specimen is "unsatisfactory" (a
# quality issue), one never collected "unavailable" (there is no physical specimen).
_SPECIMEN_STATUS: dict[str, str] = {
    SpecimenRecord.Status.REJECTED: "unsatisfactory",
    SpecimenRecord.Status.NOT_COLLECTED: "unavailable",
}
# The custody steps that are processing of the specimen (FHIR Specimen.processing).
PROCESSING_STEPS = (
    CustodyEvent.Step.SPUN,
    CustodyEvent.Step.ALIQUOTED,
    CustodyEvent.Step.REFRIGERATED,
    CustodyEvent.Step.FROZEN,
)
# v3-ObservationInterpretation displays of the HL7 v2 table 0078 flags the lab sends.
_INTERPRETATION_DISPLAY: dict[str, str] = {
    Flag.NORMAL: "Normal",
    Flag.LOW: "Low",
    Flag.HIGH: "High",
    Flag.CRITICAL_LOW: "Critical low",
    Flag.CRITICAL_HIGH: "Critical high",
    Flag.ABNORMAL: "Abnormal",
    Flag.CRITICAL: "Critical abnormal",
    Flag.BELOW_RANGE: "Off scale low",
    Flag.ABOVE_RANGE: "Off scale high",
}
_COMPARATORS = {"<", "<=", ">=", ">"}  # FHIR quantity-comparator
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


# Ids and references ---------------------------------------------------------------------------


def lab_observation_id(result: LabResult) -> str:
    return f"{LAB_OBSERVATION_PREFIX}{result.public_id}"


def parse_lab_observation_id(value: str) -> uuid.UUID | None:
    """The result's public id in a lab Observation's id, or None when it is not one."""
    if not value.startswith(LAB_OBSERVATION_PREFIX):
        return None
    tail = value.removeprefix(LAB_OBSERVATION_PREFIX)
    if len(tail) != 36:  # the hyphenated form only: one id, one spelling
        return None
    try:
        return uuid.UUID(tail)
    except ValueError:
        return None


def _encounter(encounter: Any) -> dict[str, str] | None:
    return {"reference": f"Encounter/{encounter.public_id}"} if encounter is not None else None


def _organization(name: str) -> list[dict[str, str]]:
    # No Organization resource is served: the lab is named (R4 Reference.display, with its type).
    return [{"type": "Organization", "display": name}] if name else []


def point_of_care_run(report: LabReport) -> Any | None:
    """The point-of-care test run that produced a report (poct.PocTestRun, reached through its
    one-to-one report link), or None for a reference lab's. Reads report.poct_run, which the
    caller loads with select_related (with its test, kit_lot and operator)."""
    if report.source != LabReport.Source.POCT:
        return None
    try:
        return report.poct_run  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return None


def _performers(report: LabReport) -> list[dict[str, str]]:
    """The lab (or the clinic); for a point-of-care test, the person who ran it first."""
    run = point_of_care_run(report)
    operator = [practitioner_reference(run.operator, report.clinic_id)] if run else []
    return operator + _organization(report.performer)


def _device(report: LabReport) -> dict[str, str] | None:
    """The kit, strip or meter and its lot a point-of-care result was read from, by display
    (R4 Reference.display, with its type: no Device resource is served)."""
    run = point_of_care_run(report)
    if run is None:
        return None
    return {"type": "Device", "display": f"{run.test.device}, lot {run.kit_lot.lot_number}"}


def _service_request(order: LabOrder | None) -> list[dict[str, str]]:
    return [{"reference": f"ServiceRequest/{order.public_id}"}] if order is not None else []


def _specimens(specimens: list[SpecimenRecord]) -> list[dict[str, str]]:
    return [
        {"reference": f"Specimen/{s.public_id}", "display": s.accession}
        for s in sorted(specimens, key=lambda s: s.pk)
    ]


def tested_specimen(order: LabOrder | None) -> SpecimenRecord | None:
    """The specimen the lab tested for the order: the one it received (the latest, after a
    redraw), else the only one collected. None when that cannot be told."""
    if order is None:
        return None
    specimens = sorted(order.specimens.all(), key=lambda s: s.pk)
    received = [s for s in specimens if s.status == SpecimenRecord.Status.RECEIVED]
    if received:
        return received[-1]
    collected = [s for s in specimens if s.status != SpecimenRecord.Status.NOT_COLLECTED]
    return collected[0] if len(collected) == 1 else None


def _quantity(value: Decimal, unit: str, comparator: str = "") -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": number(value)}
    if comparator in _COMPARATORS:
        quantity["comparator"] = comparator
    if unit:  # US Core us-core-3: a coded unit is UCUM
        quantity |= {"unit": unit, "system": UCUM, "code": unit}
    return quantity


# ServiceRequest -------------------------------------------------------------------------------


def _reasons(diagnoses: Any) -> list[dict[str, Any]]:
    reasons = []
    for diagnosis in diagnoses if isinstance(diagnoses, list) else []:
        if not isinstance(diagnosis, dict) or not diagnosis.get("code"):
            continue
        display = str(diagnosis.get("display") or "")
        reasons.append(concept(display, coding(ICD10CM, str(diagnosis["code"]), display)))
    return reasons


def service_request_to_fhir(order: LabOrder) -> dict[str, Any]:
    """Reads order.patient, .test, .requisition (its .lab, .encounter, .ordered_by and the
    orderer's memberships) and order.specimens.all()."""
    requisition = order.requisition
    identifiers: list[dict[str, Any]] = [
        {"type": PLACER, "system": PLACER_SYSTEM, "value": order.placer_number}
    ]
    if order.filler_number:
        identifiers.append(
            {
                "type": FILLER,
                "value": order.filler_number,
                "assigner": {"display": requisition.lab.name},
            }
        )
    notes = [requisition.note] if requisition.note else []
    if order.cancelled_reason:
        notes.append(f"Cancelled: {order.cancelled_reason}")
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(order.public_id),
        "meta": {"lastUpdated": order.updated_at.isoformat(), "profile": [US_CORE_SERVICE_REQUEST]},
        "identifier": identifiers,
        "requisition": {
            "type": PLACER_GROUP,
            "system": REQUISITION_SYSTEM,
            "value": requisition.number,
        },
        "status": order.status,
        "intent": "order",
        "category": [concept("Laboratory procedure", LABORATORY_PROCEDURE)],
        "priority": requisition.priority,
        "code": concept(order.test.name, coding(LOINC, order.test.loinc)),
        "subject": patient_reference(order.patient),
        "encounter": _encounter(requisition.encounter),
        "occurrencePeriod": (
            {"start": order.collect_not_before.isoformat()}
            if order.collect_not_before is not None
            else None
        ),
        "authoredOn": requisition.ordered_at.isoformat(),
        "requester": practitioner_reference(requisition.ordered_by, requisition.clinic_id),
        "performer": _organization(requisition.lab.name),
        "reasonCode": _reasons(requisition.diagnoses),
        "specimen": _specimens(list(order.specimens.all())),
        "note": [{"text": n} for n in notes],
    }
    return without_empty(resource)


# Specimen -------------------------------------------------------------------------------------


def specimen_status(specimen: SpecimenRecord) -> str:
    return _SPECIMEN_STATUS.get(specimen.status, "available")


def _method(specimen: SpecimenRecord) -> dict[str, Any] | None:
    if not specimen.method:
        return None
    display = _METHOD_0488.get(specimen.method)
    label = SpecimenRecord.Method(specimen.method).label
    return concept(label, coding(V2_0488, specimen.method, display) if display else None)


def _container(specimen: SpecimenRecord) -> list[dict[str, Any]]:
    info = CONTAINERS.get(specimen.container)
    if info is None:
        return []
    additive = info.additive if info.additive not in ("", "none") else ""
    return [
        without_empty(
            {
                "identifier": [{"system": ACCESSION_SYSTEM, "value": specimen.accession}],
                "description": info.label,
                "additiveCodeableConcept": {"text": additive} if additive else None,
            }
        )
    ]


def _fasting(hours: int | None) -> dict[str, Any] | None:
    if hours is None:
        return None
    return {"value": hours, "unit": "h", "system": UCUM, "code": "h"}


def _problems(specimen: SpecimenRecord) -> list[str]:
    labels = dict(SpecimenRecord.Problem.choices)
    problems = specimen.problems if isinstance(specimen.problems, list) else []
    return [str(labels.get(p, p)) for p in problems if p]


def specimen_to_fhir(specimen: SpecimenRecord) -> dict[str, Any]:
    """Reads specimen.patient, .collected_by (and their memberships), specimen.orders.all()
    and specimen.custody.all()."""
    custody = list(specimen.custody.all())
    received = [e for e in custody if e.step == CustodyEvent.Step.RECEIVED_BY_LAB]
    processing = [
        without_empty(
            {
                "description": CustodyEvent.Step(e.step).label
                + (f": {e.detail}" if e.detail else ""),
                "timeDateTime": e.at.isoformat(),
            }
        )
        for e in custody
        if e.step in PROCESSING_STEPS
    ]
    collector = (
        practitioner_reference(specimen.collected_by, specimen.clinic_id)
        if specimen.collected_by is not None
        else None
    )
    collection = without_empty(
        {
            "collector": collector,
            "collectedDateTime": (
                specimen.collected_at.isoformat() if specimen.collected_at is not None else None
            ),
            "method": _method(specimen),
            "bodySite": {"text": specimen.body_site} if specimen.body_site else None,
            "fastingStatusDuration": _fasting(specimen.fasting_hours_reported),
        }
    )
    accession = {"system": ACCESSION_SYSTEM, "value": specimen.accession}
    notes = _problems(specimen) + ([specimen.note] if specimen.note else [])
    resource: dict[str, Any] = {
        "resourceType": "Specimen",
        "id": str(specimen.public_id),
        "meta": {"lastUpdated": specimen.updated_at.isoformat(), "profile": [US_CORE_SPECIMEN]},
        "identifier": [accession],
        "accessionIdentifier": accession,
        "status": specimen_status(specimen),
        "type": concept(
            SpecimenType(specimen.specimen_type).label,
            coding(V2_0487, specimen.specimen_type),
        ),
        "subject": patient_reference(specimen.patient),
        "receivedTime": received[-1].at.isoformat() if received else None,
        "request": [
            {"reference": f"ServiceRequest/{o.public_id}", "display": o.placer_number}
            for o in sorted(specimen.orders.all(), key=lambda o: o.pk)
        ],
        "collection": collection,
        "processing": processing,
        "container": _container(specimen),
        "note": [{"text": n} for n in notes],
    }
    return without_empty(resource)


# DiagnosticReport -----------------------------------------------------------------------------


def diagnostic_report_to_fhir(report: LabReport) -> dict[str, Any]:
    """Reads report.patient, .encounter, .order (and its specimens.all()),
    report.results.all() and, for a point-of-care report, report.poct_run (its operator and
    the operator's memberships)."""
    order = report.order
    specimens = list(order.specimens.all()) if order is not None else []
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": str(report.public_id),
        "meta": {
            "lastUpdated": report.updated_at.isoformat(),
            "profile": [US_CORE_DIAGNOSTIC_REPORT_LAB],
        },
        "identifier": (
            [{"type": FILLER, "value": report.filler_number}] if report.filler_number else []
        ),
        "basedOn": _service_request(order),
        "status": report.status,
        "category": [{"coding": [LAB_SECTION], "text": "Laboratory"}],
        "code": concept(report.name, coding(LOINC, report.loinc)),
        "subject": patient_reference(report.patient),
        "encounter": _encounter(report.encounter),
        # US Core us-core-8: effective[x] for every report with results (preliminary onward).
        "effectiveDateTime": (
            report.collected_at.isoformat() if report.collected_at is not None else None
        ),
        "issued": report.issued_at.isoformat(),
        "performer": _performers(report),
        "specimen": _specimens(
            [s for s in specimens if s.status != SpecimenRecord.Status.NOT_COLLECTED]
        ),
        "result": [
            {"reference": f"Observation/{lab_observation_id(r)}", "display": r.name}
            for r in report.results.all()
        ],
    }
    return without_empty(resource)


# Observation ---------------------------------------------------------------------------------


def _value(result: LabResult) -> dict[str, Any]:
    kind = result.value_type
    if kind in (LabResult.ValueType.NUMERIC, LabResult.ValueType.STRUCTURED):
        if result.value_number is not None:
            comparator = result.value_comparator if kind == LabResult.ValueType.STRUCTURED else ""
            return {"valueQuantity": _quantity(result.value_number, result.unit, comparator)}
    elif kind == LabResult.ValueType.CODED and (result.value_code or result.value_text):
        # US Core us-core-4: coded results in SNOMED CT.
        snomed = coding(SNOMED, result.value_code) if result.value_code else None
        return {"valueCodeableConcept": concept(result.value_text, snomed)}
    if result.value_text:  # text, or a number the lab sent as words ("see note", "TNP")
        return {"valueString": result.value_text}
    # US Core us-core-2: no value, so say why.
    reason = "not-performed" if result.status == "cancelled" else "unknown"
    return {"dataAbsentReason": concept(reason, coding(DATA_ABSENT_REASON, reason))}


def _interpretation(result: LabResult) -> list[dict[str, Any]]:
    if not result.flag:
        return []
    display = _INTERPRETATION_DISPLAY.get(result.flag, "")
    return [concept(Flag(result.flag).label, coding(INTERPRETATION, result.flag, display))]


def _reference_range(result: LabResult) -> list[dict[str, Any]]:
    low, high = result.reference_low, result.reference_high
    if low is None and high is None and not result.reference_text:
        return []
    return [
        without_empty(
            {
                "low": _quantity(low, result.unit) if low is not None else None,
                "high": _quantity(high, result.unit) if high is not None else None,
                "text": result.reference_text,
            }
        )
    ]


def lab_observation_to_fhir(result: LabResult) -> dict[str, Any]:
    """Reads result.report (its patient, encounter, order and the order's specimens.all(); for
    a point-of-care result, its poct_run with the test, kit_lot, operator and the operator's
    memberships)."""
    report = result.report
    effective = result.observed_at or report.collected_at
    specimen = tested_specimen(report.order)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": lab_observation_id(result),
        "meta": {
            "lastUpdated": result.updated_at.isoformat(),
            "profile": [US_CORE_OBSERVATION_LAB],
        },
        "basedOn": _service_request(report.order),
        "status": result.status,
        "category": [{"coding": [LABORATORY], "text": "Laboratory"}],
        "code": concept(result.name, coding(LOINC, result.loinc)),
        "subject": patient_reference(report.patient),
        "encounter": _encounter(report.encounter),
        "effectiveDateTime": effective.isoformat() if effective is not None else None,
        "issued": report.issued_at.isoformat(),
        "performer": _performers(report),
        **_value(result),
        "interpretation": _interpretation(result),
        "note": [{"text": result.note}] if result.note else [],
        "device": _device(report),
        "specimen": (
            {"reference": f"Specimen/{specimen.public_id}", "display": specimen.accession}
            if specimen is not None
            else None
        ),
        "referenceRange": _reference_range(result),
    }
    return without_empty(resource)
