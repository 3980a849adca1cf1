import pytest

from medassist.core import clock
from medassist.flow.tests.factories import make_rooms
from medassist.scheduling.tests.factories import MONDAY, at, make_types, make_week


@pytest.fixture
def now(monkeypatch):
    """Monday 23 Nov 2026, 08:30 in Chicago, unless a test moves it: now("09:40")."""
    current = {"now": at(MONDAY, "08:30")}
    monkeypatch.setattr(clock, "now", lambda: current["now"])

    def move_to(when):
        current["now"] = at(MONDAY, when) if isinstance(when, str) else when

    return move_to


@pytest.fixture
def types(cast, now):
    """North's standard appointment types, bob's week, and three ready exam rooms."""
    made = make_types(cast.north)
    make_week(cast.north, cast.bob)
    make_rooms(cast.north)
    return made
