"""Emergency access, "break the glass" (ONC 170.315(d)(6)): carol, a medical assistant of
South, opens a North chart when care cannot wait, with a reason; the grant and every read under
it are audited, and the grant runs out."""

import datetime as dt

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from medassist.access.mfa import confirmed_device_for
from medassist.audit.models import Action, AuditEvent
from medassist.core import clock
from medassist.patients.models import EmergencyAccess
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

REASON = "Patient collapsed in our waiting room; need allergies and medications"


@pytest.fixture
def north_patient(cast):
    return make_patient(cast.north, family="Okonkwo", given="Ada", birth_date=dt.date(1961, 7, 23))


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def break_the_glass(client, patient, *, reason=REASON, birth_date=None):  # type: ignore[no-untyped-def]
    return client.post(
        "/patients/emergency-access/",
        {
            "mrn": patient.mrn,
            "birth_date": (birth_date or patient.birth_date).isoformat(),
            "reason": reason,
        },
    )


def chart_url(patient) -> str:  # type: ignore[no-untyped-def]
    return f"/patients/{patient.public_id}/"


def test_carol_cannot_open_a_north_chart(cast, north_patient):
    assert signed_in(cast.carol).get(chart_url(north_patient)).status_code == 404


def test_carol_breaks_the_glass_and_the_chart_opens_marked_as_emergency_access(cast, north_patient):
    client = signed_in(cast.carol)
    response = break_the_glass(client, north_patient)
    assert response.status_code == 302 and response["Location"] == chart_url(north_patient)
    response = client.get(chart_url(north_patient))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Okonkwo" in body
    assert "Emergency access" in body and "North Family Medicine" in body
    assert "reported to compliance" in body  # the message after the grant


def test_the_grant_is_audited_with_the_reason(cast, north_patient):
    break_the_glass(signed_in(cast.carol), north_patient)
    event = AuditEvent.objects.get(action=Action.EMERGENCY_ACCESS)
    assert event.username == "carol"
    assert event.patient_id == north_patient.pk and event.clinic_id == cast.north.pk
    assert event.reason == REASON and event.outcome == "success"


def test_every_read_under_the_grant_is_audited(cast, north_patient):
    client = signed_in(cast.carol)
    break_the_glass(client, north_patient)
    client.get(chart_url(north_patient))
    client.get(chart_url(north_patient))
    reads = AuditEvent.objects.filter(
        action=Action.READ, username="carol", patient=north_patient, outcome="success"
    )
    assert reads.count() == 2


def test_every_read_under_the_grant_carries_its_reason(cast, north_patient):
    client = signed_in(cast.carol)
    break_the_glass(client, north_patient)
    client.get(chart_url(north_patient))
    read = AuditEvent.objects.get(action=Action.READ, username="carol", patient=north_patient)
    assert read.reason == f"emergency access: {REASON}"


def test_the_chart_of_her_own_patient_is_not_marked_as_emergency_access(cast):
    own = make_patient(cast.south, family="Southgate")
    body = signed_in(cast.carol).get(chart_url(own)).content.decode()
    assert "Southgate" in body and "Emergency access ·" not in body


@pytest.mark.parametrize(
    "reason", ["", "urgent", "   short   ", "a " * 4], ids=["empty", "one-word", "padded", "spaced"]
)
def test_a_missing_or_too_short_reason_is_a_form_error_and_grants_nothing(
    cast, north_patient, reason
):
    client = signed_in(cast.carol)
    response = break_the_glass(client, north_patient, reason=reason)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert not EmergencyAccess.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.EMERGENCY_ACCESS).exists()
    assert client.get(chart_url(north_patient)).status_code == 404


def test_a_wrong_mrn_and_birth_date_pair_is_a_form_error_and_grants_nothing(cast, north_patient):
    client = signed_in(cast.carol)
    response = break_the_glass(client, north_patient, birth_date=dt.date(1961, 7, 24))
    assert response.status_code == 200
    assert "No patient in your network has that MRN and date of birth" in (
        response.content.decode()
    )
    assert not EmergencyAccess.objects.exists()
    assert client.get(chart_url(north_patient)).status_code == 404


def test_the_grant_runs_out_and_the_chart_is_404_again(cast, north_patient, monkeypatch):
    break_the_glass(signed_in(cast.carol), north_patient)
    grant = EmergencyAccess.objects.get()
    later = grant.expires_at + dt.timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    # A new session: the old one would, rightly, have timed out hours ago.
    assert signed_in(cast.carol).get(chart_url(north_patient)).status_code == 404


def test_the_grant_lasts_the_configured_time(cast, north_patient, settings, monkeypatch):
    settings.EMERGENCY_ACCESS_MINUTES = 30
    granted = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: granted)
    break_the_glass(signed_in(cast.carol), north_patient)
    monkeypatch.setattr(clock, "now", lambda: granted + dt.timedelta(minutes=29))
    assert signed_in(cast.carol).get(chart_url(north_patient)).status_code == 200
    monkeypatch.setattr(clock, "now", lambda: granted + dt.timedelta(minutes=31))
    assert signed_in(cast.carol).get(chart_url(north_patient)).status_code == 404


def test_the_grant_is_for_carol_alone(cast, north_patient):
    break_the_glass(signed_in(cast.carol), north_patient)
    assert signed_in(cast.frank).get(chart_url(north_patient)).status_code == 404


def test_the_grant_opens_one_chart_only(cast, north_patient):
    other = make_patient(cast.north, family="Otherwise")
    client = signed_in(cast.carol)
    break_the_glass(client, north_patient)
    assert client.get(chart_url(other)).status_code == 404


def test_the_grant_does_not_let_carol_edit_the_chart(cast, north_patient):
    client = signed_in(cast.carol)
    break_the_glass(client, north_patient)
    assert client.get(f"{chart_url(north_patient)}edit/").status_code == 404


def test_the_auditor_whose_role_has_no_emergency_access_cannot_use_it(cast, north_patient):
    client = signed_in(cast.erin)
    session = client.session  # signed in with her second factor, as her role requires
    session[DEVICE_ID_SESSION_KEY] = confirmed_device_for(cast.erin).persistent_id
    session.save()
    response = break_the_glass(client, north_patient)
    assert response.status_code == 403
    assert not EmergencyAccess.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.EMERGENCY_ACCESS).exists()
    assert client.get(chart_url(north_patient)).status_code == 404
    assert client.get("/patients/emergency-access/").status_code == 403  # not even the form


def test_a_clinic_manager_whose_role_has_no_emergency_access_cannot_use_it(cast):
    south_patient = make_patient(cast.south, family="Southgate")
    response = break_the_glass(signed_in(cast.dana), south_patient)
    assert response.status_code == 403
    assert not EmergencyAccess.objects.exists()
