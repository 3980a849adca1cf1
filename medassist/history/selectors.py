from dataclasses import dataclass

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class AllergySummary:
    """What the banner says about allergies. 'No known allergies' is an answer someone recorded;
    with nothing recorded the banner says the question has not been asked."""

    status: str  # "has" | "nka" | "unknown"
    text: str


def summarize_allergies(active_allergies: list) -> AllergySummary:
    real = [a for a in active_allergies if not a.is_no_known_allergy]
    if real:
        parts = [a.substance + (f" ({a.reaction})" if a.reaction else "") for a in real]
        return AllergySummary("has", "Allergies: " + ", ".join(parts))
    if active_allergies:
        return AllergySummary("nka", "No known allergies")
    return AllergySummary("unknown", "Allergies not yet asked")


def allergy_of(patient, public_id):  # type: ignore[no-untyped-def]
    """One of this patient's allergies by public id, or None (ids from a form are untrusted)."""
    from medassist.history.models import Allergy

    try:
        return Allergy.objects.filter(patient=patient, public_id=public_id).first()
    except (ValueError, ValidationError):
        return None
