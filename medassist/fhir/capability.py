"""The CapabilityStatement served at /metadata (FHIR R4 http.html#capabilities): what this
server does, built from the same search-parameter tables the searches use, so that it cannot
promise a parameter the server does not read."""

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from medassist.core import clock
from medassist.fhir.immds import OPERATION_DEFINITION as IMMDS_FORECAST
from medassist.fhir.immunizations import IMMUNIZATION
from medassist.fhir.mappers.lab import US_CORE_OBSERVATION_LAB
from medassist.fhir.mappers.observation import (
    US_CORE_QUESTIONNAIRE_RESPONSE,
    US_CORE_SCREENING,
    US_CORE_SMOKING_STATUS,
)
from medassist.fhir.mappers.patient import US_CORE_PATIENT
from medassist.fhir.mappers.vital_sign import US_CORE_AVERAGE_BP, profile
from medassist.fhir.resources import (
    KINDS,
    OBSERVATION_PARAMS,
    QUESTIONNAIRE_RESPONSE_PARAMS,
    SCHEDULE_PARAMS,
    SLOT_PARAMS,
)
from medassist.fhir.search import (
    AUDIT_EVENT_PARAMS,
    MAX_COUNT,
    PATIENT_PARAMS,
    SearchParam,
)
from medassist.vitals.models import LOINC_CODES

VITAL_SIGN_PROFILES = [profile(measure) for measure in LOINC_CODES] + [US_CORE_AVERAGE_BP]

FHIR_VERSION = "4.0.1"


def _software_version() -> str:
    try:
        return version("medassist")
    except PackageNotFoundError:
        return "unknown"


def _search_params(params: Mapping[str, SearchParam]) -> list[dict[str, str]]:
    return [
        {
            "name": p.name,
            "definition": p.definition,
            "type": p.type,
            "documentation": p.documentation,
        }
        for p in params.values()
    ]


