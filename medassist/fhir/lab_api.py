"""Lab orders, specimens, reports and results over FHIR: ServiceRequest, Specimen and
DiagnosticReport read and search (each read and search audited, a constant number of queries a
page), and the lab results as Observations, which the Observation read and search of views.py
serve beside the vital signs (lab_observation_source(), read_lab_observation()). Imported by
api.py, before the router joins the API.

Who sees what (issue 6: "the MA never sees a normal/abnormal call presented as theirs"):
- orders and specimens: the clinics where the user may see lab orders (VIEW_LAB_ORDERS) or
  order labs (ORDER_LABS);
- a report and its results: before the provider released it (LabReport.released_at), only
  users who review results at its clinic (REVIEW_LAB_RESULTS); once released, also those who
  see lab orders there. Anyone else gets the 404 of a record that does not exist, and the
  record is absent from their searches.
No emergency ("break the glass") grant reaches lab records: it opens the chart only
(access.policies.EMERGENCY_GRANTS), as for immunizations."""

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import DateTimeField, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest

from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.access.policies import can, clinic_of
from medassist.audit.models import Action, Outcome
from medassist.audit.services import out_of_reach, record
from medassist.clinics.models import Membership
from medassist.fhir.mappers import lab as lab_mapper
from medassist.fhir.mappers.common import LOINC, SNOMED
from medassist.fhir.mappers.observation import OBSERVATION_CATEGORY
from medassist.fhir.outcome import FhirError
from medassist.fhir.resources import EVERYTHING, Kind, reference_to, token_set
from medassist.fhir.search import (
    NOTHING,
    Search,
    SearchParam,
    all_of,
    check_format,
    date_param,
    parse_search,
    split_token,
    uuid_or_none,
)
from medassist.fhir.views import (
    _FHIR_ANSWERS,
    _lenient,
    _record_search,
    _refuse_other_methods,
    _search_routes,
    router,
    searchset,
)
from medassist.labs.models import LabOrder, LabReport, LabResult, Specimen

_SP = "http://hl7.org/fhir/SearchParameter/"
_US_CORE_SP = "http://hl7.org/fhir/us/core/SearchParameter/"

# Scoping ------------------------------------------------------------------------------------


def _clinics(actor: Actor, *perms: Permission) -> set[int]:
    if not actor.user.is_authenticated:
        return set()
    return {clinic for perm in perms for clinic in actor.clinics_with(perm)}


def _order_clinics(actor: Actor) -> set[int]:
    return _clinics(actor, Permission.VIEW_LAB_ORDERS, Permission.ORDER_LABS)


def report_visibility(actor: Actor, prefix: str = "") -> Q:
    """Which reports the actor may see (the visibility rule above), as a condition on LabReport
    (or, with prefix "report__", on what points to one)."""
    reviewers = _clinics(actor, Permission.REVIEW_LAB_RESULTS)
    viewers = _clinics(actor, Permission.VIEW_LAB_ORDERS)
    return Q(**{f"{prefix}clinic_id__in": reviewers}) | Q(
        **{f"{prefix}clinic_id__in": viewers, f"{prefix}released_at__isnull": False}
    )


def _active_memberships(name: str) -> Prefetch:
    return Prefetch(f"{name}__memberships", queryset=Membership.objects.filter(active=True))


def visible_lab_orders(actor: Actor) -> QuerySet[LabOrder]:
    """The lab orders (ServiceRequest) of the clinics where the actor sees or places lab
    orders, with what the mapper reads."""
    return (
        LabOrder.objects.filter(clinic_id__in=_order_clinics(actor))
        .select_related(
            "patient",
            "test",
            "requisition",
            "requisition__lab",
            "requisition__encounter",
            "requisition__ordered_by",
        )
        .prefetch_related("specimens", _active_memberships("requisition__ordered_by"))
    )


def visible_specimens(actor: Actor) -> QuerySet[Specimen]:
    return (
        Specimen.objects.filter(clinic_id__in=_order_clinics(actor))
        .select_related("patient", "collected_by")
        .prefetch_related("orders", "custody", _active_memberships("collected_by"))
    )


