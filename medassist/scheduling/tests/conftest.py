import pytest

from medassist.core import clock
from medassist.patients.tests.factories import make_patient
from medassist.scheduling.tests.factories import NOW, make_types, make_week


@pytest.fixture
def now(monkeypatch):
    """Monday 23 Nov 2026, 07:00 in Chicago, unless a test moves it."""
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])

    def move_to(when):
        current["now"] = when

    return move_to


@pytest.fixture
def north(cast, now):
    """North with the standard types and bob's week (8-12, 13-17, 20-minute grid)."""
    types = make_types(cast.north)
    make_week(cast.north, cast.bob)
    return types


@pytest.fixture
def maria(cast):
    return make_patient(cast.north, family="Rivera", given="Maria", phone="217-555-0142")


@pytest.fixture
def sam(cast):
    return make_patient(cast.north, family="Okoro", given="Sam", phone="217-555-0199")
