"""The HL7 Immunization Decision Support Forecast operation (ImmDS IG 1.0.0,
http://hl7.org/fhir/us/immds/, OperationDefinition ImmDSForecastOperation): $immds-forecast
runs CDC's CDSi forecaster (immunizations.cdsi) on the patient and doses sent, and answers with
each dose's evaluation and one recommendation per vaccine group. Stateless: nothing is read from
or written to the records; the request is the whole input.

In (a Parameters resource):
- assessmentDate (1..1, date): the day to assess on.
- patient (1..1, Patient): birthDate and gender are what the forecaster reads (CDSi "gather
  necessary data"); other demographics are accepted and ignored.
- immunization (0..*, Immunization): completed doses are evaluated, by their CVX coding,
  occurrenceDateTime (the day as written) and MVX (manufacturer.identifier). A dose given after
  its expirationDate, or marked isSubpotent, is sub-standard (CDSi "dose condition"). A dose
  not-done or entered in error was not given and is left out.
  CDSi observations (pregnancy, asplenia, immunity...) are not taken in this version: the IG
  defines no parameter for them, so every patient is forecast as a healthy one.
Anything the forecaster cannot use is refused with 422 and an OperationOutcome whose expression
names the element (FHIRPath from the Parameters: "Parameters.parameter[1].resource.birthDate").

Out (a Parameters resource):
- evaluation (0..*, ImmunizationEvaluation): one per dose and antigen, in the series the vaccine
  group's recommendation is made in (the one shown). immunizationEvent refers to the dose as the
  client named it: Immunization/<id> (as the IG's example does) when the dose has an id, else a
  contained copy ("#dose"), the FHIR way to name a resource that has no identity of its own.
  doseStatus is valid (the dose counts in that series) or notvalid (THO
  immunization-evaluation-dose-status: it does not count; CDSi's "Not Valid" and "Sub-standard"
  are to be repeated, "Extraneous" was not needed), with CDSi's word as its text;
  doseStatusReason the IG's StatusReason code where one means the same, always with CDC's
  wording as text. doseNumber is given for a valid dose only.
- recommendation (1..1, ImmunizationRecommendation): one entry per vaccine group, with the
  group's CVX ("unspecified formulation", as CDC's vaccine-group table names it) and the
  preferable vaccines; forecastStatus in the IG's ForecastStatus code system, with the FHIR
  immunization-recommendation-status code (due, overdue, complete, immune, contraindicated)
  as a second coding where one holds on the assessment date; dateCriterion in LOINC: 30981-5
  earliest, 30980-7 recommended, 59778-1 past due, 59777-3 latest.
"""

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from medassist.fhir.mappers.common import LOINC, SNOMED, coding, concept, without_empty
from medassist.fhir.mappers.immunization import CVX, MVX
from medassist.fhir.outcome import FhirError
from medassist.fhir.search import shown
from medassist.fhir.vitals_in import validate
from medassist.immunizations import forecasting
from medassist.immunizations.cdsi import engine, types
from medassist.immunizations.cdsi.data import SupportingData

OPERATION_DEFINITION = "http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation"
IMMDS_EVALUATION = "http://hl7.org/fhir/us/immds/StructureDefinition/immds-immunizationevaluation"
IMMDS_RECOMMENDATION = (
    "http://hl7.org/fhir/us/immds/StructureDefinition/immds-immunizationrecommendation"
)
FORECAST_STATUS = "http://hl7.org/fhir/us/immds/CodeSystem/ForecastStatus"
STATUS_REASON = "http://hl7.org/fhir/us/immds/CodeSystem/StatusReason"
RECOMMENDATION_STATUS = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
DOSE_STATUS = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"

EARLIEST, RECOMMENDED, PAST_DUE, LATEST = "30981-5", "30980-7", "59778-1", "59777-3"
_DATE_CRITERIA = (
    (EARLIEST, "Earliest date to give", "earliest"),
    (RECOMMENDED, "Date vaccine due", "recommended"),
    (PAST_DUE, "Date when overdue for immunization", "past_due"),
    (LATEST, "Latest date to give immunization", "latest"),
)