def visible_lab_reports(actor: Actor) -> QuerySet[LabReport]:
    if not actor.user.is_authenticated:
        return LabReport.objects.none()
    return (
        LabReport.objects.filter(report_visibility(actor))
        .select_related(
            "patient",
            "encounter",
            "order",
            # a point-of-care report's run: who ran it (the mapper's performer)
            "poct_run",
            "poct_run__operator",
        )
        .prefetch_related("results", "order__specimens", _active_memberships("poct_run__operator"))
    )


def visible_lab_results(actor: Actor) -> QuerySet[LabResult]:
    """The results (lab Observations) of the reports the actor may see, each with its sort key
    `lab_sort` (when observed, else collected, else issued) and `lab_effective` (the time the
    Observation shows: when observed, else collected)."""
    if not actor.user.is_authenticated:
        return LabResult.objects.none()
    return (
        LabResult.objects.filter(report_visibility(actor, "report__"))
        .annotate(
            lab_effective=Coalesce(
                "observed_at", "report__collected_at", output_field=DateTimeField()
            ),
            lab_sort=Coalesce(
                "observed_at",
                "report__collected_at",
                "report__issued_at",
                output_field=DateTimeField(),
            ),
        )
        .select_related(
            "patient",
            "report",
            "report__patient",
            "report__encounter",
            "report__order",
            # a point-of-care result's run: its operator (performer), test and kit lot (device)
            "report__poct_run",
            "report__poct_run__operator",
            "report__poct_run__test",
            "report__poct_run__kit_lot",
        )
        .prefetch_related(
            "report__order__specimens", _active_memberships("report__poct_run__operator")
        )
    )


# Conditions ---------------------------------------------------------------------------------


def _id(value: str) -> Q:
    public_id = uuid_or_none(value)
    return Q(public_id=public_id) if public_id else NOTHING


def _loinc(column: str) -> Callable[[str], Q]:
    def condition(value: str) -> Q:
        system, code = split_token(value)
        if system not in (None, LOINC) or not code:
            return NOTHING
        return Q(**{column: code})

    return condition


def _in_system(system_expected: str, column: str) -> Callable[[str], Q]:
    """A token whose code is the value of `column`, in our own identifier system."""

    def condition(value: str) -> Q:
        system, code = split_token(value)
        if system not in (None, system_expected):
            return NOTHING
        return Q(**{column: code}) if code else EVERYTHING

    return condition


def _order_identifier(value: str) -> Q:
    """identifier: the placer number (system PLACER_SYSTEM), or the lab's filler number (which
    has no system of ours: `|value`); a bare value finds either."""
    system, code = split_token(value)
    if system is None:
        return (Q(placer_number=code) | Q(filler_number=code)) if code else NOTHING
    if system == lab_mapper.PLACER_SYSTEM:
        return Q(placer_number=code) if code else EVERYTHING
    if system == "":
        return Q(filler_number=code) if code else NOTHING
    return NOTHING


def _by_values(column: str, values: Iterable[str]) -> dict[str, Q]:
    return {v: Q(**{column: v}) for v in values}


_NOT_AVAILABLE = (Specimen.Status.REJECTED, Specimen.Status.NOT_COLLECTED)


# ServiceRequest -------------------------------------------------------------------------------

