"""Signing in and out, each explicitly audited (ONC 170.315(d)(2): log-in, log-out, failures),
and the second factor (170.315(d)(13)): enrolling an authenticator app and entering its code."""

import math

import django_otp
from django.contrib.auth import login, logout
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from medassist.access import mfa
from medassist.access.middleware import actor_for_request
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record

MFA_ENTITY = "Session.mfa"


def start_session(request, user) -> None:  # type: ignore[no-untyped-def]
    """Log in; Django issues a new session key here (no session fixation)."""
    login(request, user)
    record(actor_for_request(request), Action.LOGIN, "Session")


def record_failed_login(request, username: str) -> None:  # type: ignore[no-untyped-def]
    record(
        actor_for_request(request),
        Action.LOGIN_FAILED,
        "Session",
        outcome=Outcome.FAILED,
        username=username[:150],
    )


def end_session(request, *, timed_out: bool = False) -> None:  # type: ignore[no-untyped-def]
    if request.user.is_authenticated:
        record(
            actor_for_request(request), Action.TIMEOUT if timed_out else Action.LOGOUT, "Session"
        )
    logout(request)


def begin_mfa_enrollment(request) -> TOTPDevice:  # type: ignore[no-untyped-def]
    """The authenticator app being enrolled: the same one on every visit until it is confirmed,
    so that reloading the page does not invalidate a QR code already scanned."""
    user = request.user
    if mfa.confirmed_device(user) is not None:
        # Enrolling a second device would let a stolen password replace the second factor.
        raise PermissionDenied("An authenticator app is already enrolled.")
    return mfa.pending_device(user) or TOTPDevice.objects.create(
        user=user, name=mfa.DEVICE_NAME, confirmed=False
    )


def confirm_mfa_enrollment(request, *, code: str) -> TOTPDevice:  # type: ignore[no-untyped-def]
    """Confirm the app with a code it shows; the session then counts as verified."""
    device = begin_mfa_enrollment(request)
    device, problem = _check_code(device, code)
    if problem:
        _record_mfa_failure(request, problem)
        raise ValidationError({"code": problem})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
        _mark_verified(request, device, "enrolled an authenticator app and entered its code")
    return device


def verify_second_factor(request, *, code: str) -> TOTPDevice:  # type: ignore[no-untyped-def]
    """After the password: the code of the enrolled app. Throttled by django-otp (each wrong
    code doubles the wait before the next try)."""
    device = mfa.confirmed_device(request.user)
    if device is None:
        raise ValidationError({"code": "No authenticator app is enrolled for this account."})
    device, problem = _check_code(device, code)
    if problem:
        _record_mfa_failure(request, problem)
        raise ValidationError({"code": problem})
    _mark_verified(request, device, "entered the code of the authenticator app")
    return device


def _check_code(device: TOTPDevice, code: str) -> tuple[TOTPDevice, str]:
    """The device as it is after the check (its throttle and last used time step change either
    way), and what is wrong with the code, or "" when it is right."""
    with transaction.atomic():
        # Locked, so that two requests cannot both use one code or both escape the throttle.
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, info = device.verify_is_allowed()
        if not allowed:
            locked_until = (info or {}).get("locked_until")
            wait = (
                max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
                if locked_until
                else None
            )
            return device, (
                f"Too many wrong codes. Wait {wait} seconds, then enter the code your app shows."
                if wait
                else "Codes cannot be checked for this account now. Ask your clinic manager."
            )
        if not device.verify_token(code):
            return device, (
                "That code is not right. Enter the code your authenticator app shows now "
                "(a code works once, for about 30 seconds)."
            )
    return device, ""


def _mark_verified(request, device: TOTPDevice, description: str) -> None:  # type: ignore[no-untyped-def]
    django_otp.login(request, device)
    # A new session key for the higher privilege, as at the password (no session fixation).
    request.session.cycle_key()
    record(actor_for_request(request), Action.LOGIN, MFA_ENTITY, description=description)


def _record_mfa_failure(request, problem: str) -> None:  # type: ignore[no-untyped-def]
    record(
        actor_for_request(request),
        Action.LOGIN_FAILED,
        MFA_ENTITY,
        outcome=Outcome.FAILED,
        description=problem,
    )
