"""Encounter -> FHIR R4 Encounter, as the US Core Encounter profile describes it (US Core 9.0.0,
http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter). Pure: reads the visit, its
patient, clinic, room, provider, medical assistant and appointment (the caller loads them with
select_related, and the staff's memberships with prefetch_related)."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from medassist.encounters.models import Encounter
from medassist.fhir.mappers.common import (
    V3_ACT_CODE,
    V3_PARTICIPATION_TYPE,
    coding,
    concept,
    patient_reference,
    practitioner_reference,
    without_empty,
)

US_CORE_ENCOUNTER = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-encounter"

# v3 ParticipationType: the provider is the primary performer; the medical assistant who roomed
# the patient takes part (PART), as the R4 Encounter examples code the other staff present.
_PRIMARY_PERFORMER = coding(V3_PARTICIPATION_TYPE, "PPRF", "primary performer")
_PARTICIPATION = coding(V3_PARTICIPATION_TYPE, "PART", "Participation")
# HL7 v3 ActCode displays of the encounter classes the clinic books.
_CLASS_DISPLAY = {"AMB": "ambulatory", "VR": "virtual"}


def appointment_of(encounter: Encounter) -> Any:
    try:
        return encounter.appointment  # type: ignore[attr-defined]
    except ObjectDoesNotExist:  # a walk-in: no booking
        return None


def to_fhir(encounter: Encounter) -> dict[str, Any]:
    appointment = appointment_of(encounter)
    participants = [
        {
            "type": [{"coding": [_PRIMARY_PERFORMER]}],
            "individual": practitioner_reference(encounter.provider, encounter.clinic_id),
        }
    ]
    if encounter.medical_assistant is not None:
        participants.append(
            {
                "type": [{"coding": [_PARTICIPATION]}],
                "individual": practitioner_reference(
                    encounter.medical_assistant, encounter.clinic_id
                ),
            }
        )
    period = {"start": encounter.period_start.isoformat()}
    if encounter.period_end is not None:
        period["end"] = encounter.period_end.isoformat()
    # US Core requires a type (1..*): the booked appointment type, else the visit's own label.
    type_text = (
        appointment.appointment_type.name
        if appointment is not None
        else encounter.visit_type or encounter.get_kind_display()
    )
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(encounter.public_id),
        "meta": {"lastUpdated": encounter.updated_at.isoformat(), "profile": [US_CORE_ENCOUNTER]},
        "status": encounter.status,
        "class": coding(V3_ACT_CODE, encounter.kind, _CLASS_DISPLAY.get(encounter.kind, "")),
        "type": [concept(type_text)],
        "subject": patient_reference(encounter.patient),
        "participant": participants,
        "appointment": (
            [{"reference": f"Appointment/{appointment.public_id}"}] if appointment else []
        ),
        "period": period,
        "reasonCode": [concept(encounter.reason)] if encounter.reason else [],
        # The exam room has no Location resource of its own here: a display-only reference.
        "location": (
            [{"location": {"display": encounter.room.name}}] if encounter.room is not None else []
        ),
        "serviceProvider": {"display": encounter.clinic.name},
    }
    return without_empty(resource)