SERVICE_REQUEST = Kind(
    name="ServiceRequest",
    noun="lab orders",
    permission=Permission.VIEW_LAB_ORDERS,
    params={
        p.name: p
        for p in (
            SearchParam("_id", "token", _SP + "Resource-id", "The order's id (a UUID)."),
            SearchParam(
                "patient",
                "reference",
                _US_CORE_SP + "us-core-servicerequest-patient",
                "The patient: Patient/<id> or <id>.",
            ),
            SearchParam(
                "status",
                "token",
                _US_CORE_SP + "us-core-servicerequest-status",
                "active | completed | revoked (cancelled) | entered-in-error.",
            ),
            SearchParam(
                "code",
                "token",
                _US_CORE_SP + "us-core-servicerequest-code",
                "The test's LOINC code: `code` or `http://loinc.org|code`.",
            ),
            SearchParam(
                "category",
                "token",
                _US_CORE_SP + "us-core-servicerequest-category",
                "108252007 (SNOMED CT Laboratory procedure): every order served.",
            ),
            SearchParam(
                "identifier",
                "token",
                _SP + "clinical-identifier",
                f"The placer order number (`{lab_mapper.PLACER_SYSTEM}|value`), the lab's "
                "filler number (`|value`), or either (`value`).",
            ),
            SearchParam(
                "requisition",
                "token",
                _SP + "ServiceRequest-requisition",
                f"The requisition number (`{lab_mapper.REQUISITION_SYSTEM}|value` or `value`): "
                "the tests ordered together.",
            ),
            SearchParam(
                "authored",
                "date",
                _US_CORE_SP + "us-core-servicerequest-authored",
                "When it was ordered, with a prefix eq ne gt ge lt le; give it twice for a range. "
                "A value without a zone is local.",
            ),
        )
    },
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "status": token_set(
            lab_mapper.REQUEST_STATUS, _by_values("status", LabOrder.Status.values)
        ),
        "code": _loinc("test__loinc"),
        "category": token_set(SNOMED, {lab_mapper.LABORATORY_PROCEDURE["code"]: EVERYTHING}),
        "identifier": _order_identifier,
        "requisition": _in_system(lab_mapper.REQUISITION_SYSTEM, "requisition__number"),
        "authored": date_param("requisition__ordered_at", "authored", with_time=True),
    },
    scoped=visible_lab_orders,
    order=("-requisition__ordered_at", "-id"),
    to_fhir=lab_mapper.service_request_to_fhir,
    profile=lab_mapper.US_CORE_SERVICE_REQUEST,
    documentation=(
        "Lab orders, one test each: the placer order number (identifier type PLAC, sent as "
        "ORC-2) and the lab's filler number (FILL) once known, the requisition (the tests "
        "ordered together), the test's LOINC code, the diagnoses (ICD-10-CM), priority, a "
        "timed draw's earliest time (occurrencePeriod.start) and the specimens collected. "
        "For users whose role may see or place lab orders."
    ),
)


# Specimen ------------------------------------------------------------------------------------

SPECIMEN = Kind(
    name="Specimen",
    noun="specimens",
    permission=Permission.VIEW_LAB_ORDERS,
    params={
        p.name: p
        for p in (
            SearchParam("_id", "token", _SP + "Resource-id", "The specimen's id (a UUID)."),
            SearchParam(
                "patient",
                "reference",
                _US_CORE_SP + "us-core-specimen-patient",
                "The patient: Patient/<id> or <id>.",
            ),
            SearchParam(
                "accession",
                "token",
                _SP + "Specimen-accession",
                f"The label's accession number: `value` or `{lab_mapper.ACCESSION_SYSTEM}|value`.",
            ),
            SearchParam(
                "status",
                "token",
                _SP + "Specimen-status",
                "available | unsatisfactory (rejected by the lab) | unavailable (not collected).",
            ),
        )
    },
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "accession": _in_system(lab_mapper.ACCESSION_SYSTEM, "accession"),
        "status": token_set(
            lab_mapper.SPECIMEN_STATUS,
            {
                "available": ~Q(status__in=_NOT_AVAILABLE),
                "unsatisfactory": Q(status=Specimen.Status.REJECTED),
                "unavailable": Q(status=Specimen.Status.NOT_COLLECTED),
            },
        ),
    },
    scoped=visible_specimens,
    order=("-created_at", "-id"),
    to_fhir=lab_mapper.specimen_to_fhir,
    profile=lab_mapper.US_CORE_SPECIMEN,
    documentation=(
        "Specimens collected here, one labelled container each: the accession number on the "
        "label, type (HL7 v2 table 0487), who collected it when and how, the container and "
        "its additive, processing (centrifuged, aliquoted, refrigerated, frozen) from the "
        "chain of custody, when the lab received it, and collection problems as notes. For "
        "users whose role may see or place lab orders."
    ),
)


