"""Moving a visit through the day: permission, the stage table, the version check, the record."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from medassist.access.actor import Actor
from medassist.audit.models import AuditEvent
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.services import StaleVisit, move_visit
from medassist.patients.tests.factories import make_encounter, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(cast):
    return make_encounter(make_patient(cast.north, family="Visitor"), cast.bob)


def actor(user):  # type: ignore[no-untyped-def]
    return Actor.for_user(user)


def test_front_desk_checks_in_and_the_move_is_timestamped_and_audited(cast, visit):
    moved = move_visit(actor=actor(cast.gwen), encounter=visit, to="arrived", expected_version=1)
    assert (moved.stage, moved.version, moved.status) == ("arrived", 2, "arrived")
    change = StageChange.objects.get(encounter=visit)
    assert (change.from_stage, change.to_stage, change.by) == ("scheduled", "arrived", cast.gwen)
    event = AuditEvent.objects.get(entity_type="Encounter.stage")
    assert event.description == "scheduled -> arrived" and event.patient_id == visit.patient_id


def test_a_move_on_a_stale_version_is_refused_and_changes_nothing(cast, visit):
    move_visit(actor=actor(cast.gwen), encounter=visit, to="arrived", expected_version=1)
    stale = Encounter.objects.get(pk=visit.pk)
    stale.version = 1  # what a second screen loaded before the check-in
    with pytest.raises(StaleVisit, match="now arrived"):
        move_visit(actor=actor(cast.gwen), encounter=stale, to="cancelled", expected_version=1)
    assert Encounter.objects.get(pk=visit.pk).stage == "arrived"
    assert StageChange.objects.filter(encounter=visit).count() == 1


def test_skipping_a_stage_is_refused_with_the_reason(cast, visit):
    with pytest.raises(ValidationError, match="scheduled can go to arrived, cancelled, no-show"):
        move_visit(actor=actor(cast.bob), encounter=visit, to="with_provider", expected_version=1)
    assert not StageChange.objects.exists()


@pytest.mark.parametrize(
    "who, start, to",
    [
        ("gwen", "arrived", "roomed"),
        ("alice", "ready_for_provider", "with_provider"),
        ("bob", "ready_for_checkout", "done"),
        ("dana", "scheduled", "arrived"),
    ],
)
def test_each_role_moves_only_the_stages_it_owns(cast, visit, who, start, to):
    Encounter.objects.filter(pk=visit.pk).update(stage=start)
    visit.refresh_from_db()
    with pytest.raises(PermissionDenied):
        move_visit(actor=actor(getattr(cast, who)), encounter=visit, to=to, expected_version=1)


def test_another_clinics_staff_cannot_move_the_visit(cast, visit):
    with pytest.raises(PermissionDenied):
        move_visit(actor=actor(cast.carol), encounter=visit, to="arrived", expected_version=1)
    assert Encounter.objects.get(pk=visit.pk).stage == "scheduled"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
def test_two_people_moving_one_visit_at_once_leave_exactly_one_move(cast):
    visit = make_encounter(make_patient(cast.north, family="Race"), cast.bob)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(user, to):  # type: ignore[no-untyped-def]
        mine = Encounter.objects.get(pk=visit.pk)
        barrier.wait()
        try:
            move_visit(actor=actor(user), encounter=mine, to=to, expected_version=1)
            outcomes.append("moved")
        except StaleVisit:
            outcomes.append("stale")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=(cast.gwen, "arrived")),
        threading.Thread(target=attempt, args=(cast.alice, "no_show")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["moved", "stale"]
    assert StageChange.objects.filter(encounter=visit).count() == 1
    assert Encounter.objects.get(pk=visit.pk).version == 2
