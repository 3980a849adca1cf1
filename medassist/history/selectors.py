from dataclasses import dataclass


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