# DiagnosticReport ----------------------------------------------------------------------------

DIAGNOSTIC_REPORT = Kind(
    name="DiagnosticReport",
    noun="lab results",
    permission=Permission.VIEW_LAB_ORDERS,
    params={
        p.name: p
        for p in (
            SearchParam("_id", "token", _SP + "Resource-id", "The report's id (a UUID)."),
            SearchParam(
                "patient",
                "reference",
                _US_CORE_SP + "us-core-diagnosticreport-patient",
                "The patient: Patient/<id> or <id>.",
            ),
            SearchParam(
                "category",
                "token",
                _US_CORE_SP + "us-core-diagnosticreport-category",
                "LAB (HL7 v2 table 0074): every report served.",
            ),
            SearchParam(
                "code",
                "token",
                _US_CORE_SP + "us-core-diagnosticreport-code",
                "The test's LOINC code: `code` or `http://loinc.org|code`.",
            ),
            SearchParam(
                "date",
                "date",
                _US_CORE_SP + "us-core-diagnosticreport-date",
                "When the specimen was collected (effectiveDateTime), with a prefix eq ne gt ge "
                "lt le; give it twice for a range. A value without a zone is local.",
            ),
            SearchParam(
                "status",
                "token",
                _US_CORE_SP + "us-core-diagnosticreport-status",
                "preliminary | final | corrected | cancelled.",
            ),
        )
    },
    conditions={
        "_id": _id,
        "patient": reference_to("Patient", "patient__public_id"),
        "category": token_set(lab_mapper.V2_0074, {"LAB": EVERYTHING}),
        "code": _loinc("loinc"),
        "date": date_param("collected_at", "date", with_time=True),
        "status": token_set(
            lab_mapper.DIAGNOSTIC_REPORT_STATUS, _by_values("status", LabReport.Status.values)
        ),
    },
    scoped=visible_lab_reports,
    order=("-issued_at", "-id"),
    to_fhir=lab_mapper.diagnostic_report_to_fhir,
    profile=lab_mapper.US_CORE_DIAGNOSTIC_REPORT_LAB,
    documentation=(
        "Lab reports, from the reference lab (HL7 v2 ORU^R01) or a point-of-care test run "
        "here, with their results (lab Observations). Until the provider has released a "
        "report, only users who review lab results at its clinic see it; once released, also "
        "those who see lab orders there."
    ),
)

LAB_KINDS = (SERVICE_REQUEST, SPECIMEN, DIAGNOSTIC_REPORT)

# Who may search each at all (else 403): the roles whose scope above can hold anything.
SEARCH_PERMISSIONS: Mapping[str, tuple[Permission, ...]] = {
    "ServiceRequest": (Permission.VIEW_LAB_ORDERS, Permission.ORDER_LABS),
    "Specimen": (Permission.VIEW_LAB_ORDERS, Permission.ORDER_LABS),
    "DiagnosticReport": (Permission.VIEW_LAB_ORDERS, Permission.REVIEW_LAB_RESULTS),
}


# Read and search ---------------------------------------------------------------------------


def _read_visible(
    request: HttpRequest,
    scoped: Callable[[Actor], QuerySet[Any]],
    public_id: uuid.UUID | None,
    audit_as: str,
    entity_id: str,
) -> Any:
    """The record in the actor's scope with that id, its read recorded; or the 404 of a
    missing one, the attempt recorded (an outsider cannot tell the two apart). A malformed id
    (None) names nothing: the same answer as a missing one."""
    if public_id is None:
        raise Http404
    actor = request.actor  # type: ignore[attr-defined]
    found = scoped(actor).filter(public_id=public_id).first()
    if found is None:
        raise out_of_reach(actor, audit_as, entity_id)
    record(
        actor,
        Action.READ,
        audit_as,
        patient=found.patient,
        clinic_id=clinic_of(found),  # an Observation has no clinic of its own: its patient's
        entity_id=entity_id,
    )
    return found


