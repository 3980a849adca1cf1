"""Pieces every clinical mapper shares: references to the patient, the practitioner and the
encounter, and CodeableConcepts. Pure."""

from typing import Any

from django.utils.crypto import salted_hmac

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def practitioner_id(user_pk: int) -> str:
    """The FHIR id of a staff member as a Practitioner: an HMAC of the user's key under the
    server's secret, so that it is stable, opaque (integer keys never leave the server; a plain
    hash of a small integer would give the key back in a moment) and a valid FHIR id."""
    return salted_hmac("medassist.fhir.Practitioner", str(user_pk)).hexdigest()[:32]


def practitioner_display(user: Any, clinic_id: int | None = None) -> str:
    """ "Robert Okafor, MD": the name and, when the user's membership at the clinic has one, the
    title. Reads the user's memberships, which the caller prefetches for a page of results."""
    name = user.get_full_name() or user.get_username()
    title = next(
        (
            m.title
            for m in user.memberships.all()
            if m.title and (clinic_id is None or m.clinic_id == clinic_id)
        ),
        "",
    )
    return f"{name}, {title}" if title else name


def practitioner_reference(user: Any, clinic_id: int | None = None) -> dict[str, str]:
    return {
        "reference": f"Practitioner/{practitioner_id(user.pk)}",
        "display": practitioner_display(user, clinic_id),
    }


def patient_reference(patient: Any) -> dict[str, str]:
    return {"reference": f"Patient/{patient.public_id}", "display": patient.display_name}


def coding(system: str, code: str, display: str = "") -> dict[str, str]:
    result = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(text: str, *codings: dict[str, str] | None) -> dict[str, Any]:
    """A CodeableConcept with the codings that are known and the text as the user saw it."""
    result: dict[str, Any] = {}
    known = [c for c in codings if c]
    if known:
        result["coding"] = known
    if text:
        result["text"] = text
    return result


def without_empty(resource: dict[str, Any]) -> dict[str, Any]:
    # FHIR forbids empty arrays, objects and strings (R4 JSON format, "no empty elements").
    return {k: v for k, v in resource.items() if v not in ([], {}, None, "")}
