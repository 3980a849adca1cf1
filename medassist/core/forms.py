"""What every app's views share to answer a form: a service's ValidationError as messages by
field (those of no field under GENERAL, shown at the top of the form), and the safe "next"
address to go back to."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

GENERAL = "general"


def errors_by_field(exc: ValidationError) -> dict[str, list[str]]:
    """A service's refusal as {field: [messages]}; messages of no field under GENERAL."""
    if hasattr(exc, "error_dict"):
        return {
            (GENERAL if name == NON_FIELD_ERRORS else name): list(found)
            for name, found in exc.message_dict.items()
        }
    return {GENERAL: list(exc.messages)}


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Back where the user was (the form's or the query's `next`): a path on this site only,
    never another host (no open redirect)."""
    target = str(request.POST.get("next") or request.GET.get("next") or "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