def _read(request: HttpRequest, kind: Kind, id: str) -> dict[str, Any]:
    check_format(request.GET.get("_format", ""))
    public_id = uuid_or_none(id)
    return kind.to_fhir(_read_visible(request, kind.scoped, public_id, kind.name, str(public_id)))


def _search(request: HttpRequest, kind: Kind, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    actor = request.actor  # type: ignore[attr-defined]
    if not any(can(actor, perm) for perm in SEARCH_PERMISSIONS[kind.name]):
        record(
            actor,
            Action.SEARCH,
            f"{kind.name}.search",
            outcome=Outcome.DENIED,
            description=f"FHIR {kind.name} search: the user's roles do not allow it",
        )
        raise FhirError(403, f"Your role may not see {kind.noun}.")
    search = parse_search(pairs, kind.params, resource_type=kind.name, lenient=_lenient(request))
    rows = kind.scoped(actor).filter(all_of(search, kind.conditions)).order_by(*kind.order)
    total = rows.count()
    page = list(rows[search.offset : search.offset + search.count]) if search.count else []
    _record_search(actor, kind.name, search, page, total)
    return searchset(request, kind.name, [kind.to_fhir(row) for row in page], total, search)


def _register(kind: Kind) -> None:
    name, slug = kind.name, kind.name.lower()

    def read(request: HttpRequest, id: str) -> dict[str, Any]:
        return _read(request, kind, id)

    _search_routes(
        name,
        slug,
        f"Search {kind.noun}",
        kind.params,
        lambda request, pairs: _search(request, kind, pairs),
    )
    router.get(
        f"/{name}/{{id}}",
        url_name=f"{slug}-read",
        operation_id=f"read_{slug}",
        summary=f"Read one of the {kind.noun}",
        openapi_extra=_FHIR_ANSWERS,
    )(read)
    _refuse_other_methods(f"/{name}", ["GET"])
    _refuse_other_methods(f"/{name}/_search", ["POST"])
    _refuse_other_methods(f"/{name}/{{id}}", ["GET"], with_id=True)


for _kind in LAB_KINDS:
    _register(_kind)


# Lab results as Observations (served by views.py's Observation read and search) -------------

LAB_OBSERVATION_CONDITIONS: dict[str, Callable[[str], Q]] = {
    "patient": reference_to("Patient", "patient__public_id"),
    "category": token_set(OBSERVATION_CATEGORY, {"laboratory": EVERYTHING}),
    "code": _loinc("loinc"),
    "date": date_param("lab_effective", "date", with_time=True),
    "encounter": reference_to("Encounter", "report__encounter__public_id"),
}

ObservationSource = tuple[
    QuerySet[LabResult], Callable[[Any], dt.datetime], Callable[[Any], dict[str, Any]]
]


def lab_observation_source(actor: Actor, search: Search) -> ObservationSource:
    """The lab results among the Observations a search finds, as views._search_observations()
    merges its sources: the queryset (scoped, filtered, latest first), each row's sort key, and
    the mapper."""
    rows = (
        visible_lab_results(actor)
        .filter(all_of(search, LAB_OBSERVATION_CONDITIONS))
        .order_by("-lab_sort", "-id")
    )
    return rows, lambda r: r.lab_sort, lab_mapper.lab_observation_to_fhir


def is_lab_observation_id(value: str) -> bool:
    return value.startswith(lab_mapper.LAB_OBSERVATION_PREFIX)


def read_lab_observation(request: HttpRequest, id: str) -> dict[str, Any]:
    """GET Observation/lab-<id>: one lab result, audited as every read is; the 404 of a missing
    one for a result out of the actor's reach (another clinic's, or not yet released)."""
    check_format(request.GET.get("_format", ""))
    public_id = lab_mapper.parse_lab_observation_id(id)
    found = _read_visible(request, visible_lab_results, public_id, "Observation", id)
    return lab_mapper.lab_observation_to_fhir(found)
