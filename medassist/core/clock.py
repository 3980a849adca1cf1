"""The one place the application asks what time it is (patchable in tests)."""

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def today() -> dt.date:
    return timezone.localdate(now())


def localtime(value: dt.datetime) -> dt.datetime:
    """`value` in the clinic's time zone (settings.TIME_ZONE), for display."""
    return timezone.localtime(value)