# CDSi series status -> ImmDS ForecastStatus (code, display).
_FORECAST_STATUS = {
    engine.NOT_COMPLETE: ("notComplete", "Not Complete"),
    engine.COMPLETE: ("complete", "Complete"),
    engine.IMMUNE: ("immune", "Immune"),
    engine.CONTRAINDICATED: ("contraindicated", "Contraindicated"),
    engine.AGED_OUT: ("agedOut", "Aged Out"),
    engine.NOT_RECOMMENDED: ("notRecommended", "Not Recommended"),
}
# The FHIR (THO) recommendation status that holds on the assessment date, where one does.
_THO_STATUS = {
    forecasting.OVERDUE: ("overdue", "Overdue"),
    forecasting.DUE: ("due", "Due"),
}
_THO_FINAL = {
    engine.COMPLETE: ("complete", "Complete"),
    engine.IMMUNE: ("immune", "Immune"),
    engine.CONTRAINDICATED: ("contraindicated", "Contraindicated"),
}

# CDSi evaluation reason (CDC wording) -> ImmDS StatusReason (code, display).
_STATUS_REASON = {
    engine.TOO_YOUNG: ("tooyoung", "Patient Too Young"),
    engine.TOO_OLD: ("tooold", "Patient Too Old"),
    engine.TOO_SOON: ("toosoon", "Administered Too Soon"),
    engine.CONFLICT: ("productconflict", "Product Conflict"),
    engine.INADVERTENT: ("inappropriate", "Inappropriate Vaccine"),
    engine.NOT_PREFERABLE: ("inappropriate", "Inappropriate Vaccine"),
}
_EXPIRED = "expired lot"
_SUBPOTENT = "sub-potent"

# CDSi antigen -> the ImmDS TargetDisease value set's SNOMED CT concept. Antigens the value set
# has no concept for (HPV, chikungunya, Ebola, orthopoxvirus) are named in text only.
_TARGET_DISEASE = {
    "Diphtheria": ("397428000", "Diphtheria"),
    "Pertussis": ("27836007", "Pertussis"),
    "Tetanus": ("76902006", "Tetanus"),
    "Polio": ("721764008", "Infection caused by Human poliovirus"),
    "Measles": ("14189004", "Measles"),
    "Mumps": ("36989005", "Mumps"),
    "Rubella": ("36653000", "Rubella"),
    "Pneumococcal": ("16814004", "Pneumococcal infectious disease"),
    "Meningococcal": ("23511006", "Meningococcal infectious disease"),
    "Meningococcal B": ("23511006", "Meningococcal infectious disease"),
    "Hib": ("709410003", "Haemophilus influenzae type b infection"),
    "Rotavirus": ("415822001", "Viral gastroenteritis due to Rotavirus"),
    "HepB": ("66071002", "Type B viral hepatitis"),
    "HepA": ("40468003", "Viral hepatitis, type A"),
    "Influenza": ("719590007", "Influenza caused by seasonal influenza virus"),
    "Varicella": ("38907003", "Varicella"),
    "Zoster": ("4740000", "Herpes zoster"),
    "RSV": ("55735004", "Respiratory syncytial virus infection"),
    "Typhoid": ("4834000", "Typhoid fever"),
    "Cholera": ("63650001", "Cholera"),
    "Yellow Fever": ("16541001", "Yellow fever"),
    "Dengue": ("38362002", "Dengue"),
    "Rabies": ("14168008", "Rabies"),
    "TBE": ("712986001", "Tickborne encephalitis"),
    "Japanese Encephalitis": ("52947006", "Japanese encephalitis virus disease"),
    "COVID-19": ("186747009", "Coronavirus infection"),
}

# The CVX code CDC gives each vaccine group (reference/cdsi/codes/cvx-to-vaccine-group.csv,
# column cvx_for_vaccine_group; pneumococcal: 109, "pneumococcal, unspecified formulation",
# as CDSi's group holds both the conjugate and the polysaccharide vaccines).
GROUP_CVX = {
    "Chikungunya": "317",
    "Cholera": "26",
    "COVID-19": "213",
    "Dengue": "330",
    "DTaP/Tdap/Td": "107",
    "Ebola": "214",
    "HepA": "85",
    "HepB": "45",
    "Hib": "17",
    "HPV": "137",
    "Influenza": "88",
    "Japanese Encephalitis": "129",
    "Meningococcal": "108",
    "Meningococcal B": "164",
    "MMR": "03",
    "Orthopoxvirus": "325",
    "Pneumococcal": "109",
    "Polio": "89",
    "Rabies": "90",
    "Rotavirus": "122",
    "RSV": "304",
    "TBE": "222",
    "Typhoid": "91",
    "Varicella": "21",
    "Yellow Fever": "184",
    "Zoster": "188",
}

