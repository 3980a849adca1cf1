"""Critical results reach someone (review of issue 6): when the ordering provider cannot
review results at the clinic (user inactive, membership inactive, no REVIEW_LAB_RESULTS there),
the alert and the inbox item are every reviewer's of the clinic; an alert not acknowledged
within LAB_ALERT_ESCALATE_MINUTES (10) goes on the banner of every reviewer at the clinic, and
its escalation is recorded. The clock is frozen."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.access.roles import Role
from medassist.audit.models import AuditEvent
from medassist.clinics.models import Membership
from medassist.core import clock
from medassist.labs.models import ResultAlert
from medassist.labs.selectors import results as selectors
from medassist.labs.services import results as services
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true", "X-Medassist-Poll": "1"}
RAISED = f.T0 + dt.timedelta(hours=1)


@pytest.fixture
def now(monkeypatch):  # type: ignore[no-untyped-def]
    """The frozen clock: now["at"] is what clock.now() answers."""
    state = {"at": RAISED}
    monkeypatch.setattr(clock, "now", lambda: state["at"])
    return state


@pytest.fixture
def hana(cast):  # type: ignore[no-untyped-def]
    return f.make_reviewer(cast.north)


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def banner_of(user) -> str:  # type: ignore[no-untyped-def]
    return client_for(user).get(reverse("labs:banner"), headers=HTMX).content.decode()


def sees(user, alert: ResultAlert) -> bool:  # type: ignore[no-untyped-def]
    return alert in selectors.open_alerts(Actor.for_user(user))


def leave_user_inactive(cast) -> None:  # type: ignore[no-untyped-def]
    get_user_model().objects.filter(pk=cast.bob.pk).update(is_active=False)


def leave_membership_inactive(cast) -> None:  # type: ignore[no-untyped-def]
    Membership.objects.filter(user=cast.bob).update(active=False)


def leave_role(cast) -> None:  # type: ignore[no-untyped-def]
    # Bob stays at North as a medical assistant: no REVIEW_LAB_RESULTS there.
    Membership.objects.filter(user=cast.bob).update(role=Role.MEDICAL_ASSISTANT)


def leave_for_south(cast) -> None:  # type: ignore[no-untyped-def]
    # Bob reviews results at South only now.
    Membership.objects.filter(user=cast.bob).update(clinic=cast.south)


LEAVINGS = [leave_user_inactive, leave_membership_inactive, leave_role, leave_for_south]


# -- The ordering provider cannot review here ---------------------------------------------------
@pytest.mark.parametrize("leave", LEAVINGS)
def test_a_critical_for_a_provider_who_cannot_review_here_is_every_reviewers(
    cast, hana, now, leave
):
    order = f.make_order(make_patient(cast.north), cast.bob)
    leave(cast)
    report = f.critical_potassium(order)
    alert = ResultAlert.objects.get(report=report)
    assert alert.owner is None  # nobody in particular: every reviewer of the clinic
    assert sees(hana, alert)
    assert not sees(cast.frank, alert)  # South's provider: another clinic
    assert not any(sees(u, alert) for u in (cast.alice, cast.dana, cast.gwen))
    assert "6.8 mmol/L" in banner_of(hana)
    box = selectors.inbox(Actor.for_user(hana))
    assert [r.pk for r in box.to_review] == [report.pk] and box.critical == 1
    audit = AuditEvent.objects.filter(
        entity_type="Task", entity_id=str(alert.public_id), action="create"
    ).get()
    assert "every reviewer at the clinic" in audit.description
    # Hana acknowledges it: the Task completes.
    services.acknowledge_result_alert(actor=Actor.for_user(hana), alert=alert, note="K 6.8, on it")
    assert not sees(hana, alert)


@pytest.mark.parametrize("leave", LEAVINGS)
def test_an_open_alert_and_report_follow_when_the_provider_leaves_after_filing(
    cast, hana, now, leave
):
    report = f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    alert = ResultAlert.objects.get(report=report)
    assert alert.owner == cast.bob and not sees(hana, alert)
    assert selectors.inbox(Actor.for_user(hana)).to_review == []
    leave(cast)
    assert sees(hana, alert)
    assert [r.pk for r in selectors.inbox(Actor.for_user(hana)).to_review] == [report.pk]
    html = client_for(hana).get(reverse("labs:inbox")).content.decode()
    assert "who does not review results here" in html


def test_the_reviewers_own_reports_stay_theirs(cast, hana, now):
    report = f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    assert selectors.inbox(Actor.for_user(hana)).to_review == []
    assert [r.pk for r in selectors.inbox(Actor.for_user(cast.bob)).to_review] == [report.pk]


def test_the_reviewers_reproduction_a_provider_who_left_with_another_reviewer_at_north(
    cast, hana, now
):
    """The review's reproduction, with the second North reviewer it needs: in the cast Bob is
    North's only provider, so once he left nobody there *can* review (see the report)."""
    order = f.make_order(make_patient(cast.north), cast.bob)
    Membership.objects.filter(user=cast.bob).update(active=False)
    alert = ResultAlert.objects.get(report=f.critical_potassium(order))
    seen_by = [u.username for u in get_user_model().objects.all() if u.is_active and sees(u, alert)]
    assert seen_by == ["hana"]


