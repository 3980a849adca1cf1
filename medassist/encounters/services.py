"""Changes to a visit. Every change names the version of the visit its author saw; a change
made on a stale version is refused with StaleVisit, so two people working on one visit at once
can never overwrite each other silently (optimistic concurrency, as FHIR's If-Match)."""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from medassist.access.actor import Actor
from medassist.access.policies import may_move_visit
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.services import release_room
from medassist.core import clock
from medassist.encounters import stages
from medassist.encounters.models import Encounter, StageChange


class StaleVisit(Exception):
    """The visit changed since the user loaded it. The message says what it is now."""

    def __init__(self, current: Encounter | None) -> None:
        if current is None:
            text = "This visit no longer exists."
        else:
            text = (
                f"Someone else changed this visit meanwhile: it is now "
                f"{current.get_stage_display().lower()} (since "
                f"{clock.localtime(current.stage_since):%H:%M}). Nothing was saved; "
                "reload to see the visit as it is, then try again."
            )
        super().__init__(text)
        self.current = current


def update_visit(
    *, actor: Actor, encounter: Encounter, expected_version: int, **fields: Any
) -> Encounter:
    """Write `fields` to the visit if it is still at `expected_version`, and bump the version.
    The caller has checked permission and validated; it runs inside the caller's transaction
    (or its own). Returns the visit as stored."""
    with transaction.atomic():
        changed = Encounter.objects.filter(pk=encounter.pk, version=expected_version).update(
            version=F("version") + 1, updated_at=clock.now(), **fields
        )
        if not changed:
            raise StaleVisit(Encounter.objects.filter(pk=encounter.pk).first())
        encounter.refresh_from_db()
    return encounter


def move_visit(
    *,
    actor: Actor,
    encounter: Encounter,
    to: str,
    expected_version: int,
    note: str = "",
    **fields: Any,
) -> Encounter:
    """Move the visit to stage `to` (checked against encounters/stages.py and the actor's
    role), with any other fields that change with it (room, MA, times), and record the move
    with its time for the flow board and the cycle-time report. A visit enters the in-room
    stages only with a room (the caller has occupied it); when it leaves them, its room is
    dirty, whichever way it left (handed to checkout, sent back to the waiting room)."""
    target = stages.Stage(to)
    if not may_move_visit(actor, encounter, target):
        raise PermissionDenied(
            f"Your role may not move a visit to {target.label.lower()} at this clinic."
        )
    if encounter.version != expected_version:
        raise StaleVisit(encounter)
    if problem := stages.why_not(encounter.stage, target):
        raise ValidationError(problem)
    previous = encounter.stage
    entering_room = target in stages.IN_ROOM and previous not in stages.IN_ROOM
    leaving_room = previous in stages.IN_ROOM and target not in stages.IN_ROOM
    if entering_room and fields.get("room") is None:
        raise ValidationError("Choose a ready room to room the patient in.")
    now = clock.now()
    with transaction.atomic():
        if leaving_room and encounter.room_id:
            release_room(actor=actor, room_id=encounter.room_id)
        update_visit(
            actor=actor,
            encounter=encounter,
            expected_version=expected_version,
            stage=target,
            stage_since=now,
            **fields,
        )
        StageChange.objects.create(
            encounter=encounter,
            from_stage=previous,
            to_stage=target,
            at=now,
            by_id=actor.user_id,
            note=note[:300],
        )
        record(
            actor,
            Action.UPDATE,
            "Encounter.stage",
            patient=encounter.patient,
            clinic_id=encounter.clinic_id,
            entity_id=str(encounter.public_id),
            description=f"{previous} -> {target}" + (f": {note}" if note else ""),
        )
    return encounter
