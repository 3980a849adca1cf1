"""A vital sign -> FHIR R4 Observation, US Core vital-sign profiles (US Core 9.0.0,
http://hl7.org/fhir/us/core/StructureDefinition/us-core-vital-signs and the profiles derived
from it). Pure: reads the sign, its patient, encounter and recorder (select_related by the
caller) and the recorder's memberships (prefetched).

- The value is served exactly as it was measured: valueQuantity in the UCUM unit stored (a
  weight taken in pounds is [lb_av], not converted to kg; US Core allows either).
- Blood pressure: no top-level value; component 8480-6 systolic and 8462-4 diastolic (each with
  its dataAbsentReason when the reading was received without values).
- Pulse oximetry: code 59408-5 and 2708-6 (the profile requires both), with the inhaled oxygen
  flow (3151-8) and concentration (3150-0) as components when they were taken.
- The interpretation made when it was recorded (v3-ObservationInterpretation N/L/H/LL/HH, with
  the words the user saw), and the reference range used, whose text names its source.
- What came in by FHIR that the measurement itself does not hold (other LOINC codings, such as
  96607-7 for an average blood pressure, a period's end, the sender's notes) is kept in
  details["fhir"] by the FHIR create and served back here.
"""

from decimal import Decimal
from typing import Any

from medassist.fhir.mappers.common import (
    LOINC,
    coding,
    concept,
    patient_reference,
    practitioner_reference,
    without_empty,
)
from medassist.fhir.mappers.observation import INTERPRETATION, OBSERVATION_CATEGORY
from medassist.vitals.models import (
    DIASTOLIC_LOINC,
    LOINC_CODES,
    O2_CONCENTRATION_LOINC,
    O2_FLOW_LOINC,
    SPO2_ARTERIAL_LOINC,
    SYSTOLIC_LOINC,
    Measure,
    VitalSign,
)

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
VITAL_SIGNS = coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")
AVERAGE_BP_LOINC = "96607-7"  # US Core Average Blood Pressure panel
MEAN_SYSTOLIC_LOINC = "96608-5"
MEAN_DIASTOLIC_LOINC = "96609-3"
US_CORE_AVERAGE_BP = US_CORE + "us-core-average-blood-pressure"

DISPLAY = {
    "85354-9": "Blood pressure panel with all children optional",
    "8867-4": "Heart rate",
    "9279-1": "Respiratory rate",
    "8310-5": "Body temperature",
    "8331-1": "Oral temperature",
    "59408-5": "Oxygen saturation in Arterial blood by Pulse oximetry",
    SPO2_ARTERIAL_LOINC: "Oxygen saturation in Arterial blood",
    "8302-2": "Body height",
    "29463-7": "Body weight",
    "39156-5": "Body mass index (BMI) [Ratio]",
    "9843-4": "Head Occipital-frontal circumference",
    "59576-9": "Body mass index (BMI) [Percentile] Per age and sex",
    "77606-2": "Weight-for-length Per age and sex",
    "8289-1": "Head Occipital-frontal circumference Percentile",
    SYSTOLIC_LOINC: "Systolic blood pressure",
    DIASTOLIC_LOINC: "Diastolic blood pressure",
    O2_FLOW_LOINC: "Inhaled oxygen flow rate",
    O2_CONCENTRATION_LOINC: "Inhaled oxygen concentration",
    AVERAGE_BP_LOINC: "Blood pressure panel mean systolic and mean diastolic",
    MEAN_SYSTOLIC_LOINC: "Systolic blood pressure mean",
    MEAN_DIASTOLIC_LOINC: "Diastolic blood pressure mean",
}
UNIT_DISPLAY = {
    "kg": "kg",
    "g": "g",
    "[lb_av]": "lb",
    "[oz_av]": "oz",
    "cm": "cm",
    "m": "m",
    "[in_i]": "in",
    "Cel": "C",
    "[degF]": "degF",
    "mm[Hg]": "mmHg",
    "/min": "/min",
    "%": "%",
    "L/min": "L/min",
    "kg/m2": "kg/m2",
}


def profile(measure: str) -> str:
    return US_CORE + LOINC_CODES[measure][1]


def number(value: Decimal) -> int | float:
    """A stored Decimal as a JSON number with no trailing zeros (70.300000 -> 70.3): an int when
    whole; else the float whose shortest form is the same digits."""
    normal = value.normalize()
    if normal == normal.to_integral_value():
        return int(normal)
    return float(normal)


def quantity(value: Decimal, unit: str) -> dict[str, Any]:
    return {
        "value": number(value),
        "unit": UNIT_DISPLAY.get(unit, unit),
        "system": UCUM,
        "code": unit,
    }


def _absent(reason: str) -> dict[str, Any]:
    return {"coding": [coding(DATA_ABSENT_REASON, reason)], "text": reason}


