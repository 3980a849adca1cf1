"""The provider's results inbox: their own unreviewed reports, critical first, then abnormal,
then the others, newest first; counts; the reviewed-not-released list; constant queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.labs.selectors import results as selectors
from medassist.labs.services import results as services
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def filed(cast, flag: str, hours: int, provider=None):  # type: ignore[no-untyped-def]
    order = f.make_order(make_patient(cast.north), provider or cast.bob)
    report = f.file(order, f.result(flag=flag))
    report.issued_at = f.T0 + dt.timedelta(hours=hours)
    report.save(update_fields=["issued_at"])
    return report


def test_critical_first_then_abnormal_then_others_newest_first(cast):
    normal_old = filed(cast, "", 1)
    high = filed(cast, "H", 2)
    normal_new = filed(cast, "N", 5)
    critical_old = filed(cast, "HH", 0)
    low_new = filed(cast, "L", 4)
    critical_new = filed(cast, "LL", 3)
    box = selectors.inbox(Actor.for_user(cast.bob))
    assert box.to_review == [critical_new, critical_old, low_new, high, normal_new, normal_old]
    assert (box.critical, box.abnormal, box.other, box.total) == (2, 2, 2, 6)


def test_only_the_providers_own_unreviewed_reports_and_the_reviewed_not_released(cast):
    from django.contrib.auth import get_user_model

    from medassist.access.roles import Role
    from medassist.clinics.models import Membership

    other = get_user_model().objects.create_user("olga", first_name="Olga", last_name="Ames")
    Membership.objects.create(user=other, clinic=cast.north, role=Role.PROVIDER)
    mine = filed(cast, "", 1)
    theirs = filed(cast, "HH", 1, provider=other)
    reviewed = filed(cast, "", 2)
    released = filed(cast, "", 3)
    bob = Actor.for_user(cast.bob)
    services.review_report(actor=bob, report=reviewed)
    f.release(released, cast.bob)
    box = selectors.inbox(bob)
    assert box.to_review == [mine]
    assert box.not_released == [reviewed]
    assert theirs not in box.to_review
    html = client_for(cast.bob).get(reverse("labs:inbox")).content.decode()
    assert f'id="report-{mine.public_id}"' in html
    assert f'id="unreleased-{reviewed.public_id}"' in html
    assert str(theirs.public_id) not in html and str(released.public_id) not in html


def test_the_ma_and_the_manager_have_no_inbox(cast):
    assert client_for(cast.alice).get(reverse("labs:inbox")).status_code == 403
    assert client_for(cast.dana).get(reverse("labs:inbox")).status_code == 403


def test_the_inbox_runs_constant_queries(cast):
    bob = client_for(cast.bob)
    for i in range(2):
        filed(cast, "HH" if i else "", i)
    bob.get(reverse("labs:inbox"))
    with CaptureQueriesContext(connection) as two:
        bob.get(reverse("labs:inbox"))
    for i in range(8):
        report = filed(cast, ("H", "", "LL")[i % 3], i)
        if i % 2:
            services.review_report(actor=Actor.for_user(cast.bob), report=report)
    with CaptureQueriesContext(connection) as ten:
        response = bob.get(reverse("labs:inbox"))
    assert response.content.decode().count('id="report-') == 6
    assert len(two) == len(ten)
