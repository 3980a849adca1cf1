"""Critical-result alerts: the banner every reviewing provider's page polls (204 while nothing
changed), acknowledging with a read-back (completes the Task, audited), and the outsider's 404."""

import pytest
from django.test import Client
from django.urls import reverse

from medassist.audit.models import AuditEvent
from medassist.labs.models import ResultAlert
from medassist.labs.tests import result_factories as f
from medassist.patients.tests.factories import make_patient
from tests.test_outsiders import db_fingerprint

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true", "X-Medassist-Poll": "1"}


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def ack_url(alert: ResultAlert) -> str:
    return reverse("labs:acknowledge-alert", kwargs={"alert_id": alert.public_id})


def fingerprint_of(html: str) -> str:
    return html.split("fp=")[1].split("&")[0]


def test_the_banner_shows_the_providers_open_alerts_and_answers_204_while_unchanged(cast):
    patient = make_patient(cast.north)
    report = f.critical_potassium(f.make_order(patient, cast.bob))
    bob = client_for(cast.bob)
    first = bob.get(reverse("labs:banner"), headers=HTMX)
    html = first.content.decode()
    assert first.status_code == 200
    assert "6.8 mmol/L" in html and patient.display_name in html
    assert reverse("labs:report", kwargs={"report_id": report.public_id}) in html
    assert 'hx-trigger="every 10s"' in html and 'name="note"' in html
    fp = fingerprint_of(html)
    reads = AuditEvent.objects.filter(entity_type="Task", action="read").count()
    unchanged = bob.get(reverse("labs:banner") + f"?fp={fp}", headers=HTMX)
    assert unchanged.status_code == 204 and unchanged.content == b""
    assert AuditEvent.objects.filter(entity_type="Task", action="read").count() == reads
    # A second critical result changes the fingerprint.
    f.critical_potassium(f.make_order(make_patient(cast.north, family="Second"), cast.bob))
    changed = bob.get(reverse("labs:banner") + f"?fp={fp}", headers=HTMX)
    assert changed.status_code == 200 and "Second" in changed.content.decode()


def test_others_do_not_see_the_providers_alert(cast):
    f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    for user in (cast.frank, cast.alice, cast.dana):
        html = client_for(user).get(reverse("labs:banner"), headers=HTMX).content.decode()
        assert "6.8" not in html, user


def test_acknowledging_needs_a_read_back_and_completes_the_task(cast):
    report = f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    alert = report.alerts.get()
    bob = client_for(cast.bob)
    back = reverse("labs:report", kwargs={"report_id": report.public_id})
    refused = bob.post(ack_url(alert), {"note": "  ", "next": back}, follow=True)
    assert "Write the read-back" in refused.content.decode()
    alert.refresh_from_db()
    assert alert.status == "requested"
    done = bob.post(ack_url(alert), {"note": "K 6.8 read back; repeat today", "next": back})
    assert done.status_code == 302 and done["Location"] == back
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("completed", cast.bob)
    assert alert.note == "K 6.8 read back; repeat today"
    audit = AuditEvent.objects.filter(entity_type="Task", action="update").get()
    assert audit.user_id == cast.bob.pk and "read-back" in audit.description
    assert "6.8" not in bob.get(reverse("labs:banner"), headers=HTMX).content.decode()
    page = bob.get(back).content.decode()
    assert "acknowledged by Robert Okafor" in page


def test_the_ma_cannot_acknowledge(cast):
    report = f.critical_potassium(f.make_order(make_patient(cast.north), cast.bob))
    alert = report.alerts.get()
    response = client_for(cast.alice).post(ack_url(alert), {"note": "x"}, follow=True)
    assert "Only a provider acknowledges" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == "requested"


def test_an_outsider_gets_404_on_an_alert_and_nothing_changes(cast):
    alert = ResultAlert.objects.get(public_id=f.north_result_alert(cast))
    frank, carol = client_for(cast.frank), client_for(cast.carol)
    before = db_fingerprint()
    assert frank.post(ack_url(alert), {"note": "mine now"}).status_code == 404
    assert carol.post(ack_url(alert), {"note": "mine now"}).status_code == 404
    assert carol.get(ack_url(alert)).status_code == 405
    assert db_fingerprint() == before
    missing = ack_url(alert).replace(str(alert.public_id), "00000000-0000-4000-8000-000000000000")
    assert carol.post(missing, {"note": "x"}).status_code == 404
