"""The vitals pages over HTTP: the rooming step records a set (with confirmation of improbable
values and refusal of impossible ones), the provider's banner shows the alert and
acknowledges it, the board marks it, and the manager's policy page."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medassist.rooming.models import RoomingProgress
from medassist.rooming.tests.factories import roomed_visit
from medassist.vitals.models import Measure, VitalAlert, VitalSign, VitalsPolicy

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def save(client, visit, data, action="vitals"):  # type: ignore[no-untyped-def]
    url = reverse("rooming:save", kwargs={"visit_id": visit.public_id, "action": action})
    return client.post(url, data, headers=HTMX)


def test_recording_vitals_shows_both_units_and_the_reading(cast):
    visit = roomed_visit(cast)
    response = save(
        client_for(cast.alice),
        visit,
        {
            "systolic": "134",
            "diastolic": "84",
            "heart_rate": "72",
            "temperature": "98.6",
            "temperature_unit": "[degF]",
            "height_ft": "5",
            "height_in": "6",
            "weight_lb": "154",
            "consciousness": "A",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "98.6 °F (37.00 °C)" in html
    assert "Stage 1 hypertension" in html
    assert "ACC/AHA" in html  # the source, on hover
    assert "Repeat the blood pressure" in html  # raised BP: the repeat form and timer
    weight = VitalSign.objects.get(measure=Measure.WEIGHT)
    assert (weight.value, weight.unit) == (154, "[lb_av]")
    assert VitalSign.objects.filter(measure=Measure.BMI).count() == 1
    assert RoomingProgress.objects.filter(encounter=visit, step="vitals").exists()


def test_an_impossible_value_is_refused_with_the_slip_and_the_values_kept(cast):
    visit = roomed_visit(cast)
    response = save(client_for(cast.alice), visit, {"temperature": "986", "heart_rate": "80"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "98.6" in html
    assert 'name="heart_rate" inputmode="numeric" size="4" value="80"' in html
    assert not VitalSign.objects.exists()


def test_an_improbable_value_asks_to_confirm_then_saves(cast):
    visit = roomed_visit(cast)
    client = client_for(cast.alice)
    save(client, visit, {"weight_kg": "80"})
    asked = save(client, visit, {"weight_kg": "55"})
    assert asked.status_code == 200
    html = asked.content.decode()
    assert 'name="confirm"' in html
    assert VitalSign.objects.filter(measure=Measure.WEIGHT).count() == 1
    code = html.split('name="confirm" value="')[1].split('"')[0]
    done = save(client, visit, {"weight_kg": "55", "confirm": code})
    assert done.status_code == 200
    assert VitalSign.objects.filter(measure=Measure.WEIGHT).count() == 2


def test_the_provider_sees_the_alert_on_every_page_and_acknowledges_it(cast):
    visit = roomed_visit(cast)
    save(client_for(cast.alice), visit, {"systolic": "192", "diastolic": "124"})
    alert = VitalAlert.objects.get()
    bob = client_for(cast.bob)
    banner = bob.get(reverse("vitals:banner"), headers=HTMX)
    assert banner.status_code == 200 and "192/124" in banner.content.decode()
    fp = banner.content.decode().split("fp=")[1].split("&")[0]
    # Nothing changed: 204, nothing rendered.
    assert bob.get(reverse("vitals:banner") + f"?fp={fp}", headers=HTMX).status_code == 204
    # Another clinic's provider sees nothing, and cannot acknowledge it (404).
    frank = client_for(cast.frank)
    assert "192/124" not in frank.get(reverse("vitals:banner")).content.decode()
    url = reverse("vitals:acknowledge", kwargs={"alert_id": alert.public_id})
    assert frank.post(url, {"note": "x"}).status_code == 404
    # The MA may not acknowledge for the provider.
    client_for(cast.alice).post(url, {"note": "x"})
    alert.refresh_from_db()
    assert alert.status == "requested"
    bob.post(url, {"note": "coming"})
    alert.refresh_from_db()
    assert alert.status == "completed" and alert.note == "coming"
    assert "192/124" not in bob.get(reverse("vitals:banner")).content.decode()


def test_the_board_marks_the_alert_and_the_repeat_timer(cast):
    visit = roomed_visit(cast)
    save(client_for(cast.alice), visit, {"systolic": "184", "diastolic": "100"})
    html = client_for(cast.gwen).get(reverse("flow:board")).content.decode()
    assert "Critical: Blood pressure 184/100" in html
    assert "Repeat BP at" in html


def test_the_board_reads_alerts_in_constant_queries(cast):
    client = client_for(cast.alice)
    visits = [roomed_visit(cast, family=f"Pat{i}") for i in range(2)]
    save(client, visits[0], {"spo2": "84"})
    board = client_for(cast.gwen)
    with CaptureQueriesContext(connection) as few:
        board.get(reverse("flow:board"))
    more = [roomed_visit(cast, family=f"More{i}") for i in range(4)]
    for v in more:
        save(client, v, {"spo2": "85", "systolic": "150", "diastolic": "95"})
    with CaptureQueriesContext(connection) as many:
        board.get(reverse("flow:board"))
    assert len(many) == len(few)


def test_the_manager_sets_the_policy(cast):
    dana = client_for(cast.dana)
    assert dana.get(reverse("vitals:policy")).status_code == 200
    data = {
        "news2_total": "6",
        "news2_single_red": "on",
        "systolic": "175",
        "diastolic": "115",
        "spo2_below": "90",
        "temperature": "39.8",
        "pediatric_centiles": "on",
        "escalate_after": "7",
        "bp_repeat_after": "5",
    }
    assert dana.post(reverse("vitals:policy"), data).status_code == 302
    assert VitalsPolicy.objects.get(clinic=cast.north).escalate_after == 7
    bad = dana.post(reverse("vitals:policy"), {**data, "systolic": "20"})
    assert bad.status_code == 422
    assert client_for(cast.alice).get(reverse("vitals:policy")).status_code == 403


def test_the_alerts_page_reports_time_to_acknowledge(cast):
    visit = roomed_visit(cast)
    save(client_for(cast.alice), visit, {"spo2": "82"})
    alert = VitalAlert.objects.get()
    VitalAlert.objects.filter(pk=alert.pk).update(
        raised_at=alert.raised_at - dt.timedelta(seconds=90)
    )
    client_for(cast.bob).post(reverse("vitals:acknowledge", kwargs={"alert_id": alert.public_id}))
    html = client_for(cast.dana).get(reverse("vitals:alerts")).content.decode()
    assert "time to acknowledge" in html
    assert "Median 9" in html  # about 90 s


def test_trends_page_draws_the_patient_series(cast):
    visit = roomed_visit(cast)
    save(client_for(cast.alice), visit, {"weight_kg": "70.2", "heart_rate": "70"})
    response = client_for(cast.bob).get(
        reverse("vitals:trends", kwargs={"patient_id": visit.patient.public_id})
    )
    assert response.status_code == 200
    assert "<svg" in response.content.decode()


def test_marking_a_value_entered_in_error_from_the_flowsheet(cast):
    visit = roomed_visit(cast)
    alice = client_for(cast.alice)
    html = save(alice, visit, {"spo2": "84", "heart_rate": "80"}).content.decode()
    assert "Entered in error?" in html
    spo2 = VitalSign.objects.get(measure=Measure.SPO2)
    url = reverse("vitals:retract", kwargs={"sign_id": spo2.public_id})
    response = alice.post(url, {"reason": "probe slipped off"})
    assert response.status_code == 302 and "#step-vitals" in response["Location"]
    spo2.refresh_from_db()
    assert spo2.status == "entered-in-error" and "probe slipped off" in spo2.note
    assert VitalAlert.objects.get().status == "cancelled"
    page = alice.get(reverse("rooming:worklist", kwargs={"visit_id": visit.public_id}))
    html = page.content.decode()
    assert "<td>84%" not in html  # off the flowsheet
    assert "Alert cancelled: the value was entered in error" in html


def test_an_improbable_critical_value_says_confirming_will_alert_the_provider(cast):
    visit = roomed_visit(cast)
    asked = save(client_for(cast.alice), visit, {"spo2": "72"})
    html = asked.content.decode()
    assert 'name="confirm"' in html and not VitalSign.objects.exists()
    assert "Once confirmed, the provider is alerted at once: SpO2 72%" in html
