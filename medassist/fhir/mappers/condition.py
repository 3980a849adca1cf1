"""A problem or a past history entry -> FHIR R4 Condition, as the US Core Condition Problems
and Health Concerns profile describes it (US Core 9.0.0,
http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns).
Pure: reads the condition and its patient.

That profile requires one category from its own value set (problem-list-item or
health-concern), so past medical and surgical history go out as problem-list-item too, with a
second category of the workstation's own saying which history it is.

Family history is not exported as Condition: a Condition's subject is the patient, so a
relative's disease would read as the patient's own. It is FamilyMemberHistory's to carry
(FHIR R4 familymemberhistory.html), which this server does not serve yet."""

from typing import Any

from medassist.fhir.mappers.common import (
    ICD10CM,
    SNOMED,
    coding,
    concept,
    patient_reference,
    without_empty,
)
from medassist.history.models import Condition

US_CORE_CONDITION = (
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"
)
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
# The workstation's own history categories, carried beside the US Core one.
HISTORY_CATEGORY = "https://medassist.example/fhir/CodeSystem/history-category"

PROBLEM_LIST_ITEM = coding(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")
EXPORTED = (
    Condition.Category.PROBLEM,
    Condition.Category.MEDICAL_HISTORY,
    Condition.Category.SURGICAL_HISTORY,
)

_CLINICAL_DISPLAY = {"active": "Active", "inactive": "Inactive"}


def clinical_status(condition: Condition) -> str:
    """active, or inactive once taken off the list. Not "resolved": the workstation does not
    record that the risk of recurrence is gone (R4 condition-clinical)."""
    return "active" if condition.active else "inactive"


def categories(condition: Condition) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = [{"coding": [PROBLEM_LIST_ITEM]}]
    if condition.category != Condition.Category.PROBLEM:
        result.append(
            {
                "coding": [
                    coding(
                        HISTORY_CATEGORY,
                        condition.category,
                        Condition.Category(condition.category).label,
                    )
                ]
            }
        )
    return result


def to_fhir(condition: Condition) -> dict[str, Any]:
    status = clinical_status(condition)
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": str(condition.public_id),
        "meta": {"lastUpdated": condition.updated_at.isoformat(), "profile": [US_CORE_CONDITION]},
        "clinicalStatus": {
            "coding": [coding(CONDITION_CLINICAL, status, _CLINICAL_DISPLAY[status])]
        },
        "category": categories(condition),
        "code": concept(
            condition.description,
            coding(ICD10CM, condition.icd10) if condition.icd10 else None,
            coding(SNOMED, condition.snomed) if condition.snomed else None,
        ),
        "subject": patient_reference(condition.patient),
        "onsetDateTime": condition.onset_date.isoformat() if condition.onset_date else None,
        "recordedDate": condition.created_at.isoformat(),
    }
    return without_empty(resource)
