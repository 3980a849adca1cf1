"""Two desks booking the same slot at the same moment, on separate database connections: one
booking stands, the other is refused naming it, never two patients in one single slot."""

import pytest
from django.core.exceptions import ValidationError

from medassist.access.actor import Actor
from medassist.core import clock
from medassist.core.testing import make_cast, race
from medassist.patients.tests.factories import make_patient
from medassist.scheduling.models import Appointment
from medassist.scheduling.services import book_appointment
from medassist.scheduling.tests.factories import MONDAY, NOW, at, make_types, make_week

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_desks_booking_one_slot_at_once(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    cast = make_cast()
    follow_up = make_types(cast.north)["follow-up"]
    make_week(cast.north, cast.bob)  # one patient per slot in the afternoon
    maria = make_patient(cast.north, family="Rivera", given="Maria")
    sam = make_patient(cast.north, family="Okoro", given="Sam")
    start = at(MONDAY, "14:00")

    def book(patient, desk):  # type: ignore[no-untyped-def]
        book_appointment(actor=Actor.for_user(desk), patient=patient, provider=cast.bob,
                         appointment_type=follow_up, start=start)  # fmt: skip

    outcomes = race(lambda: book(maria, cast.gwen), lambda: book(sam, cast.alice))

    assert Appointment.objects.filter(provider_id=cast.bob.pk, start=start).count() == 1
    failures = [o for o in outcomes if o is not None]
    assert len(failures) == 1 and isinstance(failures[0], ValidationError), outcomes
    assert "already booked at that time (14:00-14:20" in str(failures[0])
