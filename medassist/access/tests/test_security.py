"""The security baseline (ONC 170.315(d)(1), HIPAA 164.312): lock-out after repeated failed
sign-ins, password hashing, CSRF protection and the response headers that keep PHI in its page."""

import pytest
from django.conf import global_settings
from django.test import Client

import config.settings
from medassist.audit.models import Action, AuditEvent
from medassist.core.testing import DEMO_PASSWORD
from medassist.patients.models import EmergencyAccess
from medassist.patients.tests.factories import make_patient

pytestmark = pytest.mark.django_db


def sign_in(client, username: str, password: str = DEMO_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/account/login/", {"username": username, "password": password})


# Lock-out


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(client, cast):
    statuses = [sign_in(client, "alice", "wrong-password").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks at once
    response = sign_in(client, "alice")
    assert response.status_code == 429
    assert "Account locked" in response.content.decode()
    assert client.get("/")["Location"].startswith("/account/login/")  # not signed in
    failures = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, username="alice")
    assert failures.count() == 6  # the five wrong passwords and the refused right one
    assert not AuditEvent.objects.filter(action=Action.LOGIN, username="alice").exists()


def test_four_wrong_passwords_do_not_lock_the_account(client, cast):
    for _ in range(4):
        sign_in(client, "alice", "wrong-password")
    assert sign_in(client, "alice").status_code == 302


def test_the_lock_is_per_account_so_a_colleague_at_the_same_address_signs_in(cast):
    attacker = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(5):
        sign_in(attacker, "alice", "wrong-password")
    colleague = Client(REMOTE_ADDR="10.0.0.7")
    assert sign_in(colleague, "bob").status_code == 302
    assert colleague.get("/").status_code == 200
    # ...while alice stays locked from any address.
    assert sign_in(Client(REMOTE_ADDR="10.0.0.8"), "alice").status_code == 429


# Password storage


def test_passwords_are_hashed_with_djangos_default_pbkdf2_in_production():
    # The test suite swaps in a fast hasher (conftest.py); the application must not override
    # Django's default, PBKDF2-SHA256 (NIST SP 800-132).
    assert not hasattr(config.settings, "PASSWORD_HASHERS")
    assert global_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"


# CSRF


def test_a_sign_in_post_without_a_csrf_token_is_refused(cast):
    client = Client(enforce_csrf_checks=True)
    assert sign_in(client, "alice").status_code == 403
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()


def test_a_sign_in_post_with_the_csrf_token_of_the_page_works(cast):
    client = Client(enforce_csrf_checks=True)
    client.get("/account/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/account/login/",
        {"username": "alice", "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_a_signed_in_post_without_a_csrf_token_is_refused_and_changes_nothing(cast):
    patient = make_patient(cast.north)
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.carol)
    response = client.post(
        "/patients/emergency-access/",
        {
            "mrn": patient.mrn,
            "birth_date": patient.birth_date.isoformat(),
            "reason": "Patient collapsed in our waiting room",
        },
    )
    assert response.status_code == 403
    assert not EmergencyAccess.objects.exists()


def test_signing_out_without_a_csrf_token_is_refused(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.alice)
    assert client.post("/account/logout/").status_code == 403
    assert client.get("/").status_code == 200


def test_an_htmx_post_without_the_csrf_header_is_refused(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.alice)
    response = client.post("/patients/new/", {}, headers={"HX-Request": "true"})
    assert response.status_code == 403


# Headers


@pytest.fixture
def chart_response(client, cast):
    patient = make_patient(cast.north)
    client.force_login(cast.alice)
    response = client.get(f"/patients/{patient.public_id}/")
    assert response.status_code == 200
    return response


def test_the_content_security_policy_allows_no_inline_script_or_style(chart_response):
    policy = chart_response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_pages_cannot_be_framed(chart_response):
    assert chart_response["X-Frame-Options"] == "DENY"


def test_a_chart_is_never_stored_by_the_browser_or_a_proxy(chart_response):
    assert chart_response["Cache-Control"].startswith("no-store")
    assert "private" in chart_response["Cache-Control"]


def test_content_types_are_not_sniffed(chart_response):
    assert chart_response["X-Content-Type-Options"] == "nosniff"


def test_the_sign_in_page_has_the_same_headers(client):
    response = client.get("/account/login/")
    assert response.status_code == 200
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"].startswith("no-store")
    assert response["Referrer-Policy"] == "same-origin"


def test_the_session_cookie_is_out_of_reach_of_scripts_and_other_sites(client, cast):
    sign_in(client, "alice")
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
