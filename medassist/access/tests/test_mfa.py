"""Multi-factor authentication (ONC 170.315(d)(13)): erin, the compliance auditor, reaches
nothing until she has enrolled an authenticator app and entered its code; others may enroll."""

import base64
import re

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from medassist.access.mfa import confirmed_device_for, current_code
from medassist.audit.models import Action, AuditEvent
from medassist.core.testing import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, user, **kwargs):  # type: ignore[no-untyped-def]
    return client.post(
        "/account/login/", {"username": user.username, "password": DEMO_PASSWORD}, **kwargs
    )


def wrong_code(device) -> str:  # type: ignore[no-untyped-def]
    return f"{(int(current_code(device)) + 1) % 1_000_000:06d}"


def mfa_events(username: str, action: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(username=username, action=action, entity_type="Session.mfa")
    )


def test_erin_is_sent_to_set_up_her_app_after_her_password(client, cast):
    response = sign_in(client, cast.erin, follow=True)
    assert response.redirect_chain[-1][0].startswith("/account/mfa/setup/")
    assert response.status_code == 200
    assert "Set up your authenticator app" in response.content.decode()


def test_erin_cannot_open_the_audit_report_before_her_second_factor(client, cast):
    sign_in(client, cast.erin)
    response = client.get("/audit/")
    assert response.status_code == 302
    assert response["Location"] == "/account/mfa/setup/?next=%2Faudit%2F"
    assert client.get("/").status_code == 302


