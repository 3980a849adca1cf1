"""The pre-visit list names the vaccines due and overdue on the visit day."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medassist.core import clock
from medassist.immunizations.previsit import immunizations_due
from medassist.immunizations.tests import factories as f
from medassist.immunizations.tests.test_services import four_month_old
from medassist.patients.tests.factories import make_patient
from medassist.scheduling.previsit import registered_checks

pytestmark = pytest.mark.django_db


def test_due_and_overdue_vaccines_are_listed(cast):
    baby = four_month_old(cast)
    # A 3-year-old with nothing recorded is overdue for the infant series.
    toddler = make_patient(
        cast.north, family="Moss", birth_date=clock.today() - dt.timedelta(days=3 * 365)
    )
    found = immunizations_due([baby, toddler], clock.today())
    assert found[baby.pk] == ["Vaccines due: Rotavirus, DTaP/Tdap/Td, Hib, Pneumococcal, Polio"]
    assert found[toddler.pk][0].startswith("Vaccines overdue: HepB")


def test_a_patient_up_to_date_is_not_listed(cast):
    baby = four_month_old(cast)
    for cvx in ("110", "49", "216", "116"):
        f.historical(baby, cvx, clock.today())
    assert baby.pk not in immunizations_due([baby], clock.today() + dt.timedelta(days=7))


def test_queries_do_not_grow_with_patients(cast):
    few = [four_month_old(cast) for _ in range(2)]
    many = few + [four_month_old(cast) for _ in range(6)]
    with CaptureQueriesContext(connection) as small:
        immunizations_due(few, clock.today())
    with CaptureQueriesContext(connection) as large:
        immunizations_due(many, clock.today())
    assert len(small) == len(large) == 2


def test_registered_with_the_previsit_list():
    assert registered_checks()["immunizations"] is immunizations_due
