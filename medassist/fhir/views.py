"""The FHIR R4 interactions: parse the request, call the selectors (which scope to the actor),
map to FHIR. Every read and every search leaves one entry in the audit trail."""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Router

from medassist.access.permissions import Permission
from medassist.access.policies import can
from medassist.audit.models import Action, Outcome
from medassist.audit.selectors import visible_audit_events
from medassist.audit.services import record
from medassist.clinics.models import Membership
from medassist.core import clock
from medassist.encounters.selectors import visible_encounters
from medassist.fhir.capability import capability_statement
from medassist.fhir.mappers import audit_event as audit_event_mapper
from medassist.fhir.mappers import observation as observation_mapper
from medassist.fhir.mappers import patient as patient_mapper
from medassist.fhir.mappers import practitioner as practitioner_mapper
from medassist.fhir.mappers import schedule as schedule_mapper
from medassist.fhir.mappers import vital_sign as vital_sign_mapper
from medassist.fhir.outcome import FhirError, bad_parameter
from medassist.fhir.resources import (
    KINDS,
    OBSERVATION_PARAMS,
    QUESTIONNAIRE_RESPONSE_CONDITIONS,
    QUESTIONNAIRE_RESPONSE_PARAMS,
    SCHEDULE_PARAMS,
    SCREENING_CONDITIONS,
    SLOT_DAYS,
    SLOT_PARAMS,
    SMOKING_CONDITIONS,
    VITAL_SIGN_CONDITIONS,
    Kind,
    staff_pks_for,
)
from medassist.fhir.search import (
    AUDIT_EVENT_PARAMS,
    PATIENT_PARAMS,
    Search,
    SearchParam,
    all_of,
    audit_event_condition,
    check_format,
    parse_date_value,
    parse_search,
    patient_condition,
    shown,
    split_token,
    split_unescaped,
    uuid_or_none,
)
from medassist.fhir.selectors import (
    get_patient_record,
    get_practitioner,
    get_schedule,
    visible_schedules,
    visible_screenings,
    visible_smoking_statuses,
    visible_vital_signs,
)
from medassist.fhir.vitals_in import Posted, parse_observation, read_json, refusal, validate
from medassist.fhir.vitals_in import with_prefix as _with_prefix
from medassist.patients.selectors import get_patient, visible_patients
from medassist.scheduling import slots
from medassist.scheduling.selectors import calendar as scheduling_calendar
from medassist.vitals.models import VitalSign
from medassist.vitals.services import record_vitals

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


def _parameters(params: Mapping[str, SearchParam]) -> dict[str, Any]:
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


def _form_body(params: Mapping[str, SearchParam]) -> dict[str, Any]:
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


def _search_routes(
    name: str,
    url_name: str,
    summary: str,
    params: Any,
    search: Callable[[HttpRequest, Iterable[tuple[str, str]]], dict[str, Any]],
) -> None:
    """A search by GET /{name}?... and by POST /{name}/_search (form body), as FHIR R4 Search
    defines both, answered by the same `search` over the parameters."""
    slug = url_name.replace("-", "_")

    def search_get(request: HttpRequest) -> dict[str, Any]:
        return search(request, _pairs(request.GET))

    def search_post(request: HttpRequest) -> dict[str, Any]:
        return search(request, _search_form(request))

    router.get(
        f"/{name}",
        url_name=f"{url_name}-search",
        operation_id=f"search_{slug}",
        summary=summary,
        openapi_extra=_parameters(params),
    )(search_get)
    router.post(
        f"/{name}/_search",
        url_name=f"{url_name}-search-post",
        operation_id=f"search_{slug}_post",
        summary=f"{summary} (form post)",
        openapi_extra=_form_body(params),
    )(search_post)


_search_routes("Patient", "patient", "Search patients", PATIENT_PARAMS, _search_patients)


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


_search_routes(
    "AuditEvent", "audit-event", "Search the audit trail", AUDIT_EVENT_PARAMS, _search_audit_events
)


# Clinical resources (resources.py): read and search, each the same way -------------------


def _record_search(
    actor: Any, resource_type: str, search: Search, page: list[Any], total: int
) -> None:
    """One entry for the search, recorded after the page was read. It names the patient when the
    page is one patient's records (the usual search, patient=<id>), so that the patient's
    accounting of disclosures shows it."""
    patients = {row.patient_id: row.patient for row in page}
    record(
        actor,
        Action.SEARCH,
        f"{resource_type}.search",
        patient=next(iter(patients.values())) if len(patients) == 1 else None,
        description=f"FHIR {resource_type} search: {search.describe()}"[:500],
        entity_id=str(total),
    )


