"""Session safeguards of the HIPAA Security Rule 164.312 and ONC 170.315(d)."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from medassist.core import clock

EXEMPT_PREFIXES = ("/static/", "/healthz", "/fhir/")


def _exempt(request) -> bool:  # type: ignore[no-untyped-def]
    return request.path.startswith(EXEMPT_PREFIXES)


def page_path(request) -> str:  # type: ignore[no-untyped-def]
    """Where the user was: for an HTMX request the page it came from (sending the user back to
    a bare partial after signing in would show a fragment), otherwise the requested path."""
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.current_url_abs_path:
        return str(htmx.current_url_abs_path)
    return str(request.get_full_path())


def relogin_response(request, url: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    """Send the user to `url`; an HTMX request gets no data, only the instruction to go there
    (htmx follows HX-Redirect whatever the status; 401 keeps other clients from taking the
    empty body for content)."""
    if getattr(request, "htmx", False):
        return HttpResponse(status=401, headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)


class IdleTimeoutMiddleware:
    """Automatic access time-out (170.315(d)(5)): a session idle longer than
    IDLE_TIMEOUT_SECONDS is ended; the next request, page or HTMX, gets a log-in, never data.
    Requests marked as background polls (header X-Medassist-Poll) do not count as activity."""

    SESSION_KEY = "medassist_last_activity"
    ACTIVITY_GRANULARITY = 30

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request):  # type: ignore[no-untyped-def]
        if request.user.is_authenticated and not _exempt(request):
            now = clock.now().timestamp()
            last = request.session.get(self.SESSION_KEY, now)
            if now - last > settings.IDLE_TIMEOUT_SECONDS:
                from medassist.access.services import end_session

                next_path = page_path(request)
                end_session(request, timed_out=True)
                login = reverse("login") + "?" + urlencode({"next": next_path, "timeout": "1"})
                return relogin_response(request, login)
            # Activity is noted to within ACTIVITY_GRANULARITY seconds: writing the session on
            # every request would cost a database write per click for no gain in safety.
            fresh = now - last < self.ACTIVITY_GRANULARITY and self.SESSION_KEY in request.session
            if "HTTP_X_MEDASSIST_POLL" not in request.META and not fresh:
                request.session[self.SESSION_KEY] = now
        return self.get_response(request)


class RequireMFAMiddleware:
    """Multi-factor authentication (170.315(d)(13)): users whose role requires it, and users who
    enrolled a device, reach nothing but the MFA pages until they have entered a code."""

    ALLOWED = ("mfa-setup", "mfa-verify", "logout")

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request):  # type: ignore[no-untyped-def]
        user = request.user
        if user.is_authenticated and not _exempt(request) and not user.is_verified():
            from django_otp import user_has_device

            match = request.resolver_match or _resolve(request.path_info)
            if match is None or match.url_name not in self.ALLOWED:
                if user_has_device(user):
                    return relogin_response(request, _with_next("mfa-verify", request))
                if request.actor.mfa_required:
                    return relogin_response(request, _with_next("mfa-setup", request))
        return self.get_response(request)


def _with_next(url_name: str, request) -> str:  # type: ignore[no-untyped-def]
    return reverse(url_name) + "?" + urlencode({"next": page_path(request)})


def _resolve(path: str):  # type: ignore[no-untyped-def]
    from django.urls import Resolver404, resolve

    try:
        return resolve(path)
    except Resolver404:
        return None


class NoStoreMiddleware:
    """Pages and API answers may hold PHI: no browser or proxy may keep a copy."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request):  # type: ignore[no-untyped-def]
        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            response["Cache-Control"] = "no-store, private"
            response["Pragma"] = "no-cache"
        return response
