"""Second factor (ONC 170.315(d)(13)): time-based one-time codes (TOTP, RFC 6238) from an
authenticator app, through django-otp. Reads and display helpers; the writes (enrolling,
verifying, each audited) are in services.py."""

import base64
import time

import segno
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "Authenticator app"


def confirmed_device(user) -> TOTPDevice | None:  # type: ignore[no-untyped-def]
    """The user's enrolled authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def pending_device(user) -> TOTPDevice | None:  # type: ignore[no-untyped-def]
    """The authenticator being enrolled: shown as a QR code, not yet confirmed with a code."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI as a QR code in an SVG data: URI (the Content-Security-Policy allows
    images from data:, and nothing here needs script or inline style)."""
    return str(segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2))


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for an app that cannot scan (RFC 4648)."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# For tests, the browser tests and the demo: sign a user in with a second factor without a phone.


def confirmed_device_for(user) -> TOTPDevice:  # type: ignore[no-untyped-def]
    """The user's enrolled authenticator, enrolling one (without a code) when there is none.
    Never called by the application itself: a real enrolment goes through the setup page."""
    return confirmed_device(user) or TOTPDevice.objects.create(
        user=user, name=DEVICE_NAME, confirmed=True
    )


def current_code(device: TOTPDevice, *, at: float | None = None) -> str:
    """The code the user's authenticator app shows now (or at the Unix time `at`).
    django-otp refuses a code of a time step already used, so one code signs in once."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"