_IN_PARAMETERS = {"assessmentDate": None, "patient": "Patient", "immunization": "Immunization"}
_GENDER = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
_FULL_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(T.*)?")
_CONTAINED_DOSE = "dose"


# Reading the request -----------------------------------------------------------------------


@dataclass(frozen=True)
class Dose:
    """A completed dose of the request, as given to the forecaster (engine id: its parameter's
    position)."""

    engine_id: str
    path: str  # "Parameters.parameter[2].resource"
    resource: Mapping[str, Any]
    administered: types.AdministeredDose


@dataclass(frozen=True)
class ForecastRequest:
    assessment_date: dt.date
    patient: types.Patient
    patient_reference: dict[str, Any]
    doses: tuple[Dose, ...]
    not_given: int  # immunizations not-done or entered in error, left out


def _fail(path: str, problem: str, code: str = "invalid") -> FhirError:
    return FhirError(422, f"{path}: {problem}", code=code, expression=[path])


def _full_date(path: str, value: Any) -> dt.date:
    """The day of a FHIR date or dateTime, as written (a time and zone after it do not move
    it); a partial date (a year, a month) is refused: the forecaster counts days."""
    match = _FULL_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _fail(path, f"a full date (YYYY-MM-DD) is needed, not {shown(str(value))}", "value")
    return dt.date.fromisoformat(match.group(1))


