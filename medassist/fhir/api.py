"""The FHIR R4 API (django-ninja): authentication by bearer token, FHIR JSON out, and every
error, ninja's own included, told as an OperationOutcome."""

import json
import logging
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import BaseRenderer
from ninja.security import HttpBearer

from medassist.access.actor import Actor
from medassist.access.middleware import actor_for_request, client_ip
from medassist.access.tokens import user_for_token
from medassist.audit.models import Action, Outcome
from medassist.audit.services import record
from medassist.fhir import (
    immunization_api,  # noqa: F401 (adds the Immunization routes to router)
    lab_api,  # noqa: F401 (adds ServiceRequest, Specimen, DiagnosticReport)
)
from medassist.fhir.outcome import ISSUE_TYPE_FOR_STATUS, FhirError, operation_outcome
from medassist.fhir.views import router

FHIR_JSON = "application/fhir+json"  # the FHIR JSON mime type (R4 http.html#mime-type)
REALM = "medassist"

logger = logging.getLogger(__name__)


class FhirJSONRenderer(BaseRenderer):
    media_type = FHIR_JSON

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        # R4 http.html: _pretty for human readers. Read from the raw query string: request.GET
        # may be the very thing that failed (too many fields) and is being reported.
        pretty = "_pretty=true" in request.META.get("QUERY_STRING", "").split("&")
        text = json.dumps(
            data,
            ensure_ascii=False,
            indent=2 if pretty else None,
            separators=None if pretty else (",", ":"),
        )
        # UTF-8, as FHIR JSON must be; a lone surrogate (never valid text) must not become a 500.
        return text.encode("utf-8", errors="replace")


class InvalidToken(AuthenticationError):
    """A token was sent and is not good: unknown, revoked, expired, or its user deactivated."""


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>` (RFC 6750). The token acts as its user: the request's
    actor has the user's clinics and roles, on the "api" channel of the audit trail."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is None:
            # A failed authentication is an auditable event (ONC 170.315(d)(2)); the token
            # itself is never written down, not even a wrong one (it may be a typo of a real one).
            anonymous = Actor.for_user(
                AnonymousUser(),
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                channel="api",
            )
            record(
                anonymous,
                Action.LOGIN_FAILED,
                "ApiToken",
                outcome=Outcome.FAILED,
                description="bearer token refused: unknown, revoked or expired, "
                "or its user deactivated",
            )
            raise InvalidToken()
        request.user = user
        request.actor = actor_for_request(request, channel="api")  # type: ignore[attr-defined]
        return user


api = NinjaAPI(
    title="medassist FHIR R4",
    version="4.0.1",
    description="FHIR R4 (4.0.1) API of the medassist clinic workstation. "
    "See /metadata for the CapabilityStatement.",
    urls_namespace="fhir",
    renderer=FhirJSONRenderer(),
    auth=BearerToken(),
)
api.add_router("", router)


def outcome_response(
    request: HttpRequest,
    status: int,
    diagnostics: str,
    *,
    code: str | None = None,
    expression: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(
        request,
        operation_outcome(
            diagnostics,
            code=code or ISSUE_TYPE_FOR_STATUS.get(status, "processing"),
            expression=expression,
        ),
        status=status,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(FhirError)
def _fhir_error(request: HttpRequest, exc: FhirError) -> HttpResponse:
    return outcome_response(
        request,
        exc.status,
        exc.diagnostics,
        code=exc.code,
        expression=exc.expression,
        headers=exc.headers,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    # RFC 6750 section 3: a challenge always; error="invalid_token" when a token was sent.
    challenge = f'Bearer realm="{REALM}"'
    if isinstance(exc, InvalidToken):
        return outcome_response(
            request,
            401,
            "The bearer token is not valid (unknown, revoked or expired).",
            headers={"WWW-Authenticate": challenge + ', error="invalid_token"'},
        )
    return outcome_response(
        request,
        401,
        "Authentication required: send `Authorization: Bearer <token>` "
        "(an administrator issues one with `medassist token USERNAME`).",
        headers={"WWW-Authenticate": challenge},
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # The same words whatever the reason (absent, or outside the user's clinics): an outsider
    # must not learn that a record exists.
    return outcome_response(request, 404, "Not found.")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return outcome_response(request, 403, str(exc) or "Your role does not allow this.")


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # ninja's own input checks: a bad parameter is the client's 400; a body that parses but
    # cannot be used is 422 (R4 http.html: 422 Unprocessable Entity).
    locations = [tuple(str(part) for part in e.get("loc", ())) for e in exc.errors]
    in_parameters = all(loc and loc[0] in ("query", "path", "header") for loc in locations)
    names = tuple(".".join(loc[1:]) or loc[0] for loc in locations if loc)
    messages = "; ".join(
        f"{name}: {e.get('msg', 'not valid')}" for name, e in zip(names, exc.errors, strict=False)
    )
    return outcome_response(
        request, 400 if in_parameters else 422, messages or "Not valid.", expression=names
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return outcome_response(request, exc.status_code, str(exc))


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    # Django's own limits (too many fields, too large a body): the client's error, as Django
    # answers it on pages.
    if isinstance(exc, RequestDataTooBig):
        return outcome_response(request, 413, "The request is too large.")
    return outcome_response(request, 400, "The request could not be read.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("FHIR API error on %s %s", request.method, request.path)
    return outcome_response(request, 500, "Internal error; it has been logged.")


@csrf_exempt
def unknown_route(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other URL under the base: an unknown resource type or interaction (R4 http.html:
    404 for a resource type the server does not support)."""
    return outcome_response(
        request, 404, "Unknown resource type or interaction; see metadata for what is served."
    )
