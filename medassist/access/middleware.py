from django.utils.functional import SimpleLazyObject

from medassist.access.actor import Actor


def client_ip(request) -> str | None:  # type: ignore[no-untyped-def]
    # REMOTE_ADDR only: X-Forwarded-For is set by whoever sends the request. A clinic running
    # behind a proxy configures the proxy to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or None


def actor_for_request(request, channel: str = "web") -> Actor:  # type: ignore[no-untyped-def]
    return Actor.for_user(
        request.user,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        channel=channel,
    )


class ActorMiddleware:
    """request.actor: the user with their clinics and roles, loaded at most once per request."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request):  # type: ignore[no-untyped-def]
        request.actor = SimpleLazyObject(lambda: actor_for_request(request))
        return self.get_response(request)