def _may_search(request: HttpRequest, resource_type: str, perm: Permission, noun: str) -> Any:
    """The actor, if their roles allow searching `resource_type` at all; otherwise the denial
    is recorded and the answer is 403 naming what they may not see."""
    actor = request.actor  # type: ignore[attr-defined]
    if not can(actor, perm):
        record(
            actor,
            Action.SEARCH,
            f"{resource_type}.search",
            outcome=Outcome.DENIED,
            description=f"FHIR {resource_type} search: the user's roles do not allow it",
        )
        raise FhirError(403, f"Your role may not see {noun}.")
    return actor


def _search_kind(
    request: HttpRequest, kind: Kind, pairs: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    actor = _may_search(request, kind.name, kind.permission, kind.noun)
    search = parse_search(pairs, kind.params, resource_type=kind.name, lenient=_lenient(request))
    rows = kind.scoped(actor).filter(all_of(search, kind.conditions)).order_by(*kind.order)
    total = rows.count()
    page = list(rows[search.offset : search.offset + search.count]) if search.count else []
    _record_search(actor, kind.name, search, page, total)
    return searchset(request, kind.name, [kind.to_fhir(row) for row in page], total, search)


def _read_kind(request: HttpRequest, kind: Kind, id: str) -> dict[str, Any]:
    check_format(request.GET.get("_format", ""))
    public_id = uuid_or_none(id)
    if public_id is None:
        raise Http404  # a malformed id names nothing: the same answer as a missing one
    actor = request.actor  # type: ignore[attr-defined]
    matching = kind.scoped(actor).filter(public_id=public_id)
    return kind.to_fhir(get_patient_record(actor, matching, str(public_id), audit_as=kind.name))


def _register(kind: Kind) -> None:
    name, slug = kind.name, kind.name.lower()

    def read(request: HttpRequest, id: str) -> dict[str, Any]:
        return _read_kind(request, kind, id)

    _search_routes(
        name,
        slug,
        f"Search {kind.noun}",
        kind.params,
        lambda request, pairs: _search_kind(request, kind, pairs),
    )
    router.get(
        f"/{name}/{{id}}",
        url_name=f"{slug}-read",
        operation_id=f"read_{slug}",
        summary=f"Read one of the {kind.noun}",
        openapi_extra=_FHIR_ANSWERS,
    )(read)


for _kind in KINDS.values():
    _register(_kind)


# Practitioner ------------------------------------------------------------------------------


@router.get(
    "/Practitioner/{id}",
    url_name="practitioner-read",
    summary="Read a practitioner (a staff member named by a visit or booking)",
    openapi_extra=_FHIR_ANSWERS,
)
def read_practitioner(request: HttpRequest, id: str) -> dict[str, Any]:
    check_format(request.GET.get("_format", ""))
    return practitioner_mapper.to_fhir(get_practitioner(request.actor, id))  # type: ignore[attr-defined]


# Schedule and Slot ---------------------------------------------------------------------------


def _id_of(value: str, resource_type: str) -> str:
    _, slash, tail = value.rpartition(f"{resource_type}/")
    return "" if not slash and "/" in value else tail


def _search_schedules(request: HttpRequest, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    actor = _may_search(request, "Schedule", Permission.VIEW_SCHEDULE, "the schedule")
    search = parse_search(
        pairs, SCHEDULE_PARAMS, resource_type="Schedule", lenient=_lenient(request)
    )
    provider_pks: list[int] | None = None
    for value in search.criteria.get("actor", []):
        wanted = {_id_of(v, "Practitioner") for v in split_unescaped(value, ",")}
        pks = set(staff_pks_for(wanted - {""}))
        provider_pks = sorted(pks if provider_pks is None else pks & set(provider_pks))
    groups = visible_schedules(actor, provider_pks)
    for value in search.criteria.get("_id", []):
        ids = set(split_unescaped(value, ","))
        groups = [g for g in groups if g.id in ids]
    page = groups[search.offset : search.offset + search.count]
    record(
        actor,
        Action.SEARCH,
        "Schedule.search",
        description=f"FHIR Schedule search: {search.describe()}"[:500],
        entity_id=str(len(groups)),
    )
    today = clock.today()
    resources = [schedule_mapper.schedule_to_fhir(g, today) for g in page]
    return searchset(request, "Schedule", resources, len(groups), search)


_search_routes("Schedule", "schedule", "Search schedules", SCHEDULE_PARAMS, _search_schedules)


@router.get(
    "/Schedule/{id}",
    url_name="schedule-read",
    summary="Read a schedule",
    openapi_extra=_FHIR_ANSWERS,
)
def read_schedule(request: HttpRequest, id: str) -> dict[str, Any]:
    check_format(request.GET.get("_format", ""))
    group = get_schedule(request.actor, id)  # type: ignore[attr-defined]
    return schedule_mapper.schedule_to_fhir(group, clock.today())


_LAST_YEAR = 9000


def _slot_window(
    values: list[str],
) -> tuple[dt.datetime, dt.datetime, list[Callable[[dt.datetime], bool]]]:
    """The stretch of time a Slot search computes, from its start= values, and the test each
    value puts to a slot's start."""
    low = dt.datetime.combine(clock.today(), dt.time.min, tzinfo=timezone.get_current_timezone())
    low, high = low.astimezone(dt.UTC), None
    tests: list[Callable[[dt.datetime], bool]] = []
    for value in values:
        prefix, span = parse_date_value("start", value, with_time=True)
        if prefix == "ne":
            raise bad_parameter("start", "the prefix ne is not supported here (use gt ge lt le eq)")
        if prefix in ("eq", "ge"):
            low = max(low, span.low)
        if prefix == "gt" and span.high is not None:
            low = max(low, span.high)
        if prefix in ("eq", "le") and span.high is not None:
            high = span.high if high is None else min(high, span.high)
        if prefix == "lt":
            high = span.low if high is None else min(high, span.low)
        tests.append(_meets(prefix, span))
    if low.year >= _LAST_YEAR:  # no schedule runs that far; spares the calendar's overflow
        return low, low, tests
    if high is None:
        high = low + dt.timedelta(days=7)
    if high - low > dt.timedelta(days=SLOT_DAYS):
        raise bad_parameter("start", f"a Slot search covers at most {SLOT_DAYS} days")
    return low, high, tests


def _meets(prefix: str, span: Any) -> Callable[[dt.datetime], bool]:
    """Whether a start meets `prefix` against the range, as date_condition() says it for the
    database (R4 Search, 'date')."""
    high = span.high
    return {
        "eq": lambda at: span.low <= at and (high is None or at < high),
        "ge": lambda at: span.low <= at,
        "gt": lambda at: high is not None and high <= at,
        "le": lambda at: high is None or at < high,
        "lt": lambda at: at < span.low,
    }[prefix]


def _search_slots(request: HttpRequest, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    actor = _may_search(request, "Slot", Permission.VIEW_SCHEDULE, "the schedule")
    search = parse_search(pairs, SLOT_PARAMS, resource_type="Slot", lenient=_lenient(request))
    schedules = search.criteria.get("schedule", [])
    if len(schedules) != 1 or "," in schedules[0]:
        raise bad_parameter("schedule", "give exactly one schedule (Schedule/<id>)")
    wanted = _id_of(schedules[0], "Schedule")
    group = next((g for g in visible_schedules(actor) if g.id == wanted), None)
    low, high, tests = _slot_window(search.criteria.get("start", []))
    statuses: set[str] | None = None
    for value in search.criteria.get("status", []):
        codes = {split_token(v)[1] for v in split_unescaped(value, ",")}
        statuses = codes if statuses is None else statuses & codes
    found: list[slots.Slot] = []
    if group is not None and low < high:
        zone = timezone.get_current_timezone()
        first, last = low.astimezone(zone).date(), high.astimezone(zone).date()
        calendar = scheduling_calendar(group.clinic.pk, first, last, group.provider.pk)
        now = clock.now()
        for offset in range((last - first).days + 1):
            day = first + dt.timedelta(days=offset)
            found += slots.day_slots(
                sessions=calendar.sessions(group.provider.pk, day, None),
                blocks=calendar.blocks_of(group.provider.pk, day),
                bookings=calendar.bookings_of(group.provider.pk, day),
                not_before=now,
            )
        found = [
            s
            for s in found
            if low <= s.start < high
            and all(test(s.start) for test in tests)
            and (statuses is None or s.status in statuses)
        ]
    page = found[search.offset : search.offset + search.count]
    record(
        actor,
        Action.SEARCH,
        "Slot.search",
        clinic_id=group.clinic.pk if group else None,
        description=f"FHIR Slot search: {search.describe()}"[:500],
        entity_id=str(len(found)),
    )
    resources = [schedule_mapper.slot_to_fhir(wanted, s) for s in page]
    return searchset(request, "Slot", resources, len(found), search)


_search_routes("Slot", "slot", "Search a schedule's slots", SLOT_PARAMS, _search_slots)


# Observation and QuestionnaireResponse ---------------------------------------------------------


def _search_observations(request: HttpRequest, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    actor = _may_search(request, "Observation", Permission.VIEW_PATIENT, "patients")
    search = parse_search(
        pairs, OBSERVATION_PARAMS, resource_type="Observation", lenient=_lenient(request)
    )
    # Four tables, one list, latest first: each is counted, and read up to the end of the page
    # in the same order, and the four are merged here (two queries a table, one more for the
    # recorders' titles of screenings and of vital signs, and for the specimens of lab results:
    # the same for any page).
    from medassist.fhir.lab_api import lab_observation_source  # lab_api builds on this module

    zone = timezone.get_current_timezone()
    sources: list[tuple[Any, Callable[[Any], dt.datetime], Callable[[Any], dict[str, Any]]]] = [
        (
            visible_smoking_statuses(actor)
            .filter(all_of(search, SMOKING_CONDITIONS))
            .order_by("-effective_date", "-id"),
            lambda s: dt.datetime.combine(s.effective_date, dt.time.min, tzinfo=zone),
            observation_mapper.smoking_status_to_fhir,
        ),
        (
            visible_screenings(actor)
            .filter(all_of(search, SCREENING_CONDITIONS))
            .order_by("-at", "-id"),
            lambda s: s.at,
            observation_mapper.screening_to_fhir,
        ),
        (
            visible_vital_signs(actor)
            .filter(all_of(search, VITAL_SIGN_CONDITIONS))
            .order_by("-effective", "-id"),
            lambda s: s.effective,
            vital_sign_mapper.to_fhir,
        ),
        lab_observation_source(actor, search),
    ]
    end = search.offset + search.count
    total = 0
    rows: list[tuple[dt.datetime, Any, Callable[[Any], dict[str, Any]]]] = []
    for queryset, when, to_fhir in sources:
        total += queryset.count()
        if search.count:
            rows += [(when(row), row, to_fhir) for row in queryset[:end]]
    rows.sort(key=lambda row: row[0], reverse=True)
    page = rows[search.offset : end]
    _record_search(actor, "Observation", search, [row for _, row, _ in page], total)
    resources = [to_fhir(row) for _, row, to_fhir in page]
    return searchset(request, "Observation", resources, total, search)


_search_routes(
    "Observation",
    "observation",
    "Search smoking status, screening results, vital signs and lab results",
    OBSERVATION_PARAMS,
    _search_observations,
)


def _screening(request: HttpRequest, id: str, audit_as: str) -> Any:
    check_format(request.GET.get("_format", ""))
    parsed = observation_mapper.parse_screening_id(id)
    if parsed is None:
        raise Http404
    visit, instrument = parsed
    actor = request.actor  # type: ignore[attr-defined]
    matching = visible_screenings(actor).filter(encounter__public_id=visit, instrument=instrument)
    return get_patient_record(actor, matching, id, audit_as=audit_as)


@router.get(
    "/Observation/{id}",
    url_name="observation-read",
    summary="Read a vital sign, a smoking status, a screening result or a lab result",
    openapi_extra=_FHIR_ANSWERS,
)
def read_observation(request: HttpRequest, id: str) -> dict[str, Any]:
    from medassist.fhir.lab_api import is_lab_observation_id, read_lab_observation

    if is_lab_observation_id(id):  # a lab result's: "lab-" and the result's id
        return read_lab_observation(request, id)
    public_id = uuid_or_none(id) if len(id) == 36 else None
    if public_id is None:  # a screening's id: the visit's id and the instrument
        return observation_mapper.screening_to_fhir(_screening(request, id, "Observation"))
    check_format(request.GET.get("_format", ""))
    actor = request.actor  # type: ignore[attr-defined]
    vital = visible_vital_signs(actor).filter(public_id=public_id)
    if vital.exists():
        sign = get_patient_record(actor, vital, str(public_id), audit_as="Observation")
        return vital_sign_mapper.to_fhir(sign)
    matching = visible_smoking_statuses(actor).filter(public_id=public_id)
    found = get_patient_record(actor, matching, str(public_id), audit_as="Observation")
    return observation_mapper.smoking_status_to_fhir(found)


# Create: vital-sign Observations, alone or in a batch or transaction Bundle -----------------

_CREATE_ANSWERS = {
    "requestBody": {
        "required": True,
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    },
    "responses": {
        status: {
            "description": description,
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
        for status, description in {
            200: "A batch-response or transaction-response Bundle",
            201: "The Observation as recorded (Location: its URL)",
            400: "OperationOutcome: the body is not JSON",
            401: "OperationOutcome: no valid bearer token",
            403: "OperationOutcome: the user's role may not record vital signs",
            415: "OperationOutcome: the body is not FHIR JSON",
            422: "OperationOutcome: not valid, or not what this server records; names the element",
        }.items()
    },
}


def _may_record(actor: Any, what: str) -> None:
    if not can(actor, Permission.RECORD_VITALS):
        record(
            actor,
            Action.CREATE,
            what,
            outcome=Outcome.DENIED,
            description=f"FHIR {what} create: the user's roles do not allow it",
        )
        raise FhirError(403, "Your role may not record vital signs.")


def _refused(actor: Any, entity_id: str, description: str) -> None:
    record(
        actor,
        Action.CREATE,
        "Observation",
        entity_id=entity_id[:64],
        outcome=Outcome.DENIED,
        description=description,
    )


def _record_observation(actor: Any, resource: dict[str, Any]) -> VitalSign:
    """One vital-sign Observation, already valid FHIR, recorded by record_vitals(): the same
    plausibility checks, interpretation and critical-value alerts as the rooming form. Values
    that would need the MA's confirmation are accepted (the sign's note says so)."""
    posted: Posted = parse_observation(resource)
    patient_pk = uuid_or_none(posted.patient_id)
    patient = visible_patients(actor).filter(public_id=patient_pk).first() if patient_pk else None
    if patient is None:  # the same answer for a patient who does not exist and one out of reach
        _refused(actor, posted.patient_id, "subject not found or outside the user's clinics")
        raise FhirError(
            422,
            f"Observation.subject: unknown patient Patient/{posted.patient_id}",
            expression=["Observation.subject"],
        )
    encounter = None
    if posted.encounter_id is not None:
        visit_pk = uuid_or_none(posted.encounter_id)
        encounter = (
            visible_encounters(actor).filter(public_id=visit_pk, patient=patient).first()
            if visit_pk
            else None
        )
        if encounter is None:
            _refused(actor, posted.encounter_id, "encounter not found or not the patient's")
            raise FhirError(
                422,
                f"Observation.encounter: unknown visit Encounter/{posted.encounter_id} "
                "(of this patient)",
                expression=["Observation.encounter"],
            )
    if posted.identifier and (
        existing := VitalSign.objects.filter(
            patient=patient, source_identifier=posted.identifier
        ).first()
    ):
        existing.replayed = True  # type: ignore[attr-defined]
        return existing  # the same observation sent again: answered, not stored twice
    entry = posted.entry
    if posted.provenance:
        entry = dataclasses.replace(entry, details={posted.measure: {"fhir": posted.provenance}})
    try:
        outcome = record_vitals(
            actor=actor,
            patient=patient,
            entry=entry,
            encounter=encounter,
            accept_improbable=True,
            channel="fhir",
        )
    except IntegrityError:  # the same identifier, sent twice at once: the other one won
        existing = VitalSign.objects.get(patient=patient, source_identifier=posted.identifier)
        existing.replayed = True  # type: ignore[attr-defined]
        return existing
    except ValidationError as exc:
        messages = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        raise refusal(messages, posted) from None
    return next(
        s for s in outcome.signs if s.measure == posted.measure and not s.details.get("computed")
    )


def _recorded(actor: Any, sign: VitalSign) -> dict[str, Any]:
    """The created Observation as read back, from the row just written (its patient and visit
    are the ones the actor was allowed to record for): one query for the recorder's titles
    instead of reading the row again through the scoped queryset."""
    if getattr(sign, "replayed", False):
        return vital_sign_mapper.to_fhir(visible_vital_signs(actor).get(pk=sign.pk))
    sign.by = actor.user
    # As the database gives them back (UTC), so the answer equals a later read.
    for name in ("effective", "created_at", "updated_at"):
        setattr(sign, name, getattr(sign, name).astimezone(dt.UTC))
    prefetch_related_objects(
        [sign.by], Prefetch("memberships", queryset=Membership.objects.filter(active=True))
    )
    return vital_sign_mapper.to_fhir(sign)


def _fhir_response(request: HttpRequest, data: dict[str, Any], status: int) -> HttpResponse:
    from medassist.fhir.api import api  # the API is built from this router: imported late

    return api.create_response(request, data, status=status)


@router.post(
    "/Observation",
    url_name="observation-create",
    summary="Record a vital sign (a US Core vital-sign Observation)",
    openapi_extra=_CREATE_ANSWERS,
)
def create_observation(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    _may_record(actor, "Observation")
    resource = read_json(request)
    validate(resource, "Observation")
    with transaction.atomic():
        sign = _record_observation(actor, resource)
    created = _recorded(actor, sign)
    response = _fhir_response(request, created, 200 if getattr(sign, "replayed", False) else 201)
    response["Location"] = f"{base_url(request)}Observation/{created['id']}"
    return response


_SUPPORTED_ENTRY = (
    "this server accepts only a batch or transaction Bundle whose entries each POST a "
    "vital-sign Observation (request.method POST, request.url Observation)"
)


def _entry_problem(i: int, entry: Any, base: str) -> FhirError | None:
    path = f"Bundle.entry[{i}]"
    request = entry.get("request") if isinstance(entry, dict) else None
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(request, dict):
        return FhirError(422, f"{path}.request: missing; {_SUPPORTED_ENTRY}", expression=[path])
    method, url = request.get("method"), str(request.get("url") or "")
    target = url.removeprefix(base).split("?")[0].strip("/")
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if method != "POST" or target != "Observation" or kind != "Observation":
        return FhirError(
            422,
            f"{path}: {method} {shown(url)} ({kind or 'no resource'}) is not supported: "
            f"{_SUPPORTED_ENTRY}",
            code="not-supported",
            expression=[f"{path}.request"],
        )
    if request.get("ifNoneExist"):
        return FhirError(
            422,
            f"{path}.request.ifNoneExist: conditional create is not supported",
            code="not-supported",
            expression=[f"{path}.request.ifNoneExist"],
        )
    return None


def _answer(base: str, sign_fhir: dict[str, Any], replayed: bool = False) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}Observation/{sign_fhir['id']}",
        "resource": sign_fhir,
        "response": {
            "status": "200 OK" if replayed else "201 Created",
            "location": f"Observation/{sign_fhir['id']}",
            "lastModified": sign_fhir["meta"]["lastUpdated"],
        },
    }


@router.post(
    "/",
    url_name="bundle",
    summary="A batch or transaction of vital-sign Observations",
    openapi_extra=_CREATE_ANSWERS,
)
def post_bundle(request: HttpRequest) -> HttpResponse:
    """R4 http.html#transaction: a transaction is all or nothing (one database transaction; the
    first entry refused names itself and nothing is kept); a batch answers each entry on its own.
    Only vital-sign Observation POSTs are accepted, and a Bundle holding anything else is refused
    whole, naming the entry."""
    actor = request.actor  # type: ignore[attr-defined]
    _may_record(actor, "Bundle")
    data = read_json(request)
    validate(data, "Bundle")
    kind = data.get("type")
    if kind not in ("batch", "transaction"):
        raise FhirError(
            422,
            f"Bundle.type: {shown(str(kind))} is not supported; {_SUPPORTED_ENTRY}",
            code="not-supported",
            expression=["Bundle.type"],
        )
    base = base_url(request)
    entries = data.get("entry") or []
    for i, entry in enumerate(entries):
        if (problem := _entry_problem(i, entry, base)) is not None:
            raise problem
    answers: list[dict[str, Any]] = []
    if kind == "transaction":
        with transaction.atomic():
            signs = []
            for i, entry in enumerate(entries):
                try:
                    signs.append(_record_observation(actor, entry["resource"]))
                except FhirError as exc:
                    raise _with_prefix(exc, f"Bundle.entry[{i}].resource") from None
                except PermissionDenied as exc:
                    raise FhirError(
                        403, f"Bundle.entry[{i}]: {exc}", expression=[f"Bundle.entry[{i}]"]
                    ) from None
        answers = [
            _answer(base, _recorded(actor, sign), getattr(sign, "replayed", False))
            for sign in signs
        ]
    else:
        for i, entry in enumerate(entries):
            try:
                with transaction.atomic():
                    sign = _record_observation(actor, entry["resource"])
                answers.append(
                    _answer(base, _recorded(actor, sign), getattr(sign, "replayed", False))
                )
            except (FhirError, PermissionDenied) as exc:
                error = (
                    exc
                    if isinstance(exc, FhirError)
                    else FhirError(403, str(exc) or "Your role does not allow this.")
                )
                error = _with_prefix(error, f"Bundle.entry[{i}].resource")
                answers.append(
                    {"response": {"status": str(error.status), "outcome": error.outcome()}}
                )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": f"{kind}-response"}
    if answers:
        bundle["entry"] = answers
    return _fhir_response(request, bundle, 200)


def _search_questionnaire_responses(
    request: HttpRequest, pairs: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    actor = _may_search(request, "QuestionnaireResponse", Permission.VIEW_PATIENT, "patients")
    search = parse_search(
        pairs,
        QUESTIONNAIRE_RESPONSE_PARAMS,
        resource_type="QuestionnaireResponse",
        lenient=_lenient(request),
    )
    rows = (
        visible_screenings(actor)
        .filter(all_of(search, QUESTIONNAIRE_RESPONSE_CONDITIONS))
        .order_by("-at", "-id")
    )
    total = rows.count()
    page = list(rows[search.offset : search.offset + search.count]) if search.count else []
    _record_search(actor, "QuestionnaireResponse", search, page, total)
    resources = [observation_mapper.questionnaire_response_to_fhir(s) for s in page]
    return searchset(request, "QuestionnaireResponse", resources, total, search)


_search_routes(
    "QuestionnaireResponse",
    "questionnaireresponse",
    "Search screening answers",
    QUESTIONNAIRE_RESPONSE_PARAMS,
    _search_questionnaire_responses,
)


@router.get(
    "/QuestionnaireResponse/{id}",
    url_name="questionnaireresponse-read",
    summary="Read the answers of one screening",
    openapi_extra=_FHIR_ANSWERS,
)
def read_questionnaire_response(request: HttpRequest, id: str) -> dict[str, Any]:
    found = _screening(request, id, "QuestionnaireResponse")
    return observation_mapper.questionnaire_response_to_fhir(found)


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
_refuse_other_methods("/Observation", ["GET", "POST"])


def _no_such_interaction(request: HttpRequest) -> None:
    raise FhirError(404, "Unknown resource type or interaction; see metadata for what is served.")


# The base itself: only POST (a Bundle); otherwise the 404 any unknown URL gets.
router.api_operation([m for m in _METHODS if m != "POST"], "/", auth=None, include_in_schema=False)(
    _no_such_interaction
)
_refuse_other_methods("/Patient", ["GET"])
_refuse_other_methods("/Patient/_search", ["POST"])
_refuse_other_methods("/Patient/{id}", ["GET"], with_id=True)
_refuse_other_methods("/AuditEvent", ["GET"])
_refuse_other_methods("/AuditEvent/_search", ["POST"])
_refuse_other_methods("/Practitioner/{id}", ["GET"], with_id=True)
_refuse_other_methods("/Schedule", ["GET"])
_refuse_other_methods("/Schedule/_search", ["POST"])
_refuse_other_methods("/Schedule/{id}", ["GET"], with_id=True)
_refuse_other_methods("/Slot", ["GET"])
_refuse_other_methods("/Slot/_search", ["POST"])
for _name in ("Observation", "QuestionnaireResponse"):
    if _name != "Observation":
        _refuse_other_methods(f"/{_name}", ["GET"])
    _refuse_other_methods(f"/{_name}/_search", ["POST"])
    _refuse_other_methods(f"/{_name}/{{id}}", ["GET"], with_id=True)
for _name in KINDS:
    _refuse_other_methods(f"/{_name}", ["GET"])
    _refuse_other_methods(f"/{_name}/_search", ["POST"])
    _refuse_other_methods(f"/{_name}/{{id}}", ["GET"], with_id=True)
