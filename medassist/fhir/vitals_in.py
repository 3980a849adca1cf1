"""Vital-sign Observations coming in (FHIR create, and the entries of a batch or transaction
Bundle): the body read as FHIR R4B (fhir.resources), then the US Core vital-sign observation
turned into what the rooming form would have entered (vitals.services.VitalsEntry), so that the
same plausibility checks, interpretation and critical-value alerts apply to both.

Every refusal is an OperationOutcome whose expression names the element at fault in FHIRPath
("Observation.valueQuantity.code", "Bundle.entry[266].resource.effectivePeriod.stop").

What is read:
- code: one vital sign per Observation, by its LOINC code (85354-9 blood pressure, also coded
  96607-7 for an average; 8867-4; 9279-1; 8310-5, with 8331-1 for an oral reading; 59408-5 /
  2708-6; 8302-2; 29463-7; 39156-5; 9843-4; 59576-9; 77606-2; 8289-1).
- value: valueQuantity with a UCUM code the measure is taken in (kg g [lb_av]; cm [in_i];
  Cel [degF]; /min; mm[Hg]; %; kg/m2), stored exactly as sent; blood pressure in its components
  8480-6 / 8462-4 (or 96608-5 / 96609-3); pulse oximetry's inhaled oxygen flow (3151-8, L/min)
  and concentration (3150-0, %) components. Or dataAbsentReason: stored as not measured.
- effective[x]: effectiveDateTime, effectiveInstant or effectivePeriod.start. A value without a
  time (a date, a month, a year) is its first day at 00:00 in the clinic's time zone.
- subject: a Patient of this server the user may see (Patient/<id>); encounter, optional: a visit
  of that patient (Encounter/<id>). A reference this server cannot resolve in any case (urn:uuid:,
  another server's URL, display only) is not kept: the reading is recorded without a visit.
BMI and the percentiles are stored as sent ("reported"), never recomputed from them.
"""

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone
from pydantic import ValidationError

from medassist.fhir.mappers.vital_sign import (
    AVERAGE_BP_LOINC,
    MEAN_DIASTOLIC_LOINC,
    MEAN_SYSTOLIC_LOINC,
    UCUM,
)
from medassist.fhir.outcome import FhirError
from medassist.fhir.search import shown
from medassist.vitals import units
from medassist.vitals.models import (
    DIASTOLIC_LOINC,
    O2_CONCENTRATION_LOINC,
    O2_FLOW_LOINC,
    SPO2_ARTERIAL_LOINC,
    SYSTOLIC_LOINC,
    Measure,
)
from medassist.vitals.services import BloodPressure, Reported, VitalsEntry

LOINC = "http://loinc.org"
ORAL_TEMPERATURE_LOINC = "8331-1"
JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}

# The code of each measure this server records.
MEASURE_FOR_CODE: dict[str, str] = {
    "85354-9": Measure.BLOOD_PRESSURE,
    AVERAGE_BP_LOINC: Measure.BLOOD_PRESSURE,
    "8867-4": Measure.HEART_RATE,
    "9279-1": Measure.RESPIRATORY_RATE,
    "8310-5": Measure.TEMPERATURE,
    ORAL_TEMPERATURE_LOINC: Measure.TEMPERATURE,
    "59408-5": Measure.SPO2,
    SPO2_ARTERIAL_LOINC: Measure.SPO2,
    "8302-2": Measure.HEIGHT,
    "29463-7": Measure.WEIGHT,
    "39156-5": Measure.BMI,
    "9843-4": Measure.HEAD,
    "59576-9": Measure.BMI_PERCENTILE,
    "77606-2": Measure.WEIGHT_FOR_LENGTH,
    "8289-1": Measure.HEAD_PERCENTILE,
}
# The UCUM units each measure is accepted in.
UNITS: dict[str, tuple[str, ...]] = {
    Measure.BLOOD_PRESSURE: (units.MMHG,),
    Measure.HEART_RATE: (units.PER_MIN,),
    Measure.RESPIRATORY_RATE: (units.PER_MIN,),
    Measure.TEMPERATURE: (units.CEL, units.DEGF),
    Measure.SPO2: (units.PCT,),
    Measure.HEIGHT: (units.CM, units.IN),
    Measure.WEIGHT: (units.KG, units.G, units.LB),
    Measure.BMI: (units.KG_M2,),
    Measure.HEAD: (units.CM, units.IN),
    Measure.BMI_PERCENTILE: (units.PCT,),
    Measure.WEIGHT_FOR_LENGTH: (units.PCT,),
    Measure.HEAD_PERCENTILE: (units.PCT,),
}
WHOLE = {Measure.HEART_RATE, Measure.RESPIRATORY_RATE, Measure.SPO2, Measure.BLOOD_PRESSURE}
PERCENTILES = {Measure.BMI_PERCENTILE, Measure.WEIGHT_FOR_LENGTH, Measure.HEAD_PERCENTILE}
REPORTED = {Measure.BMI} | PERCENTILES
RECORDED_STATUSES = ("final", "amended", "corrected")
EARLIEST_YEAR = 1900  # and far from the calendar's ends, where time zones overflow
LARGEST = Decimal(10) ** 6  # VitalSign.value holds 12 digits, 6 of them decimals
_REFERENCE = re.compile(r"(?:^|/)(?P<type>[A-Za-z]+)/(?P<id>[A-Za-z0-9.-]{1,64})$")
_DATETIME = re.compile(
    r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)"
    r"(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"
)


