"""The FHIR R4 interactions: parse the request, call the selectors (which scope to the actor),
map to FHIR. Patient and AuditEvent searches each leave one entry in the audit trail."""

from collections.abc import Callable, Iterable
from typing import Any

from django.http import Http404, HttpRequest
from django.urls import reverse
from ninja import Router

from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action, Outcome
from medassist.audit.selectors import visible_audit_events
from medassist.audit.services import record
from medassist.fhir.capability import capability_statement
from medassist.fhir.mappers import audit_event as audit_event_mapper
from medassist.fhir.mappers import patient as patient_mapper
from medassist.fhir.outcome import FhirError
from medassist.fhir.search import (
    AUDIT_EVENT_PARAMS,
    PATIENT_PARAMS,
    Search,
    SearchParam,
    audit_event_condition,
    check_format,
    parse_search,
    patient_condition,
    uuid_or_none,
)
from medassist.patients.selectors import get_patient, visible_patients

router = Router()

FORM = "application/x-www-form-urlencoded"


def base_url(request: HttpRequest) -> str:
    """The service base URL ([base] in the FHIR spec), absolute, ending in a slash."""
    return request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")


def _pairs(query: Any) -> list[tuple[str, str]]:
    return [(name, value) for name, values in query.lists() for value in values]


def _lenient(request: HttpRequest) -> bool:
    # RFC 7240 Prefer header; R4 Search, 'Handling Errors': handling=strict | lenient.
    prefer = request.headers.get("Prefer", "").replace(" ", "").lower()
    return "handling=lenient" in prefer.split(",")


def _search_form(request: HttpRequest) -> list[tuple[str, str]]:
    """POST [type]/_search: the parameters of the query string and of the form body together
    (R4 http.html#search)."""
    if request.body and request.content_type != FORM:
        raise FhirError(415, f"POST _search takes a form body ({FORM}).")
    return _pairs(request.GET) + _pairs(request.POST)


