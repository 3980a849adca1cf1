"""A critical-value alert -> FHIR R4 Task (http://hl7.org/fhir/R4/task.html): the visit's
provider is asked, at priority stat, to acknowledge the vital sign in focus. Pure: reads the
alert, its patient, sign, encounter and owner (select_related by the caller) and the owner's
memberships (prefetched).

- status requested until acknowledged, then completed; cancelled (with statusReason) when the
  value was marked entered in error; intent order.
- businessStatus "escalated" once it went to the clinic manager unacknowledged.
- authoredOn: when it was raised; executionPeriod.end: when it was acknowledged.
"""

from typing import Any

from medassist.fhir.mappers.common import (
    patient_reference,
    practitioner_reference,
    without_empty,
)
from medassist.vitals.models import VitalAlert

CODE_TEXT = "Acknowledge critical vital sign"


def to_fhir(alert: VitalAlert) -> dict[str, Any]:
    notes = [alert.reason]
    if alert.escalated_at is not None:
        notes.append(
            f"Escalated to the clinic manager at {alert.escalated_at.isoformat()}: "
            "not acknowledged in time."
        )
    cancelled = alert.status == VitalAlert.Status.CANCELLED
    if alert.note and not cancelled:
        notes.append(f"Acknowledgment note: {alert.note}")
    period = {"start": alert.raised_at.isoformat()}
    if alert.acknowledged_at is not None:
        period["end"] = alert.acknowledged_at.isoformat()
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(alert.public_id),
        "meta": {"lastUpdated": alert.updated_at.isoformat()},
        "status": alert.status,
        "statusReason": {"text": alert.note or "entered in error"} if cancelled else None,
        "businessStatus": {"text": "escalated"} if alert.escalated_at is not None else None,
        "intent": "order",
        "priority": "stat",
        "code": {"text": CODE_TEXT},
        "description": alert.reason,
        "focus": {"reference": f"Observation/{alert.sign.public_id}"},
        "for": patient_reference(alert.patient),
        "encounter": (
            {"reference": f"Encounter/{alert.encounter.public_id}"}
            if alert.encounter is not None
            else None
        ),
        "executionPeriod": period,
        "authoredOn": alert.raised_at.isoformat(),
        "lastModified": alert.updated_at.isoformat(),
        "owner": (
            practitioner_reference(alert.owner, alert.clinic_id)
            if alert.owner is not None
            else None
        ),
        "note": [{"text": n} for n in notes if n],
    }
    return without_empty(resource)
