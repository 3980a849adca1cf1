"""The stages of a visit on the clinic day, and what each means in FHIR. Pure.

One stored stage per visit (Encounter.stage) is the single source of truth: the FHIR
Encounter.status and Appointment.status are derived from it here, so the flow board, the
schedule and the API can never disagree (OpenEMR's flow board keeps a second status that drifts
from the appointment's).

Stages follow the outpatient flow most clinics run (athenahealth's and Epic's rooming models):
scheduled -> arrived (checked in) -> roomed -> ready for provider -> with provider ->
ready for checkout -> done; a scheduled visit may instead end as no-show or cancelled.
"""

from django.db import models


class Stage(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ARRIVED = "arrived", "Arrived"
    ROOMED = "roomed", "Roomed"
    READY_FOR_PROVIDER = "ready_for_provider", "Ready for provider"
    WITH_PROVIDER = "with_provider", "With provider"
    READY_FOR_CHECKOUT = "ready_for_checkout", "Ready for checkout"
    DONE = "done", "Done"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"


S = Stage

# Where a visit may go from each stage. Moving back one step is allowed where clinics need it
# (a patient roomed by mistake goes back to the waiting room; a provider sends the patient back
# to the MA for a repeat blood pressure). Done, no-show and cancelled are final: a mistake there
# is corrected by a new visit, never by rewriting the day's record.
TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    S.SCHEDULED: frozenset({S.ARRIVED, S.NO_SHOW, S.CANCELLED}),
    S.ARRIVED: frozenset({S.ROOMED, S.SCHEDULED, S.CANCELLED}),
    S.ROOMED: frozenset({S.READY_FOR_PROVIDER, S.ARRIVED}),
    S.READY_FOR_PROVIDER: frozenset({S.WITH_PROVIDER, S.ROOMED}),
    S.WITH_PROVIDER: frozenset({S.READY_FOR_CHECKOUT, S.ROOMED}),
    S.READY_FOR_CHECKOUT: frozenset({S.DONE}),
    S.DONE: frozenset(),
    S.NO_SHOW: frozenset(),
    S.CANCELLED: frozenset(),
}

FINAL = frozenset({S.DONE, S.NO_SHOW, S.CANCELLED})
# Stages in which the patient is in the building (and on the board's "here now" count).
ON_SITE = frozenset(
    {S.ARRIVED, S.ROOMED, S.READY_FOR_PROVIDER, S.WITH_PROVIDER, S.READY_FOR_CHECKOUT}
)
# Stages in which the patient occupies an exam room.
IN_ROOM = frozenset({S.ROOMED, S.READY_FOR_PROVIDER, S.WITH_PROVIDER})

# FHIR R4 Encounter.status (http://hl7.org/fhir/R4/valueset-encounter-status.html).
ENCOUNTER_STATUS: dict[Stage, str] = {
    S.SCHEDULED: "planned",
    S.ARRIVED: "arrived",
    S.ROOMED: "triaged",
    S.READY_FOR_PROVIDER: "triaged",
    S.WITH_PROVIDER: "in-progress",
    S.READY_FOR_CHECKOUT: "in-progress",
    S.DONE: "finished",
    S.NO_SHOW: "cancelled",
    S.CANCELLED: "cancelled",
}

# FHIR R4 Appointment.status (http://hl7.org/fhir/R4/valueset-appointmentstatus.html):
# "checked-in" once the pre-visit administrative work is done, until the visit is fulfilled.
APPOINTMENT_STATUS: dict[Stage, str] = {
    S.SCHEDULED: "booked",
    S.ARRIVED: "checked-in",
    S.ROOMED: "checked-in",
    S.READY_FOR_PROVIDER: "checked-in",
    S.WITH_PROVIDER: "checked-in",
    S.READY_FOR_CHECKOUT: "checked-in",
    S.DONE: "fulfilled",
    S.NO_SHOW: "noshow",
    S.CANCELLED: "cancelled",
}


def can_move(current: str, to: str) -> bool:
    return Stage(to) in TRANSITIONS[Stage(current)]


def why_not(current: str, to: str) -> str:
    """The message a user sees when a move is refused ("" when it is allowed)."""
    cur, nxt = Stage(current), Stage(to)
    if nxt in TRANSITIONS[cur]:
        return ""
    if cur in FINAL:
        return f"This visit is already {cur.label.lower()}; it cannot change any more."
    if cur == nxt:
        return f"This visit is already {cur.label.lower()}."
    allowed = ", ".join(sorted(s.label.lower() for s in TRANSITIONS[cur]))
    return f"A visit that is {cur.label.lower()} can go to {allowed}, not {nxt.label.lower()}."