def _check_parts(body: Any) -> None:
    """Before the Parameters is validated as FHIR: each resource part holds the resource type
    its parameter takes (fhir.resources fails on an unknown type without saying where)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        return  # validate() names what is wrong
    parts = body.get("parameter")
    for i, part in enumerate(parts if isinstance(parts, list) else []):
        if not isinstance(part, dict):
            continue
        expected = _IN_PARAMETERS.get(str(part.get("name")))
        resource = part.get("resource")
        if expected and isinstance(resource, dict) and resource.get("resourceType") != expected:
            path = f"Parameters.parameter[{i}].resource.resourceType"
            raise _fail(
                path,
                f"the {part['name']} parameter takes a {expected}, "
                f"not {shown(str(resource.get('resourceType')))}",
            )


def _one(parts: list[tuple[int, dict[str, Any]]], name: str) -> tuple[int, dict[str, Any]]:
    if not parts:
        raise _fail(
            f"Parameters.parameter.where(name = '{name}')",
            f"the {name} parameter is required (1..1)",
            "required",
        )
    if len(parts) > 1:
        raise _fail(
            f"Parameters.parameter[{parts[1][0]}]",
            f"the {name} parameter is given more than once (1..1)",
        )
    return parts[0]


def _patient(index: int, part: Mapping[str, Any]) -> tuple[dt.date, str, dict[str, Any]]:
    path = f"Parameters.parameter[{index}].resource"
    resource = part.get("resource")
    if not isinstance(resource, dict):
        raise _fail(f"Parameters.parameter[{index}]", "the patient parameter takes a Patient")
    if "birthDate" not in resource:
        raise _fail(f"{path}.birthDate", "required: the forecast is made from the age", "required")
    born = _full_date(f"{path}.birthDate", resource["birthDate"])
    if "gender" not in resource:
        raise _fail(
            f"{path}.gender",
            "required: some series depend on it (female | male | other | unknown)",
            "required",
        )
    reference = (
        {"reference": f"Patient/{resource['id']}"}
        if resource.get("id")
        else {"display": "The patient of the request"}
    )
    return born, _GENDER.get(str(resource["gender"]), "U"), reference


def _cvx(path: str, resource: Mapping[str, Any]) -> str:
    codings = (resource.get("vaccineCode") or {}).get("coding") or []
    for j, c in enumerate(codings):
        if c.get("system") == CVX and c.get("code"):
            code = str(c["code"]).strip()
            if not (code.isascii() and code.isdigit() and len(code) <= 3):
                raise _fail(
                    f"{path}.vaccineCode.coding[{j}].code",
                    f"{shown(code)} is not a CVX code (one to three digits)",
                    "value",
                )
            return f"{int(code):02d}"
    raise _fail(
        f"{path}.vaccineCode",
        f"a coding from CVX ({CVX}) is needed: the forecaster knows vaccines by CVX",
        "required",
    )


def _mvx(resource: Mapping[str, Any]) -> str | None:
    identifier = (resource.get("manufacturer") or {}).get("identifier") or {}
    if identifier.get("system") != MVX or not identifier.get("value"):
        return None
    return str(identifier["value"]).strip().upper() or None


def _dose(
    index: int, part: Mapping[str, Any], born: dt.date, assessed: dt.date, patient_id: str
) -> Dose | None:
    path = f"Parameters.parameter[{index}].resource"
    resource = part.get("resource")
    if not isinstance(resource, dict):
        raise _fail(f"Parameters.parameter[{index}]", "the immunization parameter takes one")
    if resource.get("status") != "completed":
        return None  # not-done or entered in error: no dose was given
    reference = str((resource.get("patient") or {}).get("reference") or "")
    if patient_id and reference.startswith("Patient/") and reference != f"Patient/{patient_id}":
        raise _fail(f"{path}.patient", f"{shown(reference)} is not the patient parameter")
    cvx = _cvx(path, resource)
    if "occurrenceDateTime" not in resource:
        raise _fail(
            f"{path}.occurrenceString",
            "the forecaster needs the day the dose was given: send occurrenceDateTime",
            "required",
        )
    given = _full_date(f"{path}.occurrenceDateTime", resource["occurrenceDateTime"])
    if given < born:
        raise _fail(
            f"{path}.occurrenceDateTime",
            f"{given.isoformat()} is before the patient's birthDate ({born.isoformat()})",
            "value",
        )
    if given > assessed:
        raise _fail(
            f"{path}.occurrenceDateTime",
            f"{given.isoformat()} is after the assessmentDate ({assessed.isoformat()})",
            "value",
        )
    condition = None
    expires = resource.get("expirationDate")  # a partial date (a month) is not compared
    expired = isinstance(expires, str) and _FULL_DATE.fullmatch(expires) is not None
    if expired and given > _full_date(f"{path}.expirationDate", expires):
        condition = _EXPIRED  # CALCDTLOTEXP-1, as forecasting.cdsi_dose
    if resource.get("isSubpotent") is True:
        condition = _SUBPOTENT
    engine_id = str(index)
    return Dose(
        engine_id=engine_id,
        path=path,
        resource=resource,
        administered=types.AdministeredDose(
            id=engine_id, date_administered=given, cvx=cvx, mvx=_mvx(resource),
            dose_condition=condition,
        ),
    )  # fmt: skip


def parse(body: Any) -> ForecastRequest:
    """The request as the forecaster takes it, or a 422 FhirError naming the element at fault."""
    _check_parts(body)
    validate(body, "Parameters")
    parts: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name in _IN_PARAMETERS}
    for i, part in enumerate(body.get("parameter") or []):
        if part.get("name") not in _IN_PARAMETERS:
            raise _fail(
                f"Parameters.parameter[{i}].name",
                f"{shown(str(part.get('name')))} is not a parameter of $immds-forecast "
                f"(in: {', '.join(_IN_PARAMETERS)})",
                "not-supported",
            )
        parts[part["name"]].append((i, part))

    index, assessment = _one(parts["assessmentDate"], "assessmentDate")
    if "valueDate" not in assessment:
        raise _fail(
            f"Parameters.parameter[{index}].valueDate",
            "assessmentDate is a date (valueDate)",
            "required",
        )
    assessed = _full_date(f"Parameters.parameter[{index}].valueDate", assessment["valueDate"])
    patient_index, patient_part = _one(parts["patient"], "patient")
    born, gender, patient_reference = _patient(patient_index, patient_part)
    if assessed < born:
        raise _fail(
            f"Parameters.parameter[{index}].valueDate",
            f"{assessed.isoformat()} is before the patient's birthDate ({born.isoformat()})",
            "value",
        )
    patient_id = str((patient_part.get("resource") or {}).get("id") or "")

    doses: list[Dose] = []
    not_given = 0
    ids: dict[str, str] = {}
    for i, part in parts["immunization"]:
        dose_id = str((part.get("resource") or {}).get("id") or "")
        if dose_id and dose_id in ids:
            raise _fail(
                f"Parameters.parameter[{i}].resource.id",
                f"{shown(dose_id)} is also the id of {ids[dose_id]}: each dose needs its own",
            )
        if dose_id:
            ids[dose_id] = f"Parameters.parameter[{i}].resource"
        dose = _dose(i, part, born, assessed, patient_id)
        if dose is None:
            not_given += 1
        else:
            doses.append(dose)
    return ForecastRequest(
        assessment_date=assessed,
        patient=types.Patient(dob=born, gender=gender, doses=tuple(d.administered for d in doses)),
        patient_reference=patient_reference,
        doses=tuple(doses),
        not_given=not_given,
    )


# Writing the answer ------------------------------------------------------------------------


def _authority(data: SupportingData) -> dict[str, str]:
    return {"display": f"CDC (ACIP schedule, CDSi supporting data {data.version})"}


def target_disease(antigens: Iterable[str]) -> dict[str, Any]:
    """One antigen: its SNOMED CT disease; a group of several (DTaP, MMR): their names, as one
    CodeableConcept cannot code three diseases at once."""
    names = list(antigens)
    if len(names) == 1 and names[0] in _TARGET_DISEASE:
        return concept(names[0], coding(SNOMED, *_TARGET_DISEASE[names[0]]))
    return concept(", ".join(names))


def _dose_event(dose: Dose) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """How an evaluation names its dose, and what it must contain for that."""
    if dose.resource.get("id"):
        return {"reference": f"Immunization/{dose.resource['id']}"}, []
    # R4 dom-2/dom-4/dom-5: a contained resource holds no contained, narrative or meta.
    copy = {k: v for k, v in dose.resource.items() if k not in ("contained", "text", "meta")}
    return {"reference": f"#{_CONTAINED_DOSE}"}, [copy | {"id": _CONTAINED_DOSE}]


def _reasons(evaluation: types.DoseEvaluation, dose: Dose) -> list[dict[str, Any]]:
    found = []
    for reason in evaluation.reasons:
        code = _STATUS_REASON.get(reason)
        if reason == engine.CONDITION and dose.administered.dose_condition == _EXPIRED:
            code = ("expired", "Past Expiration Date")
        found.append(concept(reason, coding(STATUS_REASON, *code) if code else None))
    return found


def _evaluation(
    number: int,
    request: ForecastRequest,
    dose: Dose,
    evaluation: types.DoseEvaluation,
    data: SupportingData,
) -> dict[str, Any]:
    valid = evaluation.status == engine.VALID
    event, contained = _dose_event(dose)
    return without_empty(
        {
            "resourceType": "ImmunizationEvaluation",
            "id": f"evaluation-{number}",
            "meta": {"profile": [IMMDS_EVALUATION]},
            "contained": contained,
            "status": "completed",
            "patient": request.patient_reference,
            "date": request.assessment_date.isoformat(),
            "authority": _authority(data),
            "targetDisease": target_disease([evaluation.antigen]),
            "immunizationEvent": event,
            "doseStatus": concept(
                evaluation.status,
                coding(DOSE_STATUS, "valid", "Valid")
                if valid
                else coding(DOSE_STATUS, "notvalid", "Not valid"),
            ),
            "doseStatusReason": _reasons(evaluation, dose),
            "series": evaluation.series,
            "doseNumberPositiveInt": evaluation.target_dose if valid else None,
        }
    )


def _shown_series(forecast: types.VaccineGroupForecast) -> set[str]:
    return {a.series for a in forecast.antigens if a.series}


def evaluations(
    request: ForecastRequest, result: types.Result, data: SupportingData
) -> list[dict[str, Any]]:
    """Each dose's evaluations, dose by dose in the order sent, for each antigen it carries, in
    the series its vaccine group's recommendation is made in."""
    series = set().union(*(_shown_series(f) for f in result.groups.values()))
    by_dose: dict[str, list[types.DoseEvaluation]] = {}
    for e in result.evaluations:
        if e.series in series:
            by_dose.setdefault(e.dose_id, []).append(e)
    resources: list[dict[str, Any]] = []
    for dose in request.doses:
        for e in by_dose.get(dose.engine_id, []):
            resources.append(_evaluation(len(resources) + 1, request, dose, e, data))
    return resources


