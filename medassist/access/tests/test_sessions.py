"""Sessions (ONC 170.315(d)(1), (d)(5); HIPAA 164.312(a)(2)(iii)): a new session at sign-in,
an end at sign-out, and an automatic end after a period of inactivity."""

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from medassist.audit.models import Action, AuditEvent
from medassist.core.testing import DEMO_PASSWORD
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db

IDLE = 15 * 60


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch, settings):
    settings.IDLE_TIMEOUT_SECONDS = IDLE
    fake = FakeClock()
    monkeypatch.setattr("medassist.core.clock.now", lambda: fake.now)
    return fake


def sign_in(client, user, password=DEMO_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/account/login/", {"username": user.username, "password": password})


def session_cookie(client) -> str:  # type: ignore[no-untyped-def]
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


# Sign-in and sign-out


def test_signing_in_issues_a_new_session_key(client, cast):
    # A session key planted before sign-in (session fixation) is worth nothing after it.
    session = client.session
    session["planted"] = True
    session.save()
    before = session_cookie(client)
    response = sign_in(client, cast.alice)
    assert response.status_code == 302
    assert session_cookie(client) != before
    assert not SessionStore().exists(before)
    assert client.get("/").status_code == 200


def test_signing_in_is_audited(client, cast):
    sign_in(client, cast.alice)
    event = AuditEvent.objects.get(action=Action.LOGIN, username="alice")
    assert event.entity_type == "Session" and event.outcome == "success"


def test_a_wrong_password_is_audited_as_a_failed_sign_in(client, cast):
    response = sign_in(client, cast.alice, password="not-her-password")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.username == "alice" and event.outcome == "failed"


def test_signing_out_ends_the_session_and_is_audited(client, cast):
    sign_in(client, cast.alice)
    key = session_cookie(client)
    response = client.post("/account/logout/")
    assert response.status_code == 302 and response["Location"] == "/account/login/"
    assert not SessionStore().exists(key)
    assert client.get("/")["Location"].startswith("/account/login/")
    assert AuditEvent.objects.filter(action=Action.LOGOUT, username="alice").count() == 1


def test_signing_out_takes_a_post_so_a_link_or_image_cannot_do_it(client, cast):
    sign_in(client, cast.alice)
    assert client.get("/account/logout/").status_code == 405
    assert client.get("/").status_code == 200
    assert not AuditEvent.objects.filter(action=Action.LOGOUT).exists()


# Automatic time-out


def test_a_page_after_the_idle_time_sends_to_sign_in_and_is_audited(client, cast, clock):
    patient = make_patient(cast.north, family="Idlewild")
    sign_in(client, cast.alice)
    client.get("/")
    clock.advance(seconds=IDLE + 1)
    chart = f"/patients/{patient.public_id}/"
    response = client.get(chart)
    assert response.status_code == 302
    assert (
        response["Location"]
        == f"/account/login/?next=%2Fpatients%2F{patient.public_id}%2F&timeout=1"
    )
    event = AuditEvent.objects.get(action=Action.TIMEOUT)
    assert event.username == "alice" and event.entity_type == "Session"
    assert not AuditEvent.objects.filter(action=Action.READ, patient=patient).exists()
    # The session is over: without signing in again, nothing opens.
    assert client.get(chart)["Location"].startswith("/account/login/")


def test_the_sign_in_page_says_why_after_a_time_out(client, cast, clock):
    sign_in(client, cast.alice)
    client.get("/")
    clock.advance(seconds=IDLE + 1)
    response = client.get("/", follow=True)
    assert "signed out after a period of inactivity" in response.content.decode()


def test_an_htmx_request_after_the_idle_time_gets_401_and_no_patient_data(client, cast, clock):
    make_patient(cast.north, family="Idlewild", given="Josephine")
    sign_in(client, cast.alice)
    client.get("/")
    clock.advance(seconds=IDLE + 1)
    response = client.get(
        "/patients/search/",
        {"q": "idlewild"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/patients/search/"},
    )
    assert response.status_code == 401
    assert response.content == b""
    assert "Idlewild" not in str(response.headers)
    # Back to the page the request came from, not to a bare partial.
    assert response["HX-Redirect"] == "/account/login/?next=%2Fpatients%2Fsearch%2F&timeout=1"
    assert AuditEvent.objects.filter(action=Action.TIMEOUT).count() == 1
    assert not AuditEvent.objects.filter(action=Action.SEARCH).exists()


def test_activity_within_the_idle_time_keeps_the_session(client, cast, clock):
    sign_in(client, cast.alice)
    for _ in range(4):
        client.get("/")
        clock.advance(seconds=IDLE - 10)
    assert client.get("/").status_code == 200
    assert not AuditEvent.objects.filter(action=Action.TIMEOUT).exists()


def test_the_idle_time_is_counted_from_the_last_request_not_from_sign_in(client, cast, clock):
    sign_in(client, cast.alice)
    client.get("/")
    clock.advance(seconds=IDLE)
    assert client.get("/").status_code == 200  # exactly at the limit: still in
    clock.advance(seconds=IDLE + 1)
    assert client.get("/").status_code == 302


def test_clicks_in_quick_succession_do_not_rewrite_the_session_each_time(client, cast, clock):
    sign_in(client, cast.alice)
    client.get("/")
    noted = client.session["medassist_last_activity"]
    clock.advance(seconds=20)
    client.get("/")
    assert client.session["medassist_last_activity"] == noted  # within 30 s: not written again
    clock.advance(seconds=20)
    client.get("/")
    assert client.session["medassist_last_activity"] == noted + 40
    # The idle time still runs from a moment at most 30 s before the last request.
    clock.advance(seconds=IDLE - 1)
    assert client.get("/").status_code == 200


def test_background_polls_do_not_keep_an_idle_session_alive(client, cast, clock):
    sign_in(client, cast.alice)
    client.get("/")
    clock.advance(seconds=IDLE - 60)
    assert client.get("/", headers={"X-Medassist-Poll": "1"}).status_code == 200
    clock.advance(seconds=120)
    assert client.get("/")["Location"].startswith("/account/login/?next=%2F&timeout=1")


def test_a_poll_after_the_idle_time_is_itself_timed_out(client, cast, clock):
    sign_in(client, cast.alice)
    client.get("/")
    clock.advance(seconds=IDLE + 1)
    response = client.get("/", headers={"X-Medassist-Poll": "1", "HX-Request": "true"})
    assert response.status_code == 401 and response.content == b""


def test_time_outs_are_per_session(cast, clock):
    idle, busy = Client(), Client()
    sign_in(idle, cast.alice)
    sign_in(busy, cast.bob)
    idle.get("/")
    busy.get("/")
    clock.advance(seconds=IDLE - 10)
    busy.get("/")
    clock.advance(seconds=20)
    assert idle.get("/").status_code == 302
    assert busy.get("/").status_code == 200