def _codes(sign: VitalSign, received: list[str]) -> list[dict[str, str]]:
    primary = [sign.loinc] + ([SPO2_ARTERIAL_LOINC] if sign.measure == Measure.SPO2 else [])
    extra = [c for c in received if c not in primary and c in DISPLAY]
    return [coding(LOINC, c, DISPLAY.get(c, "")) for c in primary + extra]


def _bp_components(sign: VitalSign, average: bool) -> list[dict[str, Any]]:
    parts = []
    for code, mean, value in (
        (SYSTOLIC_LOINC, MEAN_SYSTOLIC_LOINC, sign.value),
        (DIASTOLIC_LOINC, MEAN_DIASTOLIC_LOINC, sign.value2),
    ):
        codings = [coding(LOINC, code, DISPLAY[code])]
        if average:
            codings.append(coding(LOINC, mean, DISPLAY[mean]))
        part: dict[str, Any] = {"code": concept(DISPLAY[code], *codings)}
        if value is not None:
            part["valueQuantity"] = quantity(value, sign.unit)
        else:
            part["dataAbsentReason"] = _absent(sign.absent_reason or "unknown")
        parts.append(part)
    return parts


def _oxygen_components(details: dict[str, Any]) -> list[dict[str, Any]]:
    parts = []
    if (flow := details.get("o2_flow")) not in (None, ""):
        parts.append(
            {
                "code": concept(
                    DISPLAY[O2_FLOW_LOINC], coding(LOINC, O2_FLOW_LOINC, DISPLAY[O2_FLOW_LOINC])
                ),
                "valueQuantity": quantity(Decimal(str(flow)), "L/min"),
            }
        )
    if (concentration := details.get("o2_concentration")) not in (None, ""):
        code = O2_CONCENTRATION_LOINC
        parts.append(
            {
                "code": concept(DISPLAY[code], coding(LOINC, code, DISPLAY[code])),
                "valueQuantity": quantity(Decimal(str(concentration)), "%"),
            }
        )
    return parts


def _reference_range(sign: VitalSign) -> list[dict[str, Any]]:
    if sign.range_low is None and sign.range_high is None:
        return []
    unit = sign.range_unit or sign.unit
    bound = {
        "low": quantity(sign.range_low, unit) if sign.range_low is not None else None,
        "high": quantity(sign.range_high, unit) if sign.range_high is not None else None,
        "text": f"Source: {sign.source}" if sign.source else "",
    }
    return [without_empty(bound)]


def _interpretation(sign: VitalSign) -> list[dict[str, Any]]:
    if not sign.flag:
        return []
    display = {"N": "Normal", "L": "Low", "H": "High", "LL": "Critical low", "HH": "Critical high"}
    text = sign.interpretation or display.get(sign.flag, "")
    return [concept(text, coding(INTERPRETATION, sign.flag, display.get(sign.flag, "")))]


def to_fhir(sign: VitalSign) -> dict[str, Any]:
    details = sign.details if isinstance(sign.details, dict) else {}
    kept = details.get("fhir")
    received: dict[str, Any] = kept if isinstance(kept, dict) else {}
    received_codes = [str(c) for c in received.get("codes", [])]
    average = sign.measure == Measure.BLOOD_PRESSURE and AVERAGE_BP_LOINC in received_codes
    profiles = [profile(sign.measure)] + ([US_CORE_AVERAGE_BP] if average else [])
    notes = [sign.note] if sign.note else []
    notes += [str(n) for n in received.get("note", []) if n]
    effective: dict[str, Any] = {"effectiveDateTime": sign.effective.isoformat()}
    if received.get("period_end"):
        effective = {
            "effectivePeriod": {
                "start": sign.effective.isoformat(),
                "end": str(received["period_end"]),
            }
        }
    components: list[dict[str, Any]] = []
    value: dict[str, Any] | None = None
    if sign.measure == Measure.BLOOD_PRESSURE:
        components = _bp_components(sign, average)
    elif sign.value is not None:
        value = quantity(sign.value, sign.unit)
    if sign.measure == Measure.SPO2:
        components = _oxygen_components(details)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(sign.public_id),
        "meta": {"lastUpdated": sign.updated_at.isoformat(), "profile": profiles},
        "status": sign.status,
        "category": [{"coding": [VITAL_SIGNS], "text": "Vital Signs"}],
        "code": concept(Measure(sign.measure).label, *_codes(sign, received_codes)),
        "subject": patient_reference(sign.patient),
        "encounter": (
            {"reference": f"Encounter/{sign.encounter.public_id}"}
            if sign.encounter is not None
            else None
        ),
        **effective,
        "issued": sign.created_at.isoformat(),
        "performer": (
            [practitioner_reference(sign.by, sign.clinic_id)] if sign.by is not None else []
        ),
        "valueQuantity": value,
        "dataAbsentReason": (
            _absent(sign.absent_reason) if sign.absent_reason and sign.value is None else None
        ),
        "interpretation": _interpretation(sign),
        "note": [{"text": n} for n in notes],
        "referenceRange": _reference_range(sign),
        "component": components,
    }
    return without_empty(resource)