def _forecast_status(forecast: types.VaccineGroupForecast, on: dt.date) -> dict[str, Any]:
    immds = _FORECAST_STATUS.get(forecast.status)
    tho = _THO_FINAL.get(forecast.status)
    if forecast.status == engine.NOT_COMPLETE:
        tho = _THO_STATUS.get(forecasting.classify(forecast, on))
    return concept(
        forecast.status,
        coding(FORECAST_STATUS, *immds) if immds else None,
        coding(RECOMMENDATION_STATUS, *tho) if tho else None,
    )


def _vaccine_codes(
    group: str, forecast: types.VaccineGroupForecast, data: SupportingData
) -> list[dict[str, Any]]:
    codes = [GROUP_CVX[group]] if group in GROUP_CVX else []
    codes += [c for c in forecast.recommended_vaccines if c not in codes]
    return [concept("", coding(CVX, c, data.cvx_names.get(c, ""))) for c in codes]


def _recommendation(
    group: str, forecast: types.VaccineGroupForecast, on: dt.date, data: SupportingData
) -> dict[str, Any]:
    criteria = [
        {"code": concept(display, coding(LOINC, code, display)), "value": day.isoformat()}
        for code, display, field in _DATE_CRITERIA
        if (day := getattr(forecast, field)) is not None
    ]
    return without_empty(
        {
            "vaccineCode": _vaccine_codes(group, forecast, data),
            "targetDisease": target_disease(data.vaccine_groups.get(group, (group,))),
            "forecastStatus": _forecast_status(forecast, on),
            "forecastReason": [concept(forecast.reason)] if forecast.reason else [],
            "dateCriterion": criteria,
            "description": f"{group}: {forecasting.describe(forecast, on)}",
            "series": "; ".join(sorted(_shown_series(forecast))) or None,
            "doseNumberPositiveInt": (
                forecast.dose_number if forecast.status == engine.NOT_COMPLETE else None
            ),
        }
    )


