"""A staff member -> FHIR R4 Practitioner (http://hl7.org/fhir/R4/practitioner.html), minimal:
enough to resolve the Practitioner references of encounters and appointments. The id is an
HMAC of the user's key (mappers/common.py practitioner_id), never the key itself. Pure: reads
the user and the memberships the caller prefetched (those at the reader's clinics)."""

from typing import Any

from medassist.fhir.mappers.common import practitioner_id, without_empty


def to_fhir(user: Any) -> dict[str, Any]:
    titles = sorted({m.title for m in user.memberships.all() if m.title})
    name = without_empty(
        {
            "text": user.get_full_name(),
            "family": user.last_name,
            "given": [user.first_name] if user.first_name else [],
        }
    )
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": practitioner_id(user.pk),
        "active": user.is_active,
        "name": [name] if name else [],
        # The title the clinic knows the person by (MD, NP, CCMA), as text: no credential
        # registry stands behind it here.
        "qualification": [{"code": {"text": title}} for title in titles],
    }
    return without_empty(resource)