# -- Escalation after LAB_ALERT_ESCALATE_MINUTES -------------------------------------------------
def test_an_alert_not_acknowledged_in_10_minutes_goes_to_every_reviewer(cast, hana, now):
    assert services.escalate_after() == dt.timedelta(minutes=10)  # vitals policy's default
    report = f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    alert = ResultAlert.objects.get(report=report)
    assert alert.raised_at == RAISED
    now["at"] = RAISED + dt.timedelta(minutes=9, seconds=59)
    assert "6.8" not in banner_of(hana)
    alert.refresh_from_db()
    assert alert.escalated_at is None
    now["at"] = RAISED + dt.timedelta(minutes=10)
    html = banner_of(hana)
    assert "6.8 mmol/L" in html and "within 10 min: escalated" in html
    alert.refresh_from_db()
    assert alert.escalated_at == RAISED + dt.timedelta(minutes=10)
    audit = AuditEvent.objects.filter(
        entity_type="Task", entity_id=str(alert.public_id), description__contains="escalated"
    )
    assert audit.count() == 1
    # Later polls do not escalate it again.
    now["at"] = RAISED + dt.timedelta(minutes=20)
    banner_of(cast.bob)
    alert.refresh_from_db()
    assert alert.escalated_at == RAISED + dt.timedelta(minutes=10) and audit.count() == 1
    # Still Bob's too; South, the MA and the manager never see it.
    assert sees(cast.bob, alert) and sees(hana, alert)
    for user in (cast.frank, cast.alice, cast.dana):
        assert "6.8" not in banner_of(user), user


def test_an_escalated_alert_is_acknowledged_by_another_reviewer(cast, hana, now):
    f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    alert = ResultAlert.objects.get()
    now["at"] = RAISED + dt.timedelta(minutes=15)
    assert sees(hana, alert)  # overdue: shown even before a banner poll records it
    assert services.escalate_overdue_alerts([cast.north.pk]) == [alert]
    services.acknowledge_result_alert(actor=Actor.for_user(hana), alert=alert, note="K 6.8")
    alert.refresh_from_db()
    assert alert.acknowledged_by == hana
    assert not sees(cast.bob, alert) and not sees(hana, alert)


def test_an_acknowledged_alert_is_never_escalated(cast, hana, now):
    f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    alert = ResultAlert.objects.get()
    services.acknowledge_result_alert(actor=Actor.for_user(cast.bob), alert=alert, note="K")
    now["at"] = RAISED + dt.timedelta(hours=1)
    assert services.escalate_overdue_alerts([cast.north.pk]) == []
    alert.refresh_from_db()
    assert alert.escalated_at is None


def test_the_escalation_time_is_a_setting(cast, hana, now, settings):
    settings.LAB_ALERT_ESCALATE_MINUTES = 3
    f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    alert = ResultAlert.objects.get()
    now["at"] = RAISED + dt.timedelta(minutes=2)
    assert not sees(hana, alert)
    now["at"] = RAISED + dt.timedelta(minutes=3)
    assert sees(hana, alert) and "within 3 min" in banner_of(hana)


def test_escalation_stays_in_the_clinic(cast, now):
    f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    now["at"] = RAISED + dt.timedelta(hours=1)
    assert services.escalate_overdue_alerts([cast.south.pk]) == []
    assert selectors.open_alerts(Actor.for_user(cast.frank)) == []
    assert "6.8" not in banner_of(cast.frank)


def test_the_banner_runs_constant_queries(cast, hana, now, django_assert_max_num_queries):
    def alerts(n: int) -> None:
        for i in range(n):
            f.critical_potassium(f.make_order(make_patient(cast.north, family=f"P{i}"), cast.bob))

    alerts(2)
    now["at"] = RAISED + dt.timedelta(minutes=30)
    client = client_for(hana)
    client.get(reverse("labs:banner"), headers=HTMX)  # escalates the first two
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        assert "P1" in client.get(reverse("labs:banner"), headers=HTMX).content.decode()
    now["at"] = RAISED
    alerts(8)
    now["at"] = RAISED + dt.timedelta(hours=1)
    client.get(reverse("labs:banner"), headers=HTMX)
    with CaptureQueriesContext(connection) as ten:
        assert "P7" in client.get(reverse("labs:banner"), headers=HTMX).content.decode()
    assert len(ten) == len(two)


def test_in_a_one_provider_clinic_an_escalated_alert_reaches_the_manager_without_its_value(
    cast, now
):
    """North's only provider, bob, is away: after the escalation time the manager's banner
    names the patient and the test (never the value) so she reaches the on-call provider, and
    records who took it (second review). Before that it is the providers' alone."""
    f.critical_potassium(f.make_order(make_patient(cast.north, family="Kalium"), cast.bob))
    alert = ResultAlert.objects.get()
    assert not sees(cast.dana, alert) and "Kalium" not in banner_of(cast.dana)
    with pytest.raises(PermissionDenied):
        services.acknowledge_result_alert(actor=Actor.for_user(cast.dana), alert=alert, note="x")
    now["at"] = RAISED + dt.timedelta(minutes=11)
    shown = banner_of(cast.dana)
    assert "Kalium" in shown and "Record hand-off" in shown
    assert "6.8" not in shown and "mmol" not in shown  # no value for the manager
    alert.refresh_from_db()
    assert alert.escalated_at is not None  # her banner's poll recorded the escalation
    services.acknowledge_result_alert(
        actor=Actor.for_user(cast.dana), alert=alert, note="Handed to Dr Lee (on call) 10:12"
    )
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == (ResultAlert.Status.COMPLETED, cast.dana)
    assert not sees(cast.dana, alert) and not sees(cast.bob, alert)
    # South's manager-less staff and other clinics' users never see it
    assert not sees(cast.frank, alert) and not sees(cast.alice, alert)
