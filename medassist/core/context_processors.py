from django.conf import settings


def workstation(request):  # type: ignore[no-untyped-def]
    return {"idle_timeout_seconds": settings.IDLE_TIMEOUT_SECONDS}
