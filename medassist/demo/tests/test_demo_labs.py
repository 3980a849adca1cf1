"""The demo's labs and point-of-care tests, loaded once for the module through the real load
(half size, at lunchtime of a fixed day, rolled back after): today's North orders waiting to be
drawn and with the courier, this morning's results in the provider's inbox with one critical
alert, a history for the trend plots, and a rapid strep that is locked out until the day's
controls are run."""

import datetime as dt
import zoneinfo
from unittest import mock

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from medassist.access.actor import Actor
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.demo import seed
from medassist.events.models import OutboxMessage
from medassist.labs.models import LabOrder, LabReport, OrderMessage, ResultAlert, Specimen
from medassist.labs.selectors import results as result_selectors
from medassist.labs.services.orders import LAB_ORDER_KIND
from medassist.poct import services as poct_services
from medassist.poct.models import KitLot, PocTest

TODAY = dt.date(2026, 1, 15)  # a Thursday
NOW = dt.datetime(2026, 1, 15, 12, 30, tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with (
        django_db_blocker.unblock(),
        fast,
        transaction.atomic(),
        mock.patch.object(clock, "now", lambda: NOW),
    ):
        seed.load_demo(today=TODAY, per_clinic=120)
        yield
        transaction.set_rollback(True)


def _user(name: str):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=name)


def test_todays_north_patients_have_orders_to_draw_and_orders_with_the_courier(loaded, db):
    north = Clinic.objects.get(code="north")
    stages = set(
        LabOrder.objects.filter(clinic=north, created_at__date__gte=TODAY).values_list(
            "stage", flat=True
        )
    )
    assert LabOrder.Stage.TO_COLLECT in stages
    assert LabOrder.Stage.IN_TRANSIT in stages
    in_transit = Specimen.objects.filter(clinic=north, status=Specimen.Status.IN_TRANSIT)
    assert in_transit.exists()
    assert all(s.custody.filter(step="courier").exists() for s in in_transit)
    # Every order placed today was queued for the lab in the same transaction, and every
    # collection sent the lab a change order with the tubes.
    queued = OrderMessage.objects.filter(clinic=north)
    assert set(queued.values_list("control", flat=True)) == {"NW", "XO"}
    assert OutboxMessage.objects.filter(kind=LAB_ORDER_KIND).count() == queued.count()


def test_this_mornings_results_wait_in_the_providers_inbox_with_one_critical_alert(loaded, db):
    bob = _user("bob")
    with mock.patch.object(clock, "now", lambda: NOW):
        box = result_selectors.inbox(Actor.for_user(bob))
    # Critical first: the potassium, then the high LDL.
    assert (box.critical, box.abnormal, box.other) == (1, 1, 0)
    assert [r.loinc for r in box.to_review] == ["24321-2", "24331-1"]
    alert = ResultAlert.objects.get(owner=bob, status=ResultAlert.Status.REQUESTED)
    assert "2823-3" in alert.reason or "otassium" in alert.reason
    assert box is not None


def test_the_patients_have_a_released_history_for_the_trends(loaded, db):
    released = LabReport.objects.exclude(released_at=None).filter(loinc="4548-4")
    per_patient: dict[int, int] = {}
    for report in released:
        per_patient.setdefault(report.patient_id, 0)
        per_patient[report.patient_id] += 1
    assert per_patient and min(per_patient.values()) == 8  # every 3 months for 2 years
    assert all(r.patient_message for r in released)


def test_rapid_strep_is_locked_for_alice_until_todays_controls_are_run(loaded, db):
    north = Clinic.objects.get(code="north")
    strep = PocTest.objects.get(clinic=north, kind="rapid_strep")
    lot = KitLot.objects.filter(test=strep, retired_at=None).first()
    assert lot is not None
    with mock.patch.object(clock, "now", lambda: NOW):
        reasons = poct_services.lockout_for(strep, lot, _user("alice"), now=NOW)
    assert reasons
    assert all("competen" not in r.message.lower() for r in reasons)  # she is competent
    assert any("control" in r.message.lower() for r in reasons)
