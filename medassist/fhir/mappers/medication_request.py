"""A medication on the patient's list -> FHIR R4 MedicationRequest, as US Core represents a
patient-reported medication list (US Core 9.0.0 MedicationRequest profile and its example
"self-tylenol", http://hl7.org/fhir/us/core/MedicationRequest-self-tylenol.html: status active,
intent "plan", reportedBoolean true, the drug as an RxNorm-coded medicationCodeableConcept, and
the sig as dosageInstruction.text; the Medication List guidance of US Core 6 and later fetches
such lists with intent=order,plan). Pure: reads the medication and its patient."""

from typing import Any

from medassist.fhir.mappers.common import RXNORM, coding, concept, patient_reference, without_empty
from medassist.history.models import Medication

US_CORE_MEDICATION_REQUEST = (
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest"
)
# The list holds what the patient takes (reported), not orders this clinic wrote.
INTENT = "plan"


def status(medication: Medication) -> str:
    """active while on the list; stopped once taken off it (R4 medicationrequest-status)."""
    return "active" if medication.active else "stopped"


def sig(medication: Medication) -> str:
    return " ".join(p for p in (medication.dose, medication.route, medication.frequency) if p)


def to_fhir(medication: Medication) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": str(medication.public_id),
        "meta": {
            "lastUpdated": medication.updated_at.isoformat(),
            "profile": [US_CORE_MEDICATION_REQUEST],
        },
        "status": status(medication),
        "intent": INTENT,
        "reportedBoolean": True,
        "medicationCodeableConcept": concept(
            medication.name, coding(RXNORM, medication.rxnorm) if medication.rxnorm else None
        ),
        "subject": patient_reference(medication.patient),
        "authoredOn": medication.created_at.isoformat(),
        "dosageInstruction": [{"text": text}] if (text := sig(medication)) else [],
    }
    return without_empty(resource)