def test_an_htmx_request_from_unverified_erin_gets_401_and_only_a_redirect(client, cast):
    sign_in(client, cast.erin)
    response = client.get("/audit/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith("/account/mfa/setup/")
    assert response.content == b""


def test_the_setup_page_shows_a_qr_code_and_the_key_of_a_new_unconfirmed_device(client, cast):
    sign_in(client, cast.erin)
    body = client.get("/account/mfa/setup/").content.decode()
    device = TOTPDevice.objects.get(user=cast.erin)
    assert not device.confirmed
    assert 'src="data:image/svg+xml' in body
    shown = re.search(r'<code id="mfa-secret">([A-Z2-7 ]+)</code>', body)
    assert shown is not None
    secret = shown.group(1)
    assert base64.b32decode(secret.replace(" ", "")) == device.bin_key


def test_the_setup_page_has_no_inline_script_or_style(client, cast):
    # The Content-Security-Policy forbids both; the browser would refuse them.
    sign_in(client, cast.erin)
    body = client.get("/account/mfa/setup/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert "style=" not in body and "<style" not in body


def test_reloading_the_setup_page_keeps_the_key_already_scanned(client, cast):
    sign_in(client, cast.erin)
    client.get("/account/mfa/setup/")
    client.get("/account/mfa/setup/")
    assert TOTPDevice.objects.filter(user=cast.erin).count() == 1


def test_erin_enrolls_with_a_code_from_her_app_and_reaches_the_audit_report(client, cast):
    sign_in(client, cast.erin)
    client.get("/account/mfa/setup/?next=/audit/")
    device = TOTPDevice.objects.get(user=cast.erin)
    response = client.post("/account/mfa/setup/", {"code": current_code(device), "next": "/audit/"})
    assert response.status_code == 302 and response["Location"] == "/audit/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/audit/").status_code == 200
    [event] = mfa_events("erin", Action.LOGIN)
    assert event.outcome == "success" and "enrolled" in event.description


def test_a_wrong_code_at_setup_is_refused_with_a_message_and_audited(client, cast):
    sign_in(client, cast.erin)
    client.get("/account/mfa/setup/")
    device = TOTPDevice.objects.get(user=cast.erin)
    response = client.post("/account/mfa/setup/", {"code": wrong_code(device)})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/audit/").status_code == 302
    [failure] = mfa_events("erin", Action.LOGIN_FAILED)
    assert failure.outcome == "failed"


def test_something_that_is_not_a_code_is_a_form_error(client, cast):
    sign_in(client, cast.erin)
    response = client.post("/account/mfa/setup/", {"code": "12ab"})
    assert "Enter the 6 digits" in response.content.decode()


def test_erin_with_an_app_enters_her_code_after_her_password(client, cast):
    device = confirmed_device_for(cast.erin)
    response = sign_in(client, cast.erin, follow=True)
    assert response.redirect_chain[-1][0].startswith("/account/mfa/verify/")
    assert client.get("/audit/")["Location"] == "/account/mfa/verify/?next=%2Faudit%2F"
    response = client.post(
        "/account/mfa/verify/", {"code": current_code(device), "next": "/audit/"}
    )
    assert response["Location"] == "/audit/"
    assert client.get("/audit/").status_code == 200
    [event] = mfa_events("erin", Action.LOGIN)
    assert event.outcome == "success"


def test_a_wrong_code_is_refused_with_a_clear_message_and_audited(client, cast):
    device = confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    response = client.post("/account/mfa/verify/", {"code": wrong_code(device)})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert client.get("/audit/").status_code == 302
    assert len(mfa_events("erin", Action.LOGIN_FAILED)) == 1


def test_after_a_wrong_code_the_right_one_lets_her_in(client, cast, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no wait between tries; the wait is tested below
    device = confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    client.post("/account/mfa/verify/", {"code": wrong_code(device)})
    client.post("/account/mfa/verify/", {"code": current_code(device)})
    assert client.get("/audit/").status_code == 200


def test_wrong_codes_in_a_row_make_her_wait_even_for_the_right_one(client, cast):
    device = confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    client.post("/account/mfa/verify/", {"code": wrong_code(device)})
    response = client.post("/account/mfa/verify/", {"code": current_code(device)})
    assert "Too many wrong codes. Wait" in response.content.decode()
    assert client.get("/audit/").status_code == 302
    assert len(mfa_events("erin", Action.LOGIN_FAILED)) == 2


def test_a_code_signs_in_only_once(cast):
    device = confirmed_device_for(cast.erin)
    code = current_code(device)
    first, second = Client(), Client()
    sign_in(first, cast.erin)
    sign_in(second, cast.erin)
    first.post("/account/mfa/verify/", {"code": code})
    response = second.post("/account/mfa/verify/", {"code": code})
    assert "That code is not right" in response.content.decode()
    assert first.get("/audit/").status_code == 200
    assert second.get("/audit/").status_code == 302


def test_the_second_factor_gives_a_new_session_key(client, cast):
    device = confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    before = client.session.session_key
    client.post("/account/mfa/verify/", {"code": current_code(device)})
    assert client.session.session_key != before


def test_a_password_alone_cannot_enroll_a_second_app_in_place_of_the_first(client, cast):
    confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    response = client.get("/account/mfa/setup/")
    assert response["Location"].startswith("/account/mfa/verify/")
    response = client.post("/account/mfa/setup/", {"code": "123456"})
    assert response["Location"].startswith("/account/mfa/verify/")
    assert TOTPDevice.objects.filter(user=cast.erin).count() == 1
    assert client.get("/audit/").status_code == 302


def test_erin_can_sign_out_before_entering_her_code(client, cast):
    confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    assert client.post("/account/logout/")["Location"] == "/account/login/"
    assert client.get("/account/mfa/verify/")["Location"].startswith("/account/login/")


def test_signing_in_again_asks_for_the_code_again(client, cast):
    device = confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    client.post("/account/mfa/verify/", {"code": current_code(device)})
    client.post("/account/logout/")
    sign_in(client, cast.erin)
    assert client.get("/audit/")["Location"].startswith("/account/mfa/verify/")


def test_alice_needs_no_second_factor_but_may_enroll_one(client, cast):
    sign_in(client, cast.alice)
    assert client.get("/").status_code == 200
    assert client.get("/account/mfa/verify/")["Location"].startswith("/account/mfa/setup/")
    client.get("/account/mfa/setup/")
    device = TOTPDevice.objects.get(user=cast.alice)
    client.post("/account/mfa/setup/", {"code": current_code(device)})
    assert client.get("/").status_code == 200
    client.post("/account/logout/")
    sign_in(client, cast.alice)
    assert client.get("/")["Location"].startswith("/account/mfa/verify/")


def test_the_next_page_after_the_code_is_never_another_site(client, cast):
    device = confirmed_device_for(cast.erin)
    sign_in(client, cast.erin)
    response = client.post(
        "/account/mfa/verify/", {"code": current_code(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
