import pytest

from medassist.access.actor import Actor
from medassist.access.permissions import Permission as P
from medassist.access.policies import can
from medassist.access.roles import ROLE_PERMISSIONS, Role
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "perm", "clinic", "allowed"),
    [
        ("alice", P.VIEW_PATIENT, "north", True),
        ("alice", P.VIEW_PATIENT, "south", False),
        ("alice", P.VIEW_AUDIT, "north", False),
        ("bob", P.EDIT_PATIENT, "north", True),
        ("carol", P.VIEW_PATIENT, "north", False),
        ("carol", P.VIEW_PATIENT, "south", True),
        ("dana", P.VIEW_PATIENT, "north", True),
        ("dana", P.EDIT_PATIENT, "north", False),
        ("erin", P.VIEW_PATIENT, "north", False),  # the auditor reads the trail, not charts
        ("erin", P.VIEW_AUDIT, "south", True),
        ("frank", P.VIEW_PATIENT, "north", False),
    ],
)
def test_can_decides_by_role_and_clinic(cast, who, perm, clinic, allowed):
    patient = make_patient(getattr(cast, clinic))
    actor = Actor.for_user(getattr(cast, who))
    assert can(actor, perm, patient) is allowed


def test_inactive_and_anonymous_users_can_do_nothing(cast):
    from django.contrib.auth.models import AnonymousUser

    patient = make_patient(cast.north)
    cast.alice.is_active = False
    assert not can(Actor.for_user(cast.alice), P.VIEW_PATIENT, patient)
    assert not can(Actor.for_user(AnonymousUser()), P.VIEW_PATIENT, patient)


def test_every_role_has_a_permission_set():
    assert set(ROLE_PERMISSIONS) == set(Role)
