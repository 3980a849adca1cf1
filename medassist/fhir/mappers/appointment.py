"""Appointment -> FHIR R4 Appointment (http://hl7.org/fhir/R4/appointment.html). Pure: reads the
booking, its encounter (whose stage gives the status), patient, provider (with memberships
prefetched) and appointment type."""

from typing import Any

from medassist.fhir.mappers.common import (
    coding,
    concept,
    patient_reference,
    practitioner_reference,
    without_empty,
)
from medassist.scheduling.models import Appointment

# The clinic's own appointment types (AppointmentType.code); R4's example binding (v2-0276)
# has no codes for "new patient" or "well child", so the clinic's codes go out as they are.
APPOINTMENT_TYPE_SYSTEM = "https://medassist.example/fhir/CodeSystem/appointment-type"


def to_fhir(appointment: Appointment) -> dict[str, Any]:
    kind = appointment.appointment_type
    status = appointment.status
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.public_id),
        "meta": {"lastUpdated": appointment.updated_at.isoformat()},
        "status": status,
        "cancelationReason": (
            concept(appointment.cancel_reason)
            if status == "cancelled" and appointment.cancel_reason
            else None
        ),
        "serviceType": [concept(kind.get_kind_display())],
        "appointmentType": concept(
            kind.name, coding(APPOINTMENT_TYPE_SYSTEM, kind.code, kind.name)
        ),
        "reasonCode": [concept(appointment.reason)] if appointment.reason else [],
        "start": appointment.start.isoformat(),
        "end": appointment.end.isoformat(),
        "minutesDuration": int((appointment.end - appointment.start).total_seconds() // 60),
        "created": appointment.created_at.isoformat(),
        "participant": [
            {
                "actor": patient_reference(appointment.patient),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": practitioner_reference(appointment.provider, appointment.clinic_id),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    return without_empty(resource)
