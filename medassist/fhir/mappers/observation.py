"""Smoking status and screening results -> FHIR R4 Observation; the screening answers ->
QuestionnaireResponse. Pure: read the record, its patient and encounter (select_related by the
caller).

- Smoking status: US Core Smoking Status profile (US Core 9.0.0,
  http://hl7.org/fhir/us/core/StructureDefinition/us-core-smokingstatus): category
  social-history, code LOINC 72166-2, value one of the SNOMED CT codes of its value set
  (history.models.SmokingStatus.Value holds exactly those).
- A screening's total (PHQ-2 55758-7, PHQ-9 44261-6, ...): US Core Observation Screening
  Assessment profile (http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-
  screening-assessment): category survey, the total's LOINC, valueInteger, derived from the
  QuestionnaireResponse that holds the answers. An instrument with no LOINC total (STEADI's
  three questions) gives its interpretation as the value instead.

A screening has no public id of its own; it is one instrument at one visit (the model's own
unique constraint), so its id is the visit's public id and the instrument's code."""

import re
import uuid
from typing import Any

from medassist.fhir.mappers.common import (
    LOINC,
    SNOMED,
    coding,
    concept,
    practitioner_reference,
    without_empty,
)
from medassist.history.models import SMOKING_STATUS_LOINC, SmokingStatus
from medassist.rooming.models import ScreeningResponse
from medassist.rooming.screening import INSTRUMENTS

US_CORE_SMOKING_STATUS = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-smokingstatus"
US_CORE_SCREENING = (
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-screening-assessment"
)
US_CORE_QUESTIONNAIRE_RESPONSE = (
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-questionnaireresponse"
)
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# Instruments without a LOINC code (STEADI's three key questions) carry the workstation's own.
LOCAL_INSTRUMENT = "https://medassist.example/fhir/CodeSystem/screening-instrument"
# LOINC publishes its panels as Questionnaires at http://loinc.org/q/<code>.
LOINC_QUESTIONNAIRE = "http://loinc.org/q/"

SOCIAL_HISTORY = coding(OBSERVATION_CATEGORY, "social-history", "Social History")
SURVEY = coding(OBSERVATION_CATEGORY, "survey", "Survey")
_POSITIVE = coding(INTERPRETATION, "POS", "Positive")
_NEGATIVE = coding(INTERPRETATION, "NEG", "Negative")
_LOINC_CODE = re.compile(r"[0-9]{1,7}-[0-9]")
_SCREENING_ID = re.compile(r"(?P<visit>[0-9a-f-]{36})-(?P<instrument>[A-Za-z0-9.-]{1,20})")


def _patient(patient: Any) -> dict[str, str]:
    return {"reference": f"Patient/{patient.public_id}", "display": patient.display_name}


def _encounter(encounter: Any) -> dict[str, str] | None:
    return {"reference": f"Encounter/{encounter.public_id}"} if encounter is not None else None


def smoking_status_to_fhir(status: SmokingStatus) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(status.public_id),
        "meta": {"lastUpdated": status.updated_at.isoformat(), "profile": [US_CORE_SMOKING_STATUS]},
        "status": "final",
        "category": [{"coding": [SOCIAL_HISTORY]}],
        "code": concept(
            "Tobacco smoking status", coding(LOINC, SMOKING_STATUS_LOINC, "Tobacco smoking status")
        ),
        "subject": _patient(status.patient),
        "encounter": _encounter(status.encounter),
        "effectiveDateTime": status.effective_date.isoformat(),
        "valueCodeableConcept": concept(
            status.display, coding(SNOMED, status.code, status.display)
        ),
        "note": [{"text": status.note}] if status.note else [],
    }
    return without_empty(resource)


def screening_id(screening: ScreeningResponse) -> str:
    return f"{screening.encounter.public_id}-{screening.instrument}"


def parse_screening_id(value: str) -> tuple[uuid.UUID, str] | None:
    """(visit public id, instrument) of a screening's id, or None when it is not one."""
    match = _SCREENING_ID.fullmatch(value)
    if match is None:
        return None
    try:
        return uuid.UUID(match["visit"]), match["instrument"]
    except ValueError:
        return None


def _instrument_coding(code: str, title: str) -> dict[str, str]:
    return coding(LOINC if _LOINC_CODE.fullmatch(code) else LOCAL_INSTRUMENT, code, title)


def screening_to_fhir(screening: ScreeningResponse) -> dict[str, Any]:
    has_total = screening.total_score is not None and bool(screening.total_loinc)
    code = (
        concept(f"{screening.title} total score", coding(LOINC, screening.total_loinc))
        if has_total
        else concept(screening.title, _instrument_coding(screening.instrument, screening.title))
    )
    identity = screening_id(screening)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": identity,
        "meta": {"profile": [US_CORE_SCREENING]},
        "status": "final",
        "category": [{"coding": [SURVEY]}],
        "code": code,
        "subject": _patient(screening.patient),
        "encounter": _encounter(screening.encounter),
        "effectiveDateTime": screening.at.isoformat(),
        "performer": (
            [practitioner_reference(screening.by, screening.encounter.clinic_id)]
            if screening.by is not None
            else []
        ),
        "valueInteger": screening.total_score if has_total else None,
        "valueCodeableConcept": None if has_total else concept(screening.interpretation),
        "interpretation": [
            concept(screening.interpretation, _POSITIVE if screening.positive else _NEGATIVE)
        ],
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{identity}"}],
    }
    return without_empty(resource)


def _answers(value: Any, options: dict[str, str]) -> list[dict[str, Any]]:
    values = value if isinstance(value, list) else [value]
    answers: list[dict[str, Any]] = []
    for v in values:
        text = str(v)
        if text in options:
            answers.append({"valueCoding": {"code": text, "display": options[text]}})
        elif text.lstrip("-").isdecimal() and text.isascii():
            answers.append({"valueInteger": int(text)})
        elif text:
            answers.append({"valueString": text})
    return answers


def questionnaire_response_to_fhir(screening: ScreeningResponse) -> dict[str, Any]:
    instrument = INSTRUMENTS.get(screening.instrument)
    items_known = {item.key: item for item in instrument.items} if instrument else {}
    answers = screening.answers if isinstance(screening.answers, dict) else {}
    items = []
    for key, value in answers.items():
        item = items_known.get(key)
        entry: dict[str, Any] = {"linkId": str(key)}
        if item is not None:
            entry["text"] = item.text
        answered = _answers(value, dict(item.options) if item else {})
        if answered:
            entry["answer"] = answered
        items.append(entry)
    questionnaire = (
        LOINC_QUESTIONNAIRE + screening.instrument
        if _LOINC_CODE.fullmatch(screening.instrument)
        else f"{LOCAL_INSTRUMENT}/{screening.instrument}"
    )
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": screening_id(screening),
        "meta": {"profile": [US_CORE_QUESTIONNAIRE_RESPONSE]},
        "questionnaire": questionnaire,
        "status": "completed",
        "subject": _patient(screening.patient),
        "encounter": _encounter(screening.encounter),
        "authored": screening.at.isoformat(),
        "author": (
            practitioner_reference(screening.by, screening.encounter.clinic_id)
            if screening.by is not None
            else None
        ),
        "item": items,
    }
    return without_empty(resource)
