"""Exam rooms through the day: dirty -> being cleaned -> ready -> occupied -> dirty.

A patient is roomed only in a ready room (occupy_room, called when a visit is roomed); when the
patient leaves the room it is dirty (release_room, called when a visit leaves the in-room
stages) until someone cleans it (set_room_status). Every change is kept in RoomStatusChange
with who and when: infection control asks who cleaned a room between two patients (CDC,
Guidelines for Environmental Infection Control in Health-Care Facilities, 2003).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action
from medassist.audit.services import record
from medassist.clinics.models import Room, RoomStatusChange
from medassist.core import clock

S = Room.Status

# What a person may set by hand. "Occupied" is never set by hand: it follows the patient
# (occupy_room, release_room), so the room board and the flow board cannot disagree.
MANUAL_MOVES: dict[str, frozenset[str]] = {
    S.DIRTY: frozenset({S.CLEANING, S.READY}),
    S.CLEANING: frozenset({S.READY, S.DIRTY}),
    S.READY: frozenset({S.DIRTY}),  # e.g. found soiled, or a spill
    S.OCCUPIED: frozenset(),
}


class StaleRoom(Exception):
    """The room changed since the user loaded it."""

    def __init__(self, current: Room | None) -> None:
        if current is None:
            text = "This room no longer exists."
        else:
            text = (
                f"Someone else changed {current.name} meanwhile: it is now "
                f"{current.get_status_display().lower()}. Nothing was saved; look again."
            )
        super().__init__(text)
        self.current = current


def _log(room: Room, status: str, actor: Actor) -> None:
    RoomStatusChange.objects.create(
        room=room, status=status, at=room.status_since, by_id=actor.user_id
    )


def _write(
    actor: Actor, room: Room, to: str, *, only_from: tuple[str, ...], version: int | None
) -> int:
    now = clock.now()
    rows = Room.objects.filter(pk=room.pk, status__in=only_from, active=True)
    if version is not None:
        rows = rows.filter(version=version)
    changed = rows.update(
        status=to, status_since=now, status_by_id=actor.user_id, version=F("version") + 1
    )
    if changed:
        room.refresh_from_db()
    return changed


def set_room_status(*, actor: Actor, room: Room, to: str, expected_version: int) -> Room:
    """Mark a room dirty, being cleaned or ready, as the person doing it."""
    if not can(actor, Permission.CLEAN_ROOM, room):
        raise PermissionDenied("Your role may not change room status at this clinic.")
    target = S(to)
    if target == S.OCCUPIED or room.status == S.OCCUPIED:
        raise ValidationError(
            f"{room.name} is occupied while a patient is in it; it becomes dirty when the "
            "patient leaves (from the flow board), and is cleaned after that."
        )
    if target not in MANUAL_MOVES[room.status]:
        raise ValidationError(
            f"{room.name} is already {room.get_status_display().lower()}."
            if target == room.status
            else f"A {room.get_status_display().lower()} room cannot be marked "
            f"{target.label.lower()}."
        )
    with transaction.atomic():
        if not _write(actor, room, target, only_from=(room.status,), version=expected_version):
            raise StaleRoom(Room.objects.filter(pk=room.pk).first())
        _log(room, target, actor)
        record(
            actor,
            Action.UPDATE,
            "Room.status",
            clinic_id=room.clinic_id,
            entity_id=str(room.public_id),
            description=f"{room.name}: {target}",
        )
    return room


def occupy_room(*, actor: Actor, room: Room) -> Room:
    """Take a ready room for a patient (inside the caller's transaction). Two people rooming
    two patients into one room at once: the first wins, the second is told the room is taken."""
    if room.status != S.READY or not _write(
        actor, room, S.OCCUPIED, only_from=(S.READY,), version=None
    ):
        current = Room.objects.filter(pk=room.pk).first() or room
        raise ValidationError(
            f"{current.name} is {current.get_status_display().lower()}, not ready: choose a "
            "ready room, or have this one cleaned first."
        )
    _log(room, S.OCCUPIED, actor)
    return room


def release_room(*, actor: Actor, room_id: int) -> None:
    """The patient left the room: it is dirty until cleaned (inside the caller's transaction)."""
    room = Room.objects.filter(pk=room_id).first()
    if room is not None and _write(actor, room, S.DIRTY, only_from=(S.OCCUPIED,), version=None):
        _log(room, S.DIRTY, actor)
