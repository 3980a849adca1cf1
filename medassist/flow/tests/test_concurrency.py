"""Two people changing one visit at the same moment, on real separate database connections:
one change wins, the other gets a clear conflict message, and nothing is lost or doubled
(optimistic versioning: every change names the version it saw)."""

import pytest

from medassist.access.actor import Actor
from medassist.clinics.models import Room
from medassist.core.testing import make_cast, race
from medassist.encounters.models import Encounter, StageChange
from medassist.encounters.services import StaleVisit
from medassist.flow import services
from medassist.flow.tests.factories import booked_today, check_in_data, make_rooms, walk_to
from medassist.scheduling.services import cancel_appointment
from medassist.scheduling.tests.factories import make_types, make_week

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def day(now):  # type: ignore[no-untyped-def]
    cast = make_cast()
    types = make_types(cast.north)
    make_week(cast.north, cast.bob)
    make_rooms(cast.north)
    return cast, types


def test_two_mas_rooming_the_same_patient_at_once(day):
    cast, types = day
    visit = walk_to(booked_today(cast, types), "arrived", cast)
    seen = visit.version
    exam1, exam2 = Room.objects.filter(clinic=cast.north).order_by("name")[:2]

    # Both screens show the patient waiting, at the same version.
    screens = [Encounter.objects.select_related("patient").get(pk=visit.pk) for _ in range(2)]

    def room_in(screen, room):  # type: ignore[no-untyped-def]
        services.room_patient(
            actor=Actor.for_user(cast.alice), encounter=screen, room=room, expected_version=seen
        )

    outcomes = race(lambda: room_in(screens[0], exam1), lambda: room_in(screens[1], exam2))

    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 1, outcomes
    assert isinstance(failures[0], StaleVisit)
    assert "Someone else changed this visit meanwhile" in str(failures[0])
    visit.refresh_from_db()
    assert visit.stage == "roomed" and visit.version == seen + 1
    assert StageChange.objects.filter(encounter=visit, to_stage="roomed").count() == 1
    # The loser's room was given back: exactly one room is occupied, by this patient.
    statuses = dict(Room.objects.filter(pk__in=[exam1.pk, exam2.pk]).values_list("pk", "status"))
    assert sorted(statuses.values()) == ["occupied", "ready"]
    assert visit.room_id is not None and statuses[visit.room_id] == "occupied"


def test_check_in_and_cancel_at_once(day):
    cast, types = day
    visit = booked_today(cast, types)
    seen = visit.version

    from medassist.scheduling.models import Appointment

    desk = Encounter.objects.select_related("patient").get(pk=visit.pk)
    phone = Appointment.objects.select_related("encounter").get(encounter=visit)

    def check_in():  # type: ignore[no-untyped-def]
        services.check_in(
            actor=Actor.for_user(cast.gwen),
            encounter=desk,
            expected_version=seen,
            data=check_in_data(desk),
        )

    def cancel():  # type: ignore[no-untyped-def]
        cancel_appointment(
            actor=Actor.for_user(cast.gwen),
            appointment=phone,
            reason="patient called",
            expected_version=seen,
        )

    outcomes = race(check_in, cancel)

    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 1 and isinstance(failures[0], StaleVisit), outcomes
    visit.refresh_from_db()
    assert visit.stage in ("arrived", "cancelled")
    assert StageChange.objects.filter(encounter=visit).count() == 1
