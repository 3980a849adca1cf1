"""Reads of visits, scoped to the actor's clinics (emergency grants do not reach the clinic
day: a break-the-glass read is of the chart, not of another clinic's schedule)."""

import uuid

from django.db.models import QuerySet

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.audit.models import Action
from medassist.audit.services import out_of_reach, record
from medassist.encounters.models import Encounter


def visible_encounters(
    actor: Actor, perm: Permission = Permission.VIEW_ENCOUNTER
) -> QuerySet[Encounter]:
    if not actor.user.is_authenticated:
        return Encounter.objects.none()
    return Encounter.objects.filter(clinic_id__in=actor.clinics_with(perm))


def get_visit(
    actor: Actor,
    public_id: uuid.UUID | str,
    perm: Permission = Permission.VIEW_ENCOUNTER,
    *,
    audit_as: str = "Encounter",
) -> Encounter:
    """One visit by public id with its patient, clinic and room, or 404 (absent and out of
    reach look the same). Records the read."""
    visit = (
        visible_encounters(actor, perm)
        .select_related("patient", "clinic", "room", "provider", "medical_assistant")
        .filter(public_id=public_id)
        .first()
    )
    if visit is None:
        raise out_of_reach(actor, audit_as, public_id, message="No such visit")
    record(
        actor,
        Action.READ,
        audit_as,
        patient=visit.patient,
        clinic_id=visit.clinic_id,
        entity_id=str(visit.public_id),
    )
    return visit
