from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def verified_client(user) -> Client:  # type: ignore[no-untyped-def]
    """A browser signed in as `user` with the second factor entered (the auditor's and the
    administrator's roles require MFA; a middleware sends everyone else to set it up)."""
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
