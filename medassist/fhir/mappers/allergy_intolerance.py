"""Allergy -> FHIR R4 AllergyIntolerance, as the US Core AllergyIntolerance profile describes
it (US Core 9.0.0, http://hl7.org/fhir/us/core/StructureDefinition/us-core-allergyintolerance).
Pure: reads the allergy and its patient (select_related by the caller).

"No known allergies" is recorded as an allergy coded SNOMED CT 716186003, and goes out exactly
as the FHIR example allergyintolerance-nka has it: that code, active and confirmed."""

from typing import Any

from medassist.fhir.mappers.common import SNOMED, coding, concept, patient_reference, without_empty
from medassist.history.models import Allergy

US_CORE_ALLERGY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-allergyintolerance"
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION_STATUS = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"

_CLINICAL_DISPLAY = {"active": "Active", "inactive": "Inactive"}
# SNOMED CT display for 716186003, as in the FHIR example allergyintolerance-nka.
_NKA_DISPLAY = "No known allergy (situation)"


def clinical_status(allergy: Allergy) -> str | None:
    """active | inactive; none for an entry in error (AllergyIntolerance invariant ait-2:
    clinicalStatus SHALL NOT be present if verificationStatus is entered-in-error)."""
    if allergy.verification == Allergy.Verification.ENTERED_IN_ERROR:
        return None
    return "active" if allergy.active else "inactive"


def _code(allergy: Allergy) -> dict[str, Any]:
    if allergy.is_no_known_allergy:
        return concept("No known allergies", coding(SNOMED, allergy.code, _NKA_DISPLAY))
    known = (
        coding(allergy.code_system, allergy.code) if allergy.code_system and allergy.code else None
    )
    return concept(allergy.substance, known)


def to_fhir(allergy: Allergy) -> dict[str, Any]:
    status = clinical_status(allergy)
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": str(allergy.public_id),
        "meta": {"lastUpdated": allergy.updated_at.isoformat(), "profile": [US_CORE_ALLERGY]},
        "clinicalStatus": (
            {"coding": [coding(CLINICAL_STATUS, status, _CLINICAL_DISPLAY[status])]}
            if status
            else None
        ),
        "verificationStatus": {
            "coding": [
                coding(
                    VERIFICATION_STATUS,
                    allergy.verification,
                    Allergy.Verification(allergy.verification).label,
                )
            ]
        },
        "category": [allergy.category] if allergy.category else [],
        "criticality": allergy.criticality or None,
        "code": _code(allergy),
        "patient": patient_reference(allergy.patient),
        "recordedDate": allergy.created_at.isoformat(),
        "reaction": ([{"manifestation": [concept(allergy.reaction)]}] if allergy.reaction else []),
    }
    return without_empty(resource)