def searchset(
    request: HttpRequest,
    resource_type: str,
    resources: list[dict[str, Any]],
    total: int,
    search: Search,
) -> dict[str, Any]:
    """A searchset Bundle (R4 bundle.html, http.html#search): the total, the page's entries
    with their full URLs, and self/next/previous links that repeat the search as a GET."""
    url = base_url(request) + resource_type
    links = [{"relation": "self", "url": f"{url}?{search.query_string(offset=search.offset)}"}]
    if search.count and search.offset + search.count < total:
        next_offset = search.offset + search.count
        links.append(
            {"relation": "next", "url": f"{url}?{search.query_string(offset=next_offset)}"}
        )
    if search.count and search.offset > 0:
        previous = max(0, min(search.offset, total) - search.count)
        links.append(
            {"relation": "previous", "url": f"{url}?{search.query_string(offset=previous)}"}
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if resources:
        bundle["entry"] = [
            {"fullUrl": f"{url}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ]
    return bundle


_GENERAL = [
    SearchParam("_count", "number", "", "Results per page (default 20, at most 100)."),
    SearchParam("_offset", "number", "", "How many results to skip."),
]
_FHIR_ANSWERS = {
    "responses": {
        status: {
            "description": description,
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
        for status, description in {
            200: "The resource, or a searchset Bundle",
            400: "OperationOutcome: a parameter that cannot be used, named",
            401: "OperationOutcome: no valid bearer token",
            403: "OperationOutcome: the user's role does not allow it",
            404: "OperationOutcome: no such resource (or not the user's to see)",
        }.items()
    }
}


def _parameters(params: dict[str, SearchParam]) -> dict[str, Any]:
    """The search parameters as OpenAPI query parameters, for the schema only: the API reads
    them from the query string itself (parse_search: strictly, with FHIR's prefixes, lists and
    repeats), not through ninja, so that every fault is an OperationOutcome naming it. Any of
    a resource's own parameters may be repeated (each must hold)."""
    repeatable = [
        {
            "name": p.name,
            "in": "query",
            "required": False,
            "description": p.documentation,
            "schema": {"type": "array", "items": {"type": "string"}},
            "style": "form",
            "explode": True,
        }
        for p in params.values()
    ]
    single = [
        {
            "name": p.name,
            "in": "query",
            "required": False,
            "description": p.documentation,
            "schema": {"type": "string"},
        }
        for p in _GENERAL
    ]
    return {"parameters": repeatable + single} | _FHIR_ANSWERS


def _form_body(params: dict[str, SearchParam]) -> dict[str, Any]:
    names = [*params, *(p.name for p in _GENERAL)]
    return {
        "requestBody": {
            "required": False,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "properties": {name: {"type": "string"} for name in names},
                    }
                }
            },
        }
    } | _FHIR_ANSWERS


# Capabilities ------------------------------------------------------------------------------


@router.get(
    "/metadata",
    auth=None,
    url_name="metadata",
    summary="CapabilityStatement",
    openapi_extra=_FHIR_ANSWERS,
)
def metadata(request: HttpRequest) -> dict[str, Any]:
    check_format(request.GET.get("_format", ""))
    return capability_statement(base_url(request))


# Patient -----------------------------------------------------------------------------------


def _search_patients(request: HttpRequest, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    if not can(actor, Permission.VIEW_PATIENT):
        record(
            actor,
            Action.SEARCH,
            "Patient.search",
            outcome=Outcome.DENIED,
            description="FHIR Patient search: the user's roles do not allow it",
        )
        raise FhirError(403, "Your role may not see patients.")
    search = parse_search(pairs, PATIENT_PARAMS, resource_type="Patient", lenient=_lenient(request))
    patients = (
        visible_patients(actor)
        .select_related("clinic")
        .filter(patient_condition(search))
        .order_by("family_key", "given_key", "id")
    )
    total = patients.count()
    page = list(patients[search.offset : search.offset + search.count]) if search.count else []
    record(
        actor,
        Action.SEARCH,
        "Patient.search",
        description=f"FHIR Patient search: {search.describe()}"[:500],
        entity_id=str(total),
    )
    return searchset(request, "Patient", [patient_mapper.to_fhir(p) for p in page], total, search)


@router.get(
    "/Patient",
    url_name="patient-search",
    summary="Search patients",
    openapi_extra=_parameters(PATIENT_PARAMS),
)
def search_patients_get(request: HttpRequest) -> dict[str, Any]:
    return _search_patients(request, _pairs(request.GET))


@router.post(
    "/Patient/_search",
    url_name="patient-search-post",
    summary="Search patients (form post)",
    openapi_extra=_form_body(PATIENT_PARAMS),
)
def search_patients_post(request: HttpRequest) -> dict[str, Any]:
    return _search_patients(request, _search_form(request))


@router.get(
    "/Patient/{id}", url_name="patient-read", summary="Read a patient", openapi_extra=_FHIR_ANSWERS
)
def read_patient(request: HttpRequest, id: str) -> dict[str, Any]:
    check_format(request.GET.get("_format", ""))
    public_id = uuid_or_none(id)
    if public_id is None:
        raise Http404  # a malformed id names no patient: the same answer as a missing one
    return patient_mapper.to_fhir(get_patient(request.actor, public_id))  # type: ignore[attr-defined]


# AuditEvent --------------------------------------------------------------------------------


def _search_audit_events(request: HttpRequest, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    # The role first: someone who may not read the trail learns nothing of it, not even which
    # of their parameters would have been refused.
    if not can(actor, Permission.VIEW_AUDIT):
        record(
            actor,
            Action.SEARCH,
            "AuditEvent.search",
            outcome=Outcome.DENIED,
            description="FHIR AuditEvent search: the user's roles do not allow it",
        )
        raise FhirError(403, "Your role may not read the audit trail.")
    search = parse_search(
        pairs, AUDIT_EVENT_PARAMS, resource_type="AuditEvent", lenient=_lenient(request)
    )
    events = (
        visible_audit_events(actor)
        .select_related("patient", "clinic")
        .filter(audit_event_condition(search))
        .order_by("-occurred_at", "-id")
    )
    total = events.count()
    page = list(events[search.offset : search.offset + search.count]) if search.count else []
    # Recorded after the page was read, so that this look is not in its own answer.
    record(
        actor,
        Action.SEARCH,
        "AuditEvent.search",
        description=f"FHIR AuditEvent search: {search.describe()}"[:500],
        entity_id=str(total),
    )
    resources = [audit_event_mapper.to_fhir(e) for e in page]
    return searchset(request, "AuditEvent", resources, total, search)


@router.get(
    "/AuditEvent",
    url_name="audit-event-search",
    summary="Search the audit trail",
    openapi_extra=_parameters(AUDIT_EVENT_PARAMS),
)
def search_audit_events_get(request: HttpRequest) -> dict[str, Any]:
    return _search_audit_events(request, _pairs(request.GET))


@router.post(
    "/AuditEvent/_search",
    url_name="audit-event-search-post",
    summary="Search the audit trail (form post)",
    openapi_extra=_form_body(AUDIT_EVENT_PARAMS),
)
def search_audit_events_post(request: HttpRequest) -> dict[str, Any]:
    return _search_audit_events(request, _search_form(request))


# Methods a path does not have: 405 with an Allow header (RFC 9110 section 15.5.6) ------------

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _refuse_other_methods(path: str, allowed: list[str], *, with_id: bool = False) -> None:
    def refuse(request: HttpRequest) -> None:
        raise FhirError(
            405,
            f"{request.method} is not supported on this URL; allowed: {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )

    def refuse_with_id(request: HttpRequest, id: str) -> None:
        refuse(request)

    view: Callable[..., None] = refuse_with_id if with_id else refuse
    # No authentication: that a method does not exist is no secret, and says nothing of data.
    router.api_operation(
        [m for m in _METHODS if m not in allowed], path, auth=None, include_in_schema=False
    )(view)


_refuse_other_methods("/metadata", ["GET"])
_refuse_other_methods("/Patient", ["GET"])
_refuse_other_methods("/Patient/_search", ["POST"])
_refuse_other_methods("/Patient/{id}", ["GET"], with_id=True)
_refuse_other_methods("/AuditEvent", ["GET"])
_refuse_other_methods("/AuditEvent/_search", ["POST"])