# Reading the body --------------------------------------------------------------------------


def read_json(request: Any) -> Any:
    """The body as JSON, numbers with a fraction as Decimal (a measurement must stay exactly as
    sent). 415 for a body that does not say it is JSON; 400 for one that is not."""
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type and content_type not in JSON_TYPES:
        raise FhirError(
            415, f"Send FHIR JSON (Content-Type: application/fhir+json), not {shown(content_type)}."
        )
    try:
        return json.loads(request.body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise FhirError(400, f"The body is not JSON: {str(exc)[:200]}") from None


_MESSAGES = {"extra_forbidden": "extra field not permitted", "missing": "field required"}


def fhirpath(root: str, loc: tuple[Any, ...]) -> str:
    """A pydantic error location as FHIRPath: ("entry", 266, "resource", "code") ->
    "Bundle.entry[266].resource.code"."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        elif re.fullmatch(r"_?[A-Za-z][A-Za-z0-9_]*", str(part)):
            path += f".{part}"
    return path


def validate(data: Any, resource_type: str) -> None:
    """Refuse, with 422 naming the elements at fault, what fhir.resources (R4B) does not read as
    a valid `resource_type`."""
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(data, dict):
        raise FhirError(422, f"The body must be a FHIR {resource_type} (a JSON object).")
    if data.get("resourceType") != resource_type:
        raise FhirError(
            422,
            f"{resource_type}.resourceType: expected {resource_type!r}, "
            f"not {shown(str(data.get('resourceType')))}",
            expression=[f"{resource_type}.resourceType"],
        )
    _check_resource_types(data, resource_type)
    try:
        get_fhir_model_class(resource_type).model_validate(data)
    except ValidationError as exc:
        problems = [
            (
                fhirpath(resource_type, tuple(e["loc"])),
                _MESSAGES.get(e["type"], e["msg"].removeprefix("Value error, ")),
            )
            for e in exc.errors()[:20]
        ]
        raise FhirError(
            422,
            "; ".join(f"{path}: {message}" for path, message in problems)[:2000],
            expression=list(dict.fromkeys(path for path, _ in problems)),
        ) from None
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise FhirError(
            422, f"{resource_type}: not a valid FHIR R4 {resource_type} ({str(exc)[:200]})"
        ) from None


def _check_resource_types(data: dict[str, Any], root: str) -> None:
    """Name an unknown resourceType inside a Bundle (fhir.resources fails on it without saying
    where)."""
    from fhir.resources.R4B import get_fhir_model_class

    entries = data.get("entry") if root == "Bundle" else None
    if not isinstance(entries, list):
        return
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or "resourceType" not in resource:
            continue
        name = resource["resourceType"]
        try:
            known = isinstance(name, str) and bool(get_fhir_model_class(name))
        except (KeyError, ValueError, AttributeError, ImportError):
            known = False
        if not known:
            path = f"Bundle.entry[{i}].resource.resourceType"
            raise FhirError(
                422, f"{path}: unknown resource type {shown(str(name))}", expression=[path]
            )


# The observation ---------------------------------------------------------------------------


@dataclass
class Posted:
    """A vital-sign Observation as understood, ready for record_vitals()."""

    measure: str
    entry: VitalsEntry
    patient_id: str  # the subject's id (a Patient on this server, still to be looked up)
    encounter_id: str | None  # Encounter/<id> on this server, still to be looked up
    effective_path: str
    # Where each plausibility field of record_vitals() is in the resource, for its refusals.
    paths: dict[str, str] = field(default_factory=dict)
    # What the measurement does not hold, kept with it (VitalSign.details["fhir"]).
    provenance: dict[str, Any] = field(default_factory=dict)
    # Observation.identifier[0] as "system|value": the same one sent again is the same reading.
    identifier: str = ""


def _fail(path: str, problem: str) -> FhirError:
    return FhirError(422, f"{path}: {problem}", expression=[path])


def _loinc_codes(concept: Any) -> list[str]:
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return [
        str(c.get("code"))
        for c in codings
        if isinstance(c, dict) and c.get("system") == LOINC and c.get("code")
    ]


def _absent_reason(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    for c in value.get("coding", []):
        if isinstance(c, dict) and c.get("code"):
            return str(c["code"])[:40]
    return str(value.get("text") or "unknown")[:40]


def reference_id(reference: Any, resource_type: str) -> str | None:
    """The id of `Type/<id>` (relative, or an absolute URL ending so) when it names a
    `resource_type`; None for a reference this server cannot resolve (urn:uuid:, display only,
    a contained #id)."""
    text = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(text, str):
        return None
    match = _REFERENCE.search(text)
    if match is None or match["type"] != resource_type:
        return None
    return match["id"]


def effective_at(value: str) -> dt.datetime:
    """A FHIR dateTime as an aware datetime. Without a time it is the first instant of the day
    (month, year) in the clinic's time zone."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise ValueError(value)
    zone = timezone.get_current_timezone()
    day = dt.date(int(match["year"]), int(match["month"] or 1), int(match["day"] or 1))
    if match["time"] is None:
        return dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    at = dt.datetime.fromisoformat(f"{day.isoformat()}T{match['time']}{match['tz'] or ''}")
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


def _effective(resource: Mapping[str, Any], root: str) -> tuple[dt.datetime, str, str | None]:
    """When it was measured, the element it came from, and a period's end (kept as sent)."""
    period = resource.get("effectivePeriod")
    candidates = [
        ("effectiveDateTime", resource.get("effectiveDateTime"), None),
        ("effectiveInstant", resource.get("effectiveInstant"), None),
        (
            "effectivePeriod.start",
            period.get("start") if isinstance(period, dict) else None,
            period.get("end") if isinstance(period, dict) else None,
        ),
    ]
    for name, value, end in candidates:
        if isinstance(value, str):
            try:
                at = effective_at(value)
            except (ValueError, OverflowError):
                raise _fail(f"{root}.{name}", f"{shown(value)} is not a date and time") from None
            if at.year < EARLIEST_YEAR:
                raise _fail(f"{root}.{name}", f"{shown(value)} is not a time of measurement")
            return at, f"{root}.{name}", end
    if isinstance(period, dict):
        raise _fail(f"{root}.effectivePeriod.start", "the period needs its start")
    if "effectiveTiming" in resource:
        raise _fail(f"{root}.effectiveTiming", "not supported: give effectiveDateTime")
    raise _fail(f"{root}.effective[x]", "required (US Core): when it was measured")


def _quantity(
    holder: Mapping[str, Any], path: str, measure: str, accepted: tuple[str, ...]
) -> tuple[Decimal, str]:
    """valueQuantity's value and UCUM unit, checked against the units the measure is taken in."""
    q = holder.get("valueQuantity")
    if not isinstance(q, dict):
        raise _fail(f"{path}.valueQuantity", "a valueQuantity is required")
    value = q.get("value")
    if value is None:
        raise _fail(f"{path}.valueQuantity.value", "the value is missing")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _fail(f"{path}.valueQuantity.value", f"{shown(str(value))} is not a number")
    value = Decimal(value)
    if q.get("system") not in (None, UCUM):
        raise _fail(
            f"{path}.valueQuantity.system",
            f"units are UCUM ({UCUM}), not {shown(str(q['system']))}",
        )
    code = q.get("code")
    if code not in accepted:
        raise _fail(
            f"{path}.valueQuantity.code",
            f"{Measure(measure).label.lower()} is recorded in "
            f"{' or '.join(accepted)} (UCUM), not {shown(str(code))}",
        )
    if not value.is_finite() or value < 0:
        raise _fail(f"{path}.valueQuantity.value", f"{value} is not a measurement")
    if value >= LARGEST or value != value.quantize(Decimal("0.000001")):
        raise _fail(
            f"{path}.valueQuantity.value",
            f"{value} cannot be stored (below {LARGEST:,} with at most 6 decimals)",
        )
    if measure in WHOLE and value != value.to_integral_value():
        raise _fail(f"{path}.valueQuantity.value", f"record it in whole {code}, not {value}")
    if measure in PERCENTILES and value > 100:
        raise _fail(f"{path}.valueQuantity.value", f"a percentile is 0 to 100, not {value}")
    return value, str(code)


def _component(resource: Mapping[str, Any], *codes: str) -> tuple[int, dict[str, Any]] | None:
    for i, part in enumerate(resource.get("component") or []):
        if isinstance(part, dict) and set(_loinc_codes(part.get("code"))) & set(codes):
            return i, part
    return None


def _blood_pressure(resource: Mapping[str, Any], posted: Posted) -> VitalsEntry:
    root = "Observation"
    if "valueQuantity" in resource:
        raise _fail(f"{root}.valueQuantity", "a blood pressure has its values in component")
    values: dict[str, int] = {}
    absent: dict[str, str] = {}
    for name, codes in (
        ("systolic", (SYSTOLIC_LOINC, MEAN_SYSTOLIC_LOINC)),
        ("diastolic", (DIASTOLIC_LOINC, MEAN_DIASTOLIC_LOINC)),
    ):
        found = _component(resource, *codes)
        if found is None:
            if "dataAbsentReason" in resource:
                absent[name] = _absent_reason(resource["dataAbsentReason"])
                continue
            raise _fail(f"{root}.component", f"the {name} component ({codes[0]}) is missing")
        i, part = found
        path = f"{root}.component[{i}]"
        posted.paths[name] = f"{path}.valueQuantity.value"
        if "valueQuantity" not in part and "dataAbsentReason" in part:
            absent[name] = _absent_reason(part["dataAbsentReason"])
            continue
        value, _ = _quantity(part, path, Measure.BLOOD_PRESSURE, UNITS[Measure.BLOOD_PRESSURE])
        values[name] = int(value)
    if absent and values:
        raise _fail(
            f"{root}.component",
            "give both systolic and diastolic, or neither (each with its dataAbsentReason)",
        )
    if absent:
        reason = next(iter(absent.values()))
        absent_bp = Reported(Measure.BLOOD_PRESSURE, None, units.MMHG, reason)
        return VitalsEntry(reported=(absent_bp,))
    return VitalsEntry(
        blood_pressure=BloodPressure(systolic=values["systolic"], diastolic=values["diastolic"])
    )


def _oxygen(resource: Mapping[str, Any], posted: Posted) -> dict[str, Any]:
    """Pulse oximetry's inhaled oxygen, from its components (absent ones are ignored)."""
    out: dict[str, Any] = {}
    for name, code, unit in (
        ("o2_flow", O2_FLOW_LOINC, units.L_MIN),
        ("o2_concentration", O2_CONCENTRATION_LOINC, units.PCT),
    ):
        found = _component(resource, code)
        if found is None or "valueQuantity" not in found[1]:
            continue
        i, part = found
        path = f"Observation.component[{i}]"
        posted.paths[name] = f"{path}.valueQuantity.value"
        value, _ = _quantity(part, path, Measure.SPO2, (unit,))
        if name == "o2_concentration":
            if value != value.to_integral_value():
                raise _fail(f"{path}.valueQuantity.value", f"record it in whole %, not {value}")
            out[name] = int(value)
        else:
            out[name] = value
    if out:
        out["on_oxygen"] = out.get("o2_flow", Decimal(0)) > 0 or out.get("o2_concentration", 0) > 21
    return out


def _measure(resource: Mapping[str, Any]) -> tuple[str, list[str]]:
    codes = _loinc_codes(resource.get("code"))
    measures = {MEASURE_FOR_CODE[c] for c in codes if c in MEASURE_FOR_CODE}
    if not measures:
        supported = ", ".join(sorted(set(MEASURE_FOR_CODE)))
        raise _fail(
            "Observation.code",
            "not a vital sign this server records (LOINC codes accepted: " + supported + ")",
        )
    if len(measures) > 1:
        raise _fail("Observation.code", "codes of more than one vital sign: post one each")
    return measures.pop(), codes


def parse_observation(resource: Mapping[str, Any]) -> Posted:
    """The validated Observation as a sitting of one measurement. 422 naming the element for
    what this server does not record."""
    root = "Observation"
    status = resource.get("status")
    if status not in RECORDED_STATUSES:
        raise _fail(
            f"{root}.status",
            f"only a {' / '.join(RECORDED_STATUSES)} observation is recorded, "
            f"not {shown(str(status))}",
        )
    measure, codes = _measure(resource)
    patient_id = reference_id(resource.get("subject"), "Patient")
    if patient_id is None:
        raise _fail(f"{root}.subject", "required: the patient, as Patient/<id> of this server")
    encounter_id = reference_id(resource.get("encounter"), "Encounter")
    taken_at, effective_path, period_end = _effective(resource, root)
    posted = Posted(
        measure=measure,
        entry=VitalsEntry(),
        patient_id=patient_id,
        encounter_id=encounter_id,
        effective_path=effective_path,
        paths={"effective": effective_path},
    )
    extra_codes = [c for c in codes if c in (AVERAGE_BP_LOINC, ORAL_TEMPERATURE_LOINC)]
    notes = [
        str(n["text"])[:500]
        for n in resource.get("note") or []
        if isinstance(n, dict) and n.get("text")
    ]
    posted.provenance = {
        k: v
        for k, v in (("codes", extra_codes), ("period_end", period_end), ("note", notes[:5]))
        if v
    }
    absent = "dataAbsentReason" in resource and "valueQuantity" not in resource
    value_keys = [k for k in resource if k.startswith("value") and k != "valueQuantity"]
    if value_keys:
        raise _fail(f"{root}.{value_keys[0]}", "a vital sign's value is a valueQuantity")
    if measure == Measure.BLOOD_PRESSURE:
        entry = _blood_pressure(resource, posted)
    elif absent:
        reason = _absent_reason(resource["dataAbsentReason"])
        entry = VitalsEntry(reported=(Reported(measure, None, UNITS[measure][0], reason),))
    else:
        path = f"{root}.valueQuantity.value"
        posted.paths[measure] = path
        value, unit = _quantity(resource, root, measure, UNITS[measure])
        entry = _entry(measure, value, unit, codes, resource, posted)
    posted.identifier = _identifier(resource)
    posted.entry = dataclasses.replace(
        entry, taken_at=taken_at, source_identifier=posted.identifier
    )
    return posted


def _identifier(resource: Mapping[str, Any]) -> str:
    """The first business identifier with a value, as "system|value" (FHIR token form)."""
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            return f"{ident.get('system') or ''}|{ident['value']}"[:300]
    return ""


def _entry(
    measure: str,
    value: Decimal,
    unit: str,
    codes: list[str],
    resource: Mapping[str, Any],
    posted: Posted,
) -> VitalsEntry:
    if measure in REPORTED:
        return VitalsEntry(reported=(Reported(measure, value, unit),))
    if measure == Measure.HEART_RATE:
        return VitalsEntry(heart_rate=int(value))
    if measure == Measure.RESPIRATORY_RATE:
        return VitalsEntry(respiratory_rate=int(value))
    if measure == Measure.SPO2:
        return VitalsEntry(spo2=int(value), **_oxygen(resource, posted))
    if measure == Measure.TEMPERATURE:
        route = "oral" if ORAL_TEMPERATURE_LOINC in codes else ""
        return VitalsEntry(temperature=units.Quantity(value, unit), temperature_route=route)
    q = units.Quantity(value, unit)
    if measure == Measure.HEIGHT:
        return VitalsEntry(height=q)
    if measure == Measure.WEIGHT:
        return VitalsEntry(weight=q)
    return VitalsEntry(head=q)


def refusal(messages: Mapping[str, list[str]] | list[str], posted: Posted) -> FhirError:
    """record_vitals()'s ValidationError as a 422 naming the element of each field refused."""
    if not isinstance(messages, Mapping):
        path = "Observation.encounter" if posted.encounter_id else "Observation"
        return FhirError(422, " ".join(messages), expression=[path])
    paths, parts = [], []
    for name, texts in messages.items():
        path = posted.paths.get(name, "Observation")
        paths.append(path)
        parts.append(f"{path} ({name.replace('_', ' ')}): {' '.join(texts)}")
    return FhirError(422, "; ".join(parts), expression=list(dict.fromkeys(paths)))


def with_prefix(error: FhirError, prefix: str) -> FhirError:
    """An entry's error, its elements named from the Bundle: "Observation.x" ->
    "Bundle.entry[3].resource.x"."""

    def moved(text: str) -> str:
        return re.sub(r"\bObservation(?=[.:\s(]|$)", prefix, text)

    return FhirError(
        error.status,
        moved(error.diagnostics),
        code=error.code,
        expression=[moved(e) for e in error.expression] or [prefix],
    )