def capability_statement(base_url: str) -> dict[str, Any]:
    # Imported here: lab_api registers its routes on views' router, and views imports this module.
    from medassist.fhir.lab_api import LAB_KINDS

    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": clock.now().isoformat(),
        "publisher": "medassist",
        "kind": "instance",
        "software": {"name": "medassist", "version": _software_version()},
        "implementation": {"description": "medassist clinic workstation", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "interaction": [
                    {
                        "code": "batch",
                        "documentation": "Entries that POST vital-sign Observations only.",
                    },
                    {
                        "code": "transaction",
                        "documentation": (
                            "Entries that POST vital-sign Observations only; all or nothing."
                        ),
                    },
                ],
                "documentation": (
                    "Search handling is strict: an unknown parameter or modifier is refused "
                    "with 400 (send `Prefer: handling=lenient` to have it ignored). Pages hold "
                    f"_count results (default 20, at most {MAX_COUNT}) from _offset."
                ),
                "operation": [
                    {
                        "name": "immds-forecast",
                        "definition": IMMDS_FORECAST,
                        "documentation": (
                            "HL7 ImmDS (Immunization Decision Support Forecast): POST a "
                            "Parameters with assessmentDate, patient and immunization; the "
                            "answer holds each dose's evaluation and one recommendation per "
                            "vaccine group, from CDC's CDSi logic and supporting data. "
                            "Stateless: nothing is read or stored. Also at "
                            "Immunization/$immds-forecast. Needs a role that may see "
                            "immunizations."
                        ),
                    }
                ],
                "security": {
                    "cors": False,
                    "description": (
                        "Every request but /metadata needs `Authorization: Bearer <token>`; "
                        "an administrator issues tokens with `medassist token USERNAME`. "
                        "The token acts as its user: same clinics, same roles, same audit."
                    ),
                },
                "resource": [
                    {
                        "type": "Patient",
                        "profile": "http://hl7.org/fhir/StructureDefinition/Patient",
                        "supportedProfile": [US_CORE_PATIENT],
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "versioning": "no-version",
                        "readHistory": False,
                        "updateCreate": False,
                        "searchParam": _search_params(PATIENT_PARAMS),
                        "documentation": "The patients of the user's clinics.",
                    },
                    *(
                        {
                            "type": kind.name,
                            "profile": f"http://hl7.org/fhir/StructureDefinition/{kind.name}",
                            **(
                                {"supportedProfile": [kind.profile]}
                                if "/us/core/" in kind.profile
                                else {}
                            ),
                            "interaction": [{"code": "read"}, {"code": "search-type"}],
                            "versioning": "no-version",
                            "readHistory": False,
                            "updateCreate": False,
                            "searchParam": _search_params(kind.params),
                            "documentation": kind.documentation,
                        }
                        for kind in (*KINDS.values(), IMMUNIZATION, *LAB_KINDS)
                    ),
                    {
                        "type": "Practitioner",
                        "profile": "http://hl7.org/fhir/StructureDefinition/Practitioner",
                        "interaction": [{"code": "read"}],
                        "documentation": (
                            "The staff of the user's clinics, as the visits and bookings name "
                            "them; ids are opaque."
                        ),
                    },
                    {
                        "type": "Schedule",
                        "profile": "http://hl7.org/fhir/StructureDefinition/Schedule",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": _search_params(SCHEDULE_PARAMS),
                        "documentation": "One per provider and clinic: the provider's sessions.",
                    },
                    {
                        "type": "Slot",
                        "profile": "http://hl7.org/fhir/StructureDefinition/Slot",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": _search_params(SLOT_PARAMS),
                        "documentation": (
                            "Computed from the schedule, blocked time and bookings, as the "
                            "booking form computes them; a search names one schedule."
                        ),
                    },
                    {
                        "type": "Observation",
                        "profile": "http://hl7.org/fhir/StructureDefinition/Observation",
                        "supportedProfile": [
                            US_CORE_SMOKING_STATUS,
                            US_CORE_SCREENING,
                            *VITAL_SIGN_PROFILES,
                            US_CORE_OBSERVATION_LAB,
                        ],
                        "interaction": [
                            {"code": "read"},
                            {"code": "search-type"},
                            {"code": "create"},
                        ],
                        "searchParam": _search_params(OBSERVATION_PARAMS),
                        "documentation": (
                            "Vital signs (US Core vital-sign profiles), smoking status (LOINC "
                            "72166-2), screening results (the total score where the "
                            "instrument has one) and lab results (US Core laboratory result "
                            "Observation, category laboratory, id lab-<id>: the results of the "
                            "DiagnosticReports the user may see, so a report not yet released "
                            "by the provider only to those who review lab results). "
                            "Create takes US Core vital-sign observations only, one "
                            "measurement each, the value in the UCUM unit measured "
                            "(kg g [lb_av], cm [in_i], Cel [degF], /min, mm[Hg], %, kg/m2), "
                            "and records it as the rooming form does: impossible values are "
                            "refused (422 naming the element), improbable ones are kept with a "
                            "note saying they were not confirmed, and critical values raise a "
                            "Task for the visit's provider. The subject must be a patient of "
                            "the user's clinics; an effective date without a time is 00:00 "
                            "clinic time that day."
                        ),
                    },
                    {
                        "type": "QuestionnaireResponse",
                        "profile": "http://hl7.org/fhir/StructureDefinition/QuestionnaireResponse",
                        "supportedProfile": [US_CORE_QUESTIONNAIRE_RESPONSE],
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": _search_params(QUESTIONNAIRE_RESPONSE_PARAMS),
                        "documentation": "The answers of each screening, item by item.",
                    },
                    {
                        "type": "AuditEvent",
                        "profile": "http://hl7.org/fhir/StructureDefinition/AuditEvent",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": _search_params(AUDIT_EVENT_PARAMS),
                        "documentation": (
                            "The audit trail of the user's clinics; only for users whose role "
                            "may read it (compliance auditor, administrator). Each search is "
                            "itself recorded in the trail."
                        ),
                    },
                ],
            }
        ],
    }
