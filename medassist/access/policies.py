"""can(): the one place that decides whether an actor may do something to something.

Rules that depend on the state of a record live here and nowhere else.
"""

from typing import Any

from medassist.access.actor import Actor
from medassist.access.permissions import Permission

# Permissions an emergency ("break the glass") grant confers on one patient outside one's clinic.
EMERGENCY_GRANTS = frozenset({Permission.VIEW_PATIENT, Permission.VIEW_ENCOUNTER})


def clinic_of(obj: Any) -> int | None:
    """The clinic a record belongs to, for records that carry one directly or through a patient."""
    if obj is None:
        return None
    if obj._meta.label == "clinics.Clinic":
        return obj.pk
    if hasattr(obj, "clinic_id"):
        return obj.clinic_id
    patient = getattr(obj, "patient", None)
    return getattr(patient, "clinic_id", None)


def can(actor: Actor, perm: Permission, obj: Any = None) -> bool:
    if not actor.user.is_authenticated or not actor.user.is_active:
        return False
    if obj is None:
        return actor.has_anywhere(perm)
    clinic_id = clinic_of(obj)
    if clinic_id is not None and clinic_id in actor.clinics_with(perm):
        return True
    if perm in EMERGENCY_GRANTS:
        from medassist.patients.selectors import has_emergency_access

        patient = obj if obj.__class__.__name__ == "Patient" else getattr(obj, "patient", None)
        return patient is not None and has_emergency_access(actor, patient)
    return False


# Who may move a visit to each stage (the clinic day, encounters/stages.py). Front desk checks
# in and out; the MA rooms and hands over to the provider; the provider takes the patient and
# hands over to checkout. Booking staff mark no-shows and cancellations.
_MOVE_PERMISSION: dict[str, Permission] = {
    "arrived": Permission.CHECK_IN,
    "scheduled": Permission.CHECK_IN,  # undo a check-in made by mistake
    "no_show": Permission.BOOK_APPOINTMENT,
    "cancelled": Permission.BOOK_APPOINTMENT,
    "roomed": Permission.ROOM_PATIENT,
    "ready_for_provider": Permission.ROOM_PATIENT,
    "with_provider": Permission.SEE_PATIENT,
    "ready_for_checkout": Permission.SEE_PATIENT,
    "done": Permission.CHECK_OUT,
}


def may_move_visit(actor: Actor, encounter: Any, to: str) -> bool:
    """Whether the actor may move this visit to stage `to`. A provider sending the patient back
    to the MA (with provider -> roomed) acts as the provider, not as rooming staff."""
    if to == "roomed" and encounter.stage == "with_provider":
        return can(actor, Permission.SEE_PATIENT, encounter)
    if to == "arrived" and encounter.stage == "roomed":  # back to the waiting room
        return can(actor, Permission.ROOM_PATIENT, encounter)
    return can(actor, _MOVE_PERMISSION[str(to)], encounter)