def recommendation(
    request: ForecastRequest, result: types.Result, data: SupportingData
) -> dict[str, Any]:
    on = request.assessment_date
    order = list(data.vaccine_groups)
    groups = sorted(result.groups, key=lambda g: order.index(g) if g in order else len(order))
    return {
        "resourceType": "ImmunizationRecommendation",
        "id": "recommendation",
        "meta": {"profile": [IMMDS_RECOMMENDATION]},
        "patient": request.patient_reference,
        "date": on.isoformat(),
        "authority": _authority(data),
        "recommendation": [_recommendation(g, result.groups[g], on, data) for g in groups],
    }


def parameters(
    request: ForecastRequest, result: types.Result, data: SupportingData
) -> dict[str, Any]:
    """The operation's answer: the evaluations, then the recommendation."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            *({"name": "evaluation", "resource": e} for e in evaluations(request, result, data)),
            {"name": "recommendation", "resource": recommendation(request, result, data)},
        ],
    }


def forecast(request: ForecastRequest) -> tuple[types.Result, SupportingData]:
    data = forecasting.supporting_data()
    return engine.forecast(data, request.patient, request.assessment_date), data


def describe(request: ForecastRequest, result: types.Result) -> str:
    """The audit entry's words: what was asked, without the patient's data (no birth date, no
    sex, no vaccines): the operation reads and stores no record."""
    return (
        f"FHIR $immds-forecast (stateless, nothing stored): assessment date "
        f"{request.assessment_date.isoformat()}, {len(request.doses)} dose(s) evaluated, "
        f"{request.not_given} not given left out, {len(result.groups)} vaccine group(s) forecast"
    )
